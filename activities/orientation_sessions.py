"""The OrientationSession workflow's activities: what it learns about a case (from the case's
own workflow), recording the session's read model, and recording each attendee's orientation
on their case (the fan-out).

A case is only ever reached through Temporal: its workflow's ``state`` query, and its
``complete_task`` Update (the same Update a caseworker's completion of the member's
``record_orientation`` task sends), never its rows.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.case_calls import case_state, heartbeating, settled, update_case
from activities.case_records import _REFUSED_VALUES
from domain.case import CaseState
from domain.records import CompleteTaskRequest
from domain.sessions.model import ORIENTATION_TASK, FanOutResult, MemberFacts, SessionCaseFacts
from domain.sessions.records import (
    RECORD_SESSION,
    SESSION_CASE_FACTS,
    SESSION_FAN_OUT,
    OrientationBatch,
    OrientationRequest,
    OrientationResults,
    RecordSessionRequest,
    SessionFactsList,
    SessionFactsRequest,
)
from domain.split_lineage import MAX_FOLLOWED, case_holding
from store import orientation_sessions as store


class OrientationSessionActivities:
    """Holds the Temporal client (to reach the cases' workflows) and the connection pool."""

    def __init__(self, client: Client, pool: asyncpg.Pool):
        self._client = client
        self._pool = pool

    def all(self) -> list[Any]:
        return [self.case_facts, self.record_session, self.record_orientations]

    async def _case_state(self, case_id: str) -> CaseState | None:
        return await case_state(self._client, case_id)

    @activity.defn(name=SESSION_CASE_FACTS)
    async def case_facts(self, request: SessionFactsRequest) -> SessionFactsList:
        """The cases as their workflows show them (their ``state`` queries, at once), and, from
        the sessions' own read model, who was absent before and who is on another session.

        Then the cases split off them (each case's ``split_into``, and theirs in turn), after
        those asked for: a person the session invited under a case a family split has left is
        found in the case that holds them now (``domain.sessions.decide._holders``).  Sessions
        decided before read only the cases they asked for."""
        states = await asyncio.gather(*[self._case_state(case_id) for case_id in request.case_ids])
        found: dict[str, CaseState | None] = dict(zip(request.case_ids, states, strict=True))
        frontier = [c for s in states if s is not None for c in s.split_into if c not in found]
        while frontier and len(found) < MAX_FOLLOWED + len(request.case_ids):
            frontier = list(dict.fromkeys(frontier))
            more = await asyncio.gather(*[self._case_state(case_id) for case_id in frontier])
            found.update(zip(frontier, more, strict=True))
            frontier = [c for s in more if s is not None for c in s.split_into if c not in found]
        split_off = [s for case_id, s in found.items() if case_id not in request.case_ids and s is not None]
        member_ids = [m.member_id for s in [*states, *split_off] if s is not None for m in s.members]
        async with self._pool.acquire() as conn:
            absent, other = await store.member_history(conn, member_ids, request.session_id)
        return SessionFactsList(facts=[facts_of(state, absent, other) if state is not None
                                       else SessionCaseFacts(case_id=case_id, found=False)
                                       for case_id, state in zip(request.case_ids, states, strict=True)]
                                + [facts_of(state, absent, other) for state in split_off])

    @activity.defn(name=RECORD_SESSION)
    async def record_session(self, request: RecordSessionRequest) -> bool:
        async with self._pool.acquire() as conn:
            try:
                return await store.record_session(conn, request.state)
            except asyncpg.UniqueViolationError as exc:
                raise ApplicationError("a participant is on another scheduled session", type="session_rules",
                                       non_retryable=True) from exc
            except _REFUSED_VALUES as exc:
                raise ApplicationError(f"PostgreSQL refused a value of this command ({type(exc).__name__}); "
                                       "nothing was recorded", type="unstorable_input", non_retryable=True) from exc

    @activity.defn(name=SESSION_FAN_OUT)
    async def record_orientations(self, batch: OrientationBatch) -> OrientationResults:
        """Every attendee of the batch at once, each by their case's own Update.  It heartbeats
        while it runs, so a worker that dies is noticed within the heartbeat time-out and the
        batch runs again elsewhere: the cases it had reached already show the orientation, or
        their Update (same id) answers with its first outcome.

        The cases at once, but one Update at a time per case (its members in turn): two
        Updates in flight on one case can share a workflow task in an order that a replay of
        its history does not reproduce (``case_calls.settled``)."""
        by_case: dict[str, list[int]] = {}
        for index, request in enumerate(batch.requests):
            by_case.setdefault(request.case_id, []).append(index)
        results: list[FanOutResult | None] = [None] * len(batch.requests)

        async def one_case(indexes: list[int]) -> None:
            for index in indexes:
                results[index] = await self.record_orientation(batch.requests[index])

        await heartbeating(lambda: asyncio.gather(*[one_case(indexes) for indexes in by_case.values()]))
        return OrientationResults(results=[r for r in results if r is not None])

    async def record_orientation(self, request: OrientationRequest) -> FanOutResult:
        """Complete the attendee's ``record_orientation`` task on their case, once.

        The Update goes with ``request.update_id`` (session and member only), the same for
        every attempt.  The task is the one the case showed when the attendance was recorded;
        unknown then, the case's state is asked first.  A refused Update is checked against the
        case's state: orientation already attended is reported as applied, not sent again."""
        request = with_session_in_audit(request)
        case_id, member_id = request.case_id, request.member_id
        await settled(self._client, case_id, request.update_id)  # an earlier attempt's, first (case_calls.settled)
        task_id = request.task_id
        if task_id is None:
            state = await self._case_state(case_id)
            if state is None:
                return FanOutResult(case_id=case_id, member_id=member_id, applied=False, reason="no such case")
            if state.member(member_id) is None and (moved := await self._holder(state, member_id)) is not None:
                return await self.record_orientation(_to(request, moved.case_id))
            if _attended(state, member_id):
                return FanOutResult(case_id=case_id, member_id=member_id, applied=True)
            task_id = _open_task(state, member_id)
            if task_id is None:
                return FanOutResult(case_id=case_id, member_id=member_id, applied=False,
                                    reason=f"the member has no open {ORIENTATION_TASK} task ({state.stage.value} "
                                           "stage); a caseworker records it on the case")
        body = CompleteTaskRequest(task_id=task_id, form={
            "session_date": request.session_date.isoformat(), "language": request.language,
            "notes": f"Orientation session {request.session_id} (facilitator {request.facilitator})"},
            actor=request.actor, audit=request.audit,
            group=f"orientation session {request.session_id}")  # a fact: a case on hold records it too
        try:
            await update_case(self._client, case_id, "complete_task", body, request.update_id)
        except WorkflowUpdateFailedError as exc:
            after = await self._case_state(case_id)
            if after is not None and _attended(after, member_id):
                return FanOutResult(case_id=case_id, member_id=member_id, applied=True)
            if after is not None and after.member(member_id) is None and (
                    moved := await self._holder(after, member_id)) is not None:
                return await self.record_orientation(_to(request, moved.case_id))
            cause = exc.cause
            return FanOutResult(case_id=case_id, member_id=member_id, applied=False,
                                reason=getattr(cause, "message", None) or str(cause or exc))
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise  # Temporal unavailable: the activity is retried
            return FanOutResult(case_id=case_id, member_id=member_id, applied=False,
                                reason="the case's workflow has finished (the case is closed)")
        return FanOutResult(case_id=case_id, member_id=member_id, applied=True)

    async def _holder(self, state: CaseState, member_id: str) -> CaseState | None:
        """The case split off ``state`` that holds ``member_id`` now: a family split after the
        invitation (or after the attendance was recorded) took the person to a case of their
        own, where their orientation belongs."""
        return await case_holding(state, member_id, self._case_state)


def with_session_in_audit(request: OrientationRequest) -> OrientationRequest:
    """The request whose audit stamp names its session: the workflow stamps the route's template
    (``POST /api/v1/orientation-sessions/{session_id}/attendance``), and each case's audit row
    then did not say which session.  Filled here, where the request carries the id, as the
    session's own answers name it in the case's trail (``... (OS-...)``) and as a movement's
    fan-out does (``activities.movements.with_movement_in_audit``); the workflow and what it
    decides are unchanged (its recorded histories replay as before)."""
    stamp = request.audit
    if stamp is None or request.session_id in stamp.action:
        return request
    return request.model_copy(update={"audit": stamp.model_copy(
        update={"action": f"{stamp.action} ({request.session_id})"})})


def _to(request: OrientationRequest, case_id: str) -> OrientationRequest:
    """The same attendee's orientation, for the case that holds them now (its task asked there;
    the same update id: each case applies it once)."""
    return request.model_copy(update={"case_id": case_id, "task_id": None})


def _attended(state: CaseState, member_id: str) -> bool:
    progress = state.progress.get(member_id)
    return progress is not None and progress.orientation == "attended"


def _open_task(state: CaseState, member_id: str) -> str | None:
    return next((t.task_id for t in state.open_tasks
                 if t.task_type == ORIENTATION_TASK and t.member_id == member_id), None)


def facts_of(state: CaseState, absent: set[str] | None = None, other: dict[str, str] | None = None) -> SessionCaseFacts:
    absent, other = absent or set(), other or {}
    return SessionCaseFacts(
        case_id=state.case_id, office=state.office, programme=str(state.programme), status=state.status,
        stage=state.stage, on_hold=state.held_at is not None, destination_country=state.destination_country,
        referred_at=state.referred_at if state.split_from is None else None,
        members=[MemberFacts(member_id=m.member_id, full_name=m.full_name, date_of_birth=m.date_of_birth,
                             orientation=state.progress[m.member_id].orientation,
                             task_id=_open_task(state, m.member_id), absent_before=m.member_id in absent,
                             other_session_id=other.get(m.member_id))
                 for m in state.members])
