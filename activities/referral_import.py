"""The activities of a bulk referral import (``workflows/referral_import.py``).

A chunk activity refers each pending row of its item range through ``CaseCommands.refer``:
the case workflow's ``refer`` Update-with-start, exactly what ``POST /api/v1/cases`` sends,
with the uploader as actor and an audit stamp naming the import (the audit row goes in with
the case's events).  The case id was fixed at upload (the read model's case of a known
referral id, else the keyed id of ``api.case_ids``), so the worker needs no case-id key and a
retried row goes to the same workflow.

Outcomes: ``created``; ``already_referred`` (the workflow answered created=False for a
referral id known before the upload, or one another import or client referred meanwhile);
``invalid`` (the case's rules refused it: e.g. the id opened a case with other data);
``failed`` (the engine answered an error that is not the row's fault; the row can be
imported again).  A row that an earlier attempt of this import had sent, for a referral id
unknown at upload, counts as created when the workflow answers created=False: that
earlier attempt created it (a worker restart between sending and recording the result, or
a send not answered in time and sent again).

While Temporal is unreachable (503), a row is tried again with backoff inside the activity,
then the activity fails and Temporal retries it: no row is ever decided "failed" by an outage.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import asyncpg
from temporalio import activity

from api.commands import CaseAlreadyClosed, CaseCommands
from api.errors import ApiError
from domain.case import referral_fingerprint
from domain.model import Actor, Referral
from domain.records import AuditStamp
from store import referral_imports as store
from store.destination_profiles import DestinationServicesSource
from workflows.referral_import import (
    CHUNK_ACTIVITY,
    FINISH_ACTIVITY,
    START_ACTIVITY,
    ChunkInput,
    ChunkResult,
    ImportSummary,
)

IMPORT_ACTION = "POST /api/v1/imports"
FLUSH_EVERY = 20


class ReferralImportActivities:
    """Holds the connection pool; ``worker.py`` registers the bound methods."""

    def __init__(self, pool: asyncpg.Pool):
        self._pool = pool

    def activities(self) -> list[Any]:
        return [self.start, self.chunk, self.finish]

    @activity.defn(name=START_ACTIVITY)
    async def start(self, import_id: str) -> None:
        async with self._pool.acquire() as conn:
            await store.mark_started(conn, import_id)

    @activity.defn(name=FINISH_ACTIVITY)
    async def finish(self, import_id: str) -> ImportSummary:
        async with self._pool.acquire() as conn:
            await store.mark_completed(conn, import_id)
            return ImportSummary(import_id=import_id, counts=await store.counts(conn, import_id))

    @activity.defn(name=CHUNK_ACTIVITY)
    async def chunk(self, inp: ChunkInput) -> ChunkResult:
        async with self._pool.acquire() as conn:
            job = await store.get_import(conn, inp.import_id)
            if job is None:
                return ChunkResult()
            pending = await store.take_pending(conn, inp.import_id, inp.first_item, inp.last_item)
        terms = json.loads(job["terms"]) if isinstance(job["terms"], str) else job["terms"]
        actor_data = json.loads(job["actor"]) if isinstance(job["actor"], str) else job["actor"]
        commands = CaseCommands(activity.client(), activity.info().task_queue,
                                # No HTTP client waits here: a longer wait spares re-sending under load.
                                timeout=timedelta(seconds=max(60, terms.get("timeout_seconds", 15))),
                                arrival_confirmation_days=terms["arrival_confirmation_days"],
                                avrr_monitoring_months=tuple(terms["monitoring_months"]),
                                office_time_zones=terms["office_time_zones"],
                                default_time_zone=terms["default_time_zone"],
                                # an import started before the setting: the default's
                                exit_permissions=terms.get("exit_permissions"),
                                office_countries=terms.get("office_countries"),
                                services_for=DestinationServicesSource(self._pool))
        actor = Actor.model_validate(actor_data)
        audit = AuditStamp(action=IMPORT_ACTION, status=201, source_ip=job["source_ip"])
        result = ChunkResult()
        done: list[tuple[int, str, list[dict[str, Any]]]] = []
        gate = asyncio.Semaphore(max(1, inp.concurrency))
        flush_lock = asyncio.Lock()

        async def flush() -> None:
            async with flush_lock:
                if not done:
                    return
                batch = done[:]
                del done[:]
                async with self._pool.acquire() as conn:
                    await store.record_results(conn, inp.import_id, batch)

        async def one(row: asyncpg.Record) -> None:
            async with gate:
                outcome, errors = await self._refer(commands, row, actor, audit)
            setattr(result, outcome, getattr(result, outcome) + 1)
            done.append((row["item"], outcome, errors))
            activity.heartbeat(row["item"])
            if len(done) >= FLUSH_EVERY:
                await flush()

        try:
            await asyncio.gather(*(one(row) for row in pending))
        finally:
            await flush()  # what was decided stays decided, also when the activity fails
        return result

    async def _refer(self, commands: CaseCommands, row: asyncpg.Record, actor: Actor,
                     audit: AuditStamp) -> tuple[str, list[dict[str, Any]]]:
        raw = row["referral"]
        referral = Referral.model_validate(json.loads(raw) if isinstance(raw, str) else raw)
        delay = 0.5
        sent_before = row["attempts"] > 0  # an earlier attempt of this import may have applied it
        for attempt in range(8):
            try:
                outcome = await commands.refer(referral, actor, row["case_id"], audit=audit)
            except CaseAlreadyClosed:
                # The case exists and its workflow has finished: the read model tells whether it
                # was this referral.
                async with self._pool.acquire() as conn:
                    known = await conn.fetchval("SELECT referral_fingerprint FROM cases WHERE case_id = $1",
                                                row["case_id"])
                if known is not None and known != referral_fingerprint(referral):
                    return "invalid", [_conflict(row)]
                return "already_referred", []
            except ApiError as exc:
                if exc.status == 503:
                    sent_before = True  # not answered in time: it may still be applied, once
                    activity.heartbeat(row["item"])
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10)
                    continue
                if exc.code == "referral_conflict":
                    return "invalid", [_conflict(row)]
                details = [{"field": d.get("field", "referral"), "reason": d.get("reason", exc.message),
                            **({"allowed": d["allowed"]} if d.get("allowed") is not None else {})}
                           for d in (exc.details or []) if isinstance(d, dict)]
                reason = [{"field": "referral", "reason": f"{exc.code}: {exc.message}"}]
                return ("invalid" if exc.status in (409, 422) else "failed"), details or reason
            if outcome.created or (sent_before and not row["known_before"]):
                return "created", []
            return "already_referred", []
        # Still unavailable: let Temporal retry the activity (rows decided so far are kept).
        raise RuntimeError(f"the case engine stayed unavailable while referring item {row['item']}")


def _conflict(row: asyncpg.Record) -> dict[str, Any]:
    return {"field": "external_referral_id",
            "reason": f"already opened case {row['case_id']} with different data; correct the case instead"}
