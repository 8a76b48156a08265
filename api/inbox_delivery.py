"""Delivery of the integration inbox to the case workflows.

Runs in every API process, started by the app's lifespan: a loop that leases due
``pending`` messages (``store.inbox.claim_due``, ``FOR UPDATE SKIP LOCKED`` and a lease, so
several API processes share the work and a message leased by a process that died is taken
again once its lease expires) and sends each to its case's workflow as the Update an API
client's command would be (``CaseCommands.refer`` / ``complete_task``).  Intake wakes it at
once after committing a message, so a message is normally applied within moments.

Why here and not in a Temporal workflow: accepting a message must need PostgreSQL only
(202 while Temporal is down), and delivering it is exactly an API command, with the API's
read model look-ups (which task, which member) and its error mapping; a workflow per
message would need Temporal at intake, or a second queue in front of it.

Outcomes of one attempt:

* applied: the workflow accepted the command (or had already: the update id is derived
  from the message, so an attempt that died after the workflow answered is not applied twice);
* rejected: the workflow (or the look-up of its task) refused it: code, message, details;
* rejected ``key_revoked``: its key was revoked (or its rotation's overlap ended) before it
  was applied, e.g. while it was held: a revoked key's messages are never applied later;
* held: an early message, its task not open yet because the case has not reached the
  task's stage: looked at again whenever its case changes (and at least every
  ``ITINERA_INBOX_RETRY_MAX_SECONDS``), rejected ``no_matching_task`` after
  ``ITINERA_INBOX_HOLD_HOURS``;
* failed: the engine (Temporal, the worker) or PostgreSQL unavailable: pending, tried again
  with exponential backoff (0.5 s doubling up to ``ITINERA_INBOX_RETRY_MAX_SECONDS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from datetime import UTC, datetime
from typing import Any

import asyncpg
from temporalio.service import RPCError

from api import readmodel
from api.commands import CaseAlreadyClosed, CaseCommands
from api.errors import ApiError
from api.outages import DATABASE_OUTAGES
from domain.case import referral_fingerprint
from domain.model import Actor, ActorKind, CaseStatus, Referral
from domain.programmes.registry import definition_of
from domain.records import AuditStamp
from settings import Settings
from store import inbox as store
from store import integrations as keys

log = logging.getLogger("itinera.inbox")

INTAKE_ACTION = "POST /api/v1/integrations/messages"

# integration event type -> the task type it completes
TASK_FOR_EVENT: dict[str, str] = {
    "health_result": "assess_health",
    "fit_to_travel": "check_fit_to_travel",
    "visa_decision": "record_visa",
    "departure": "record_departure",
    "arrival_confirmation": "confirm_arrival",
}


class _Held(Exception):
    def __init__(self, reason: str, case_version: int) -> None:
        super().__init__(reason)
        self.reason, self.case_version = reason, case_version


class InboxDelivery:
    def __init__(self, pool: asyncpg.Pool, commands: CaseCommands, settings: Settings) -> None:
        self._pool, self._commands, self._settings = pool, commands, settings
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._purged_at = 0.0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="itinera-inbox-delivery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def kick(self) -> None:
        """A message was committed: look now rather than at the next poll."""
        self._wake.set()

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                busy = await self.deliver_due()
                await self._purge()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:  # PostgreSQL away, or anything else: keep going, back off
                failures += 1
                busy = False
                log.warning("inbox delivery loop failed (attempt %d); trying again", failures, exc_info=True)
            if busy:
                continue
            pause = self._settings.inbox_poll_seconds * min(2 ** failures, 30)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=pause)
            self._wake.clear()

    async def _purge(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._purged_at > 60:
            self._purged_at = now
            await store.purge_keys(self._pool, self._settings.idempotency_retention_hours)

    async def deliver_due(self, limit: int = 20) -> bool:
        """Deliver the messages due now; True when there may be more."""
        lease = self._settings.command_timeout_seconds + 5  # an attempt never outlives its command's time-out
        due = await store.claim_due(self._pool, limit=limit, lease_seconds=lease)
        for message in due:
            await self._deliver(message)
        return len(due) == limit

    def _backoff(self, attempts: int) -> float:
        return min(self._settings.inbox_retry_max_seconds, 0.5 * 2 ** max(attempts - 1, 0)) * random.uniform(0.8, 1.0)

    async def _deliver(self, message: store.InboxMessage) -> None:
        try:
            case_id, result = await self._apply(message)
        except _Held as held:
            hold = self._settings.inbox_hold_hours * 3600
            if message.held_until is not None and _past(message.held_until):
                await store.mark_rejected(self._pool, message.id, {
                    "code": "no_matching_task",
                    "message": f"held for {self._settings.inbox_hold_hours:g} h, but {held.reason}", "details": []})
                return
            await store.mark_held(self._pool, message.id, held.reason, held.case_version, hold,
                                  self._settings.inbox_retry_max_seconds)
        except ApiError as refused:
            if refused.status >= 500:
                await self._failed(message, {"code": refused.code, "message": refused.message})
            else:
                await store.mark_rejected(self._pool, message.id, {"code": refused.code, "message": refused.message,
                                                                   "details": refused.details,
                                                                   "status": refused.status})
        except (RPCError, OSError, asyncio.TimeoutError, *DATABASE_OUTAGES) as exc:
            await self._failed(message, {"code": "unavailable", "message": f"{type(exc).__name__}: {exc}"[:500]})
        except Exception as exc:  # a defect: keep the message, try again later, say so
            log.exception("inbox message %s failed", message.id)
            await self._failed(message, {"code": "delivery_failed", "message": f"{type(exc).__name__}: {exc}"[:500]})
        else:
            await store.mark_applied(self._pool, message.id, case_id, result)

    async def _failed(self, message: store.InboxMessage, failure: dict[str, Any]) -> None:
        try:
            await store.mark_failed(self._pool, message.id, failure, self._backoff(message.attempts))
        except DATABASE_OUTAGES:
            pass  # its lease expires; it is taken again then

    async def _apply(self, message: store.InboxMessage) -> tuple[str, dict[str, Any]]:
        async with self._pool.acquire() as conn:
            key = await keys.get_key(conn, message.key_id)
        if key is None:
            raise ApiError(403, "key_not_found", "the key that sent this message no longer exists")
        if key.revoked_at is not None and _past(key.revoked_at):
            # As authentication judges a key (store.integrations.verify_key): from the moment it was
            # revoked, or its rotation's overlap ended, nothing it sent is applied any more, a message
            # held or failing since before included (and again at a supervisor's retry).  Unless an
            # attempt before the revocation applied it already: that stays what happened.
            case_id = await self._applied_before(message, key.key_id)
            if case_id is not None:
                return case_id, await self._result(case_id)
            raise ApiError(403, "key_revoked",
                           f"the integration key {key.key_id} ({key.name}) that sent this message was revoked "
                           f"at {key.revoked_at.astimezone(UTC).isoformat(timespec='seconds')} (or its rotation's "
                           "overlap ended then) before the message was applied: a revoked key's messages are not "
                           "applied; the partner sends it again with its current key")
        actor = Actor(kind=ActorKind.INTEGRATION, id=key.key_id, role=f"integration:{key.name}",
                      offices=tuple(key.offices))
        stamp = AuditStamp(action=INTAKE_ACTION, status=202)  # what the partner was answered
        payload = message.payload
        if message.event_type == "referral":
            referral = Referral.model_validate(payload["referral"])
            try:
                outcome = await self._commands.refer(referral, actor, message.case_id, audit=stamp)
                case_id = outcome.case_id
            except CaseAlreadyClosed:  # its case has closed: the same referral, or a conflicting one
                case_id = message.case_id or self._commands.case_id_for(referral.external_referral_id)
                async with self._pool.acquire() as conn:
                    known = await readmodel.find_case_by_referral(conn, referral.external_referral_id)
                if known is not None and known.fingerprint != referral_fingerprint(referral):
                    raise ApiError(409, "referral_conflict",
                                   f"referral {referral.external_referral_id} already opened case {case_id} with "
                                   "different data") from None
            return case_id, await self._result(case_id)
        case_id = message.case_id
        assert case_id is not None  # intake found it
        if message.task_id is not None:  # an earlier attempt chose it, and may have been applied
            return case_id, await self._complete_again(message, case_id, message.task_id, actor, stamp)
        async with self._pool.acquire() as conn:
            case = await readmodel.get_case(conn, case_id)
            tasks = (await readmodel.list_tasks(conn, offices=[message.office or ""], case_id=case_id,
                                                limit=200)).items
        if case is None:
            raise ApiError(404, "case_not_found", f"case {case_id} does not exist")
        task_type = TASK_FOR_EVENT[message.event_type]
        member_id = payload.get("member_id")
        matching = [t for t in tasks if t.task_type == task_type and (member_id is None or t.member_id == member_id)]
        if len(matching) != 1:
            if case.status == CaseStatus.CLOSED:
                raise ApiError(409, "case_closed", f"case {case_id} is closed")
            definition = definition_of(case.programme or "resettlement")
            spec = definition.task_specs.get(task_type)
            if (not matching and spec is not None and spec.stage is not None and spec.stage in definition.stages
                    and case.stage in definition.stages
                    and definition.rank(case.stage) < definition.rank(spec.stage)):
                raise _Held(f"case {case_id} is in the {case.stage.value} stage; its {task_type} task opens in "
                            f"the {spec.stage.value} stage", case.version)
            raise ApiError(409, "no_matching_task",
                           f"case {case_id} has {len(matching)} open {task_type} tasks"
                           + ("" if member_id else "; name the member with member_id"))
        await store.set_task(self._pool, message.id, matching[0].task_id)
        await self._commands.complete_task(case_id, matching[0].task_id, payload.get("form") or {}, actor,
                                           audit=stamp)
        return case_id, await self._result(case_id)

    async def _applied_before(self, message: store.InboxMessage, key_id: str) -> str | None:
        """The case an earlier attempt (before the key was revoked) applied this message to, if one
        did: its task completed by the key, or its referral's case opened with the same data."""
        async with self._pool.acquire() as conn:
            if message.event_type == "referral":
                referral = Referral.model_validate(message.payload["referral"])
                known = await readmodel.find_case_by_referral(conn, referral.external_referral_id)
                if known is not None and known.fingerprint == referral_fingerprint(referral):
                    return known.case_id
                return None
            if message.task_id is None or message.case_id is None:
                return None
            task = await readmodel.get_task(conn, message.task_id)
        return message.case_id if task is not None and task.completed_by == key_id else None

    async def _complete_again(self, message: store.InboxMessage, case_id: str, task_id: str, actor: Actor,
                              stamp: AuditStamp) -> dict[str, Any]:
        """The same command as the earlier attempt (its update id is derived from it: Temporal
        answers with the first outcome); if the workflow no longer remembers it, a task this
        key completed is this message's doing."""
        try:
            await self._commands.complete_task(case_id, task_id, message.payload.get("form") or {}, actor,
                                               audit=stamp)
        except ApiError as refused:
            if refused.code != "task_not_open":
                raise
            async with self._pool.acquire() as conn:
                task = await readmodel.get_task(conn, task_id)
            if task is None or task.completed_by != actor.id:
                raise
        return await self._result(case_id)

    async def _result(self, case_id: str) -> dict[str, Any]:
        async with self._pool.acquire() as conn:
            case = await readmodel.get_case(conn, case_id)
        if case is None:
            return {"case_id": case_id}
        return {"case_id": case_id, "stage": case.stage.value, "status": case.status.value, "version": case.version}


def _past(moment: datetime) -> bool:
    return moment <= datetime.now(UTC)
