"""The Movement workflow's activities: what it learns about a case (from the case's own
workflow), recording the movement's read model, and the per-case fan-out.

A case is only ever reached through Temporal: its workflow's ``state`` query, and its
``complete_task`` Update (the same Update a person's task completion sends), never its rows.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any

import asyncpg
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.case_calls import case_state, heartbeating, settled, update_case
from activities.case_records import _REFUSED_VALUES
from domain.case import CancelBooking, CaseState
from domain.engine.flow import skipped
from domain.model import CaseStatus, Stage
from domain.programmes.registry import profile_of
from domain.movements.model import CaseFacts, FanOutResult, MemberFacts
from domain.movements.records import (
    CASE_FACTS,
    FAN_OUT,
    RECORD_MOVEMENT,
    CaseFactsList,
    CaseFactsRequest,
    FanOutBatch,
    FanOutRequest,
    FanOutResults,
    RecordMovementRequest,
    fan_out_update_id,
)
from domain.movements.rules import BOOKING_TASK, DEPARTURE_TASK
from domain.records import CaseActionRequest, CompleteTaskRequest
from store import movements as store

ARRIVAL_TASK = "confirm_arrival"


class MovementActivities:
    """Holds the Temporal client (to reach the cases' workflows) and the connection pool."""

    def __init__(self, client: Client, pool: asyncpg.Pool):
        self._client = client
        self._pool = pool

    def all(self) -> list[Any]:
        return [self.case_facts, self.record_movement, self.fan_out_to_cases]

    async def _case_state(self, case_id: str) -> CaseState | None:
        return await case_state(self._client, case_id)

    @activity.defn(name=CASE_FACTS)
    async def case_facts(self, request: CaseFactsRequest) -> CaseFactsList:
        """The cases as their workflows show them (their ``state`` queries, at once), and
        which other open movement holds each (the movements' own read model)."""
        states = await asyncio.gather(*[self._case_state(case_id) for case_id in request.case_ids])
        async with self._pool.acquire() as conn:
            others = await store.other_open_movements(conn, request.case_ids, request.movement_id)
        return CaseFactsList(facts=[facts_of(state, others.get(case_id)) if state is not None
                                    else CaseFacts(case_id=case_id, found=False)
                                    for case_id, state in zip(request.case_ids, states, strict=True)])

    @activity.defn(name=RECORD_MOVEMENT)
    async def record_movement(self, request: RecordMovementRequest) -> bool:
        async with self._pool.acquire() as conn:
            try:
                return await store.record_movement(conn, request.state)
            except asyncpg.UniqueViolationError as exc:
                # Another movement took one of these cases between the check and this write.
                raise ApplicationError("a case of this manifest is on another open movement", type="manifest_rules",
                                       non_retryable=True) from exc
            except _REFUSED_VALUES as exc:
                # A value PostgreSQL refuses fails that one command, never the movement.
                raise ApplicationError(f"PostgreSQL refused a value of this command ({type(exc).__name__}); "
                                       "nothing was recorded", type="unstorable_input", non_retryable=True) from exc

    @activity.defn(name=FAN_OUT)
    async def fan_out_to_cases(self, batch: FanOutBatch) -> FanOutResults:
        """Every case of the batch at once, each by its own Update (``fan_out_to_case``).  It
        heartbeats while it runs, so a worker that dies is noticed within the heartbeat
        time-out and the batch runs again elsewhere: the cases it had reached already show
        the effect, or their Update (same id) answers with its first outcome."""
        results = await heartbeating(lambda: asyncio.gather(*[self.fan_out_to_case(r) for r in batch.requests]))
        return FanOutResults(results=list(results))

    async def fan_out_to_case(self, request: FanOutRequest) -> FanOutResult:
        """Send one case its part of the movement's lock, departure or cancellation, once.

        The case's ``complete_task`` Update goes with ``request.update_id``, the same for
        every attempt: an attempt that reached the case before the worker died is the same
        Update, which Temporal runs once and whose outcome it returns to every later call.
        The task is the one the case showed at the lock / the confirmation; when that is not
        known (a cancellation), the case's state is asked first, and an effect already there
        is reported, not sent again.  A refused Update is checked against the case's state
        the same way (an earlier attempt, or a person, may have done it)."""
        request = with_movement_in_audit(request)
        if request.step == "delay":
            return await self._move_booking(request)
        if request.step == "release":
            return await self._release(request)
        case_id = request.case_id
        await settled(self._client, case_id, request.update_id)  # an earlier attempt's, first
        outcome = "booked" if request.outcome == "book" else request.outcome
        task_id = request.task_id
        if task_id is None:  # not known from the lock / the confirmation: ask the case
            state = await self._case_state(case_id)
            if state is None:
                return FanOutResult(case_id=case_id, outcome=outcome, applied=False, reason="no such case")
            if _already(state, request):
                return FanOutResult(case_id=case_id, outcome=outcome, applied=True)
            task_type = {"booking": BOOKING_TASK, "arrival": ARRIVAL_TASK}.get(request.step, DEPARTURE_TASK)
            task_id = next((t.task_id for t in state.open_tasks if t.task_type == task_type), None)
            if task_id is None and request.outcome == "postponed" and _ours(state, request):
                # Cancelled before the departure task opened (more than 72 h before the flight):
                # the case drops the booking itself.
                return await self._cancel_booking(request, outcome)
            if task_id is None:
                return FanOutResult(case_id=case_id, outcome=outcome, applied=False,
                                    reason=f"the case has no open {task_type} task ({_where(state)}); "
                                           "a caseworker records it on the case")
        # A departure (departed, not boarded), a cancellation and an arrival are facts: a case on
        # hold records them too (tasks their programme marks ``group_fact``); a booking is new work.
        group = None if request.step == "booking" else f"movement {request.movement_id}"
        request_body = CompleteTaskRequest(task_id=task_id, form=_form(request), actor=request.actor,
                                           audit=request.audit, group=group)
        try:
            await update_case(self._client, case_id, "complete_task", request_body, request.update_id)
        except WorkflowUpdateFailedError as exc:
            # Refused: e.g. the task is no longer open because an earlier attempt completed it
            # (in a run whose update ids Temporal no longer holds) or someone did by hand.
            after = await self._case_state(case_id)
            if after is not None and _already(after, request):
                return FanOutResult(case_id=case_id, outcome=outcome, applied=True)
            cause = exc.cause
            return FanOutResult(case_id=case_id, outcome=outcome, applied=False,
                                reason=getattr(cause, "message", None) or str(cause or exc))
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise  # Temporal unavailable: the activity is retried
            return FanOutResult(case_id=case_id, outcome=outcome, applied=False,
                                reason="the case's workflow has finished (the case is closed)")
        return FanOutResult(case_id=case_id, outcome=outcome, applied=True)

    async def _release(self, request: FanOutRequest) -> FanOutResult:
        """A case taken off a locked manifest: its booking on the flight dropped, once.

        Not on hold: its ``record_departure`` task completed as postponed (``update_id``), or,
        before that task opens, the case's own ``CancelBooking`` (the same id).  On hold: a
        hold stops the case's work going forward (a task completion is refused), but the
        family is not taking this flight, and leaving the booking would let someone record a
        departure on a flight the case did not take; the case's ``CancelBooking`` undoes the
        booking and is taken on hold (it cancels the departure task and opens the rebooking,
        which waits for the resume), with an id of its own (``held_update_id``: the refused
        completion may have used the first).  Each is sent only when the case still shows the
        booking, after any earlier attempt's Update has finished: one drop, however often the
        batch runs."""
        case_id = request.case_id
        held_id = held_update_id(request)
        await settled(self._client, case_id, request.update_id)
        await settled(self._client, case_id, held_id)

        def answer(applied: bool, reason: str | None = None) -> FanOutResult:
            return FanOutResult(case_id=case_id, outcome="postponed", applied=applied, reason=reason)

        state = await self._case_state(case_id)
        if state is None:
            return answer(False, "no such case")
        if _already(state, request):
            return answer(True)
        if not _ours(state, request):  # it departed, on another flight or recorded by hand
            return answer(False, "the case has departed")
        if state.held_at is not None:
            return await self._cancel_booking(request, "postponed", update_id=held_id)
        open_ids = [t.task_id for t in state.open_tasks if t.task_type == DEPARTURE_TASK]
        task_id = request.task_id if request.task_id in open_ids else next(iter(open_ids), None)
        if task_id is None:  # booked more than 72 h ahead: the departure task is not open yet
            return await self._cancel_booking(request, "postponed")
        try:
            await update_case(self._client, case_id, "complete_task",
                              CompleteTaskRequest(task_id=task_id, form=_form(request), actor=request.actor,
                                                  audit=request.audit), request.update_id)
        except WorkflowUpdateFailedError as exc:
            after = await self._case_state(case_id)
            if after is not None and _already(after, request):
                return answer(True)
            if after is not None and after.held_at is not None and _ours(after, request):
                # held between the look and the completion: dropped the held case's way
                return await self._cancel_booking(request, "postponed", update_id=held_id)
            cause = exc.cause
            return answer(False, getattr(cause, "message", None) or str(cause or exc))
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            return answer(False, "the case's workflow has finished (the case is closed)")
        return answer(True)

    async def _move_booking(self, request: FanOutRequest) -> FanOutResult:
        """A delay on one case: drop its booking on the previous time (its record_departure task,
        postponed, when open; else the case's CancelBooking), then book the new time (its
        book_movement task), each by its own Update id of this delay; or only drop it, when the
        new time is too late for the case's documents.  Every step is checked against the
        case's state first, so an attempt after a crash sends only what is still missing."""
        case_id = request.case_id
        outcome = "postponed" if request.outcome == "postponed" else "rebooked"

        def failed(reason: str) -> FanOutResult:
            return FanOutResult(case_id=case_id, outcome=outcome, applied=False, reason=reason)

        # An earlier attempt's drop and book, if Temporal has them, finish before the case is
        # asked or sent anything (case_calls.settled says why).
        await settled(self._client, case_id, request.update_id)
        if request.book_update_id is not None:
            await settled(self._client, case_id, request.book_update_id)
        state = await self._case_state(case_id)
        if state is None:
            return failed("no such case")
        if state.departed_at is not None:
            return failed("the case has departed")
        if _booked(state, request.flight_number, request.previous_departure_at):
            drop = request.model_copy(update={"outcome": "postponed"})
            task_id = next((t.task_id for t in state.open_tasks if t.task_type == DEPARTURE_TASK), None)
            try:
                if task_id is not None:
                    await update_case(self._client, case_id, "complete_task",
                                      CompleteTaskRequest(task_id=task_id, form=_form(drop), actor=request.actor,
                                                          audit=request.audit), request.update_id)
                else:
                    await _send_cancellation(self._client, request)
            except WorkflowUpdateFailedError as exc:
                cause = exc.cause
                after = await self._case_state(case_id)
                if after is None or _booked(after, request.flight_number, request.previous_departure_at):
                    return failed(getattr(cause, "message", None) or str(cause or exc))
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
                return failed("the case's workflow has finished (the case is closed)")
            state = await self._case_state(case_id)  # the drop above has finished: its Update was waited for
            if state is None:
                return failed("no such case")
        if request.outcome == "postponed":
            return FanOutResult(case_id=case_id, outcome=outcome, applied=True)
        if _ours(state, request):
            return FanOutResult(case_id=case_id, outcome=outcome, applied=True)
        task_id = next((t.task_id for t in state.open_tasks if t.task_type == BOOKING_TASK), None)
        if task_id is None:
            return failed(f"the case has no open {BOOKING_TASK} task ({_where(state)}); a movement officer books it")
        try:
            await update_case(self._client, case_id, "complete_task",
                              CompleteTaskRequest(task_id=task_id, form=_form(request), actor=request.actor,
                                                  audit=request.audit), request.book_update_id)
        except WorkflowUpdateFailedError as exc:
            after = await self._case_state(case_id)
            if after is not None and _ours(after, request):
                return FanOutResult(case_id=case_id, outcome=outcome, applied=True)
            cause = exc.cause
            return failed(getattr(cause, "message", None) or str(cause or exc))
        return FanOutResult(case_id=case_id, outcome=outcome, applied=True)

    async def _cancel_booking(self, request: FanOutRequest, outcome: str,
                              update_id: str | None = None) -> FanOutResult:
        """The case's ``act`` Update cancelling its booking, with the request's update id (or
        ``update_id``), once."""
        try:
            await _send_cancellation(self._client, request, update_id)
        except WorkflowUpdateFailedError as exc:
            after = await self._case_state(request.case_id)
            if after is not None and _already(after, request):
                return FanOutResult(case_id=request.case_id, outcome=outcome, applied=True)
            cause = exc.cause
            return FanOutResult(case_id=request.case_id, outcome=outcome, applied=False,
                                reason=getattr(cause, "message", None) or str(cause or exc))
        return FanOutResult(case_id=request.case_id, outcome=outcome, applied=True)


async def _send_cancellation(client: Client, request: FanOutRequest, update_id: str | None = None) -> None:
    body = CaseActionRequest(action=CancelBooking(reason=request.reason or f"Group movement {request.movement_id}"
                                                  " was cancelled"), actor=request.actor, audit=request.audit)
    await update_case(client, request.case_id, "act", body, update_id or request.update_id)


def with_movement_in_audit(request: FanOutRequest) -> FanOutRequest:
    """The request whose audit stamp names its movement: the workflow stamps the route's
    template (``POST /api/v1/movements/{movement_id}/delay``), and each case's audit row then
    did not say which movement.  Filled here, where the request carries the id, as the
    movement's own answer names it in the case's trail (``record_cases_shown``:
    ``... (MV-...)``); the workflow and what it decides are unchanged (its recorded histories
    replay as before)."""
    stamp = request.audit
    if stamp is None or request.movement_id in stamp.action:
        return request
    return request.model_copy(update={"audit": stamp.model_copy(
        update={"action": f"{stamp.action} ({request.movement_id})"})})


def held_update_id(request: FanOutRequest) -> str:
    """The id of a release's ``CancelBooking`` on a case on hold: derived, like every fan-out
    id, from the movement, the step and the case only."""
    return fan_out_update_id(request.movement_id, f"{request.step}-held", request.case_id)


def _case_needs(state: CaseState, member: Any) -> list[str]:
    """A member's travel-relevant needs the case knows, only the need (no health details):
    AVRR's screening of an unaccompanied minor (the principal), and a medical escort the
    member's latest fit-to-travel assessment asked for.  The rest the movement officer lists
    on the manifest."""
    data = state.programme_data
    needs = []
    if "unaccompanied_minor" in (getattr(data, "vulnerabilities", None) or []) and str(member.relationship) == "principal":
        needs.append("unaccompanied_minor")
    needs_escort = getattr(data, "needs_medical_escort", None)
    if needs_escort is not None and needs_escort(member.member_id):
        needs.append("medical_escort")
    return sorted(needs)


def facts_of(state: CaseState, other_movement_id: str | None = None) -> CaseFacts:
    members = [MemberFacts(member_id=m.member_id, full_name=m.full_name, date_of_birth=m.date_of_birth,
                           needs=_case_needs(state, m),  # type: ignore[arg-type]
                           health=state.progress[m.member_id].health,
                           clearance_valid_until=state.progress[m.member_id].clearance_valid_until,
                           visa=state.progress[m.member_id].visa,
                           visa_valid_until=state.progress[m.member_id].visa_valid_until,
                           fit_to_travel_at=state.progress[m.member_id].fit_to_travel_at,
                           sex=str(m.sex), nationality=m.nationality)
               for m in state.members]
    return CaseFacts(
        case_id=state.case_id, office=state.office, programme=str(state.programme), status=state.status,
        closure_reason=state.closure_reason, stage=state.stage, on_hold=state.held_at is not None, members=members,
        # A programme with consent (AVRR) says so in its own data; the others have none.
        consent_status=getattr(state.programme_data, "consent_status", None),
        medical_clearance_required=Stage.HEALTH in profile_of(state).stages and not skipped(state, Stage.HEALTH),
        # The host state's exit permission (domain/programmes/exit_permission.py): resettlement's and
        # family reunification's; AVRR has its own decision, a step before the movement stage.
        exit_permission_required=getattr(state.programme_data, "exit_permission_required", None),
        exit_permission_valid_until=_exit_permission_until(state),
        open_tasks={str(t.task_type): t.task_id for t in state.open_tasks},
        booked_flight=state.movement.flight_number if state.movement else None,
        booked_departure_at=state.movement.departure_at if state.movement else None,
        departed_at=state.departed_at, other_movement_id=other_movement_id,
        # Where the case travels to (the manifest's destination rule): AVRR's origin_country is
        # its country of return; another programme's origin_country is where the family fled.
        destination_country=state.destination_country,
        return_country=state.origin_country if str(state.programme) == "avrr" else None)


def _exit_permission_until(state: CaseState) -> date | None:
    # The recorded host-state permission (with its last day); AVRR's ``exit_permission`` is its
    # own decision (pending / granted / refused, a task before the movement stage), no date.
    permission = getattr(state.programme_data, "exit_permission", None)
    return getattr(permission, "valid_until", None)


def _ours(state: CaseState, request: FanOutRequest) -> bool:
    return _booked(state, request.flight_number, request.departure_at)


def _booked(state: CaseState, flight_number: str, departure_at: datetime | None) -> bool:
    m = state.movement
    return m is not None and m.flight_number == flight_number and m.departure_at == departure_at


def _already(state: CaseState, request: FanOutRequest) -> bool:
    """Whether the case already shows what ``request`` asks."""
    if request.outcome == "book":
        return _ours(state, request)
    if request.outcome == "departed":
        return state.departed_at is not None
    if request.outcome == "arrived":
        return state.arrived_on is not None
    # no_show / postponed: the booking on this flight is gone (recorded at the departure task,
    # or cancelled before it opened), the case is back to rebooking
    return not _ours(state, request) and state.departed_at is None


def _where(state: CaseState) -> str:
    if state.status == CaseStatus.CLOSED:
        return f"it is closed: {state.closure_reason or 'closed'}"
    open_types = sorted({str(t.task_type) for t in state.open_tasks})
    return f"{state.stage.value} stage, open: {', '.join(open_types) or 'nothing'}"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _form(request: FanOutRequest) -> dict[str, Any]:
    note = f"Group movement {request.movement_id}"
    if request.outcome == "arrived":
        form = {"arrived_on": request.arrived_on.isoformat() if request.arrived_on else None, "place": request.place,
                "notes": note}
        return form | ({"receiving_partner": request.receiving_partner} if request.receiving_partner else {})
    if request.outcome in ("book", "rebook"):
        return {"flight_number": request.flight_number, "departure_at": _iso(request.departure_at),
                "departure_airport": request.departure_airport, "arrival_airport": request.arrival_airport,
                "notes": note}
    if request.outcome == "departed":
        return {"outcome": "departed", "departed_at": _iso(request.departed_at), "notes": note}
    return {"outcome": request.outcome, "reason": request.reason or note, "notes": note}
