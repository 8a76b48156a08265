"""The OrientationSession workflow: one durable workflow per orientation session, id = the
session id.  Cases and sessions talk only through Temporal.

Every command is an Update.  Its validator decides what it can without the cases; the handler
asks the cases' own workflows for what the rules need (the ``orientation_session_case_facts``
activity queries each case workflow's ``state``), decides under a lock, has the projection
activity write the session and its participants to PostgreSQL, folds and answers.

Recording attendance, exactly once.  ``record_attendance`` records the whole session's
attendance (``AttendanceRecorded``, with each attendee's open ``record_orientation`` task as
the case showed it then) and answers; the run loop then reaches every attendee's case in
batches (``FAN_OUT_BATCH`` people per heartbeating activity) through the case workflow's
``complete_task`` Update, with an update id derived from the session and the member only
(``orientation_update_id``): Temporal applies an Update of a given id once and answers a
repeat with the first outcome.  A refused Update (the task completed meanwhile) is checked
against the case's state: orientation attended already is reported as applied, never sent
again.  What each case answered is recorded (``OrientationReached``).  Absentees' cases get
nothing: their task stays open and the case keeps waiting in orientation.  The same
attendance recorded again decides nothing.

A family split after the invitation moves people to a case of their own (member ids stay with
the person): the facts activity reads the cases split off those asked for, the recording sends
each attendee's orientation to the case that holds them then (``FOLLOW_SPLITS_PATCH``), and the
fan-out follows a split made after the recording (``activities.orientation_sessions``).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TemporalError

from workflows.creation import created_in_time
from workflows.failures import undecidable

with workflow.unsafe.imports_passed_through():
    from domain.model import Actor
    from domain.records import AuditStamp
    from domain.sessions import commands as c
    from domain.sessions.decide import SessionRejected, decide, fold, new_case_ids
    from domain.sessions.model import FanOutResult, SessionCaseFacts, SessionState, SessionStatus
    from domain.sessions.records import (
        RECORD_SESSION,
        SESSION_CASE_FACTS,
        SESSION_FAN_OUT,
        SESSION_WORKFLOW_TYPE,
        OrientationBatch,
        OrientationRequest,
        OrientationResults,
        RecordSessionRequest,
        SessionFactsList,
        SessionFactsRequest,
        SessionOutcome,
        SessionRequest,
        SessionWorkflowInput,
        orientation_update_id,
    )

RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=30), maximum_attempts=0)
# Attendees reached per activity (all batches at once, every case of a batch at once).
FAN_OUT_BATCH = 25
# From this patch on, an attendance recording as attended a person whose case has closed since the
# invitation is refused, naming them (domain.sessions.decide._closed_attendees).  Asked only then:
# sessions that recorded such people replay as they ran.
CLOSED_CASES_PATCH = "attendance-closed-cases-v1"
# From this patch on, the session follows a person a family split moved to another case since the
# invitation: their attendance is recorded under, and sent to, the case that holds them now, and an
# invitation of them under that case is refused naming them (domain.sessions.decide, follow_splits).
# Asked only when a person has moved: sessions decided before replay as they ran.
FOLLOW_SPLITS_PATCH = "session-follows-split-v1"


def _rejection(exc: SessionRejected) -> ApplicationError:
    return ApplicationError(exc.message, {"code": exc.code, "details": exc.details}, type=exc.code,
                            non_retryable=True)


@workflow.defn(name=SESSION_WORKFLOW_TYPE)
class OrientationSessionWorkflow:
    @workflow.init
    def __init__(self, input: SessionWorkflowInput) -> None:
        self._id = input.session_id
        self._state: SessionState | None = input.state
        self._lock = asyncio.Lock()

    @workflow.run
    async def run(self, input: SessionWorkflowInput) -> SessionState | None:
        if not await created_in_time(lambda: self._state is not None, input.nothing_created_grace_seconds):
            return None  # its creation was refused and never sent again: nothing to keep waiting for
        while True:
            await workflow.wait_condition(lambda: self._fan_out_due() or self._finished() or self._should_continue())
            if self._finished():
                assert self._state is not None
                return self._state
            if self._fan_out_due():
                await self._fan_out()
            elif self._should_continue():
                workflow.continue_as_new(SessionWorkflowInput(session_id=self._id, state=self._state))

    def _fan_out_due(self) -> bool:
        return self._state is not None and not self._lock.locked() and not self._state.fan_out_done

    def _finished(self) -> bool:
        s = self._state
        return (s is not None and s.status in (SessionStatus.HELD, SessionStatus.CANCELLED) and s.fan_out_done
                and workflow.all_handlers_finished())

    def _should_continue(self) -> bool:
        return (workflow.info().is_continue_as_new_suggested() and workflow.all_handlers_finished()
                and not self._lock.locked())

    # --- updates ---------------------------------------------------------------------------

    @workflow.update(name="schedule")
    async def schedule(self, request: SessionRequest) -> SessionOutcome:
        return await self._command(request)

    @schedule.validator
    def _validate_schedule(self, request: SessionRequest) -> None:
        self._validate(request)

    @workflow.update(name="add_participants")
    async def add_participants(self, request: SessionRequest) -> SessionOutcome:
        return await self._command(request)

    @add_participants.validator
    def _validate_add_participants(self, request: SessionRequest) -> None:
        self._validate(request)

    @workflow.update(name="remove_participant")
    async def remove_participant(self, request: SessionRequest) -> SessionOutcome:
        return await self._command(request)

    @remove_participant.validator
    def _validate_remove_participant(self, request: SessionRequest) -> None:
        self._validate(request)

    @workflow.update(name="record_attendance")
    async def record_attendance(self, request: SessionRequest) -> SessionOutcome:
        return await self._command(request)

    @record_attendance.validator
    def _validate_record_attendance(self, request: SessionRequest) -> None:
        self._validate(request)

    @workflow.update(name="cancel")
    async def cancel(self, request: SessionRequest) -> SessionOutcome:
        return await self._command(request)

    @cancel.validator
    def _validate_cancel(self, request: SessionRequest) -> None:
        self._validate(request)

    @workflow.query(name="state")
    def state(self) -> SessionState | None:
        return self._state

    # --- deciding ----------------------------------------------------------------------------

    def _validate(self, request: SessionRequest) -> None:
        """What can be judged without the cases (adding people is judged on their facts by the handler)."""
        try:
            decide(self._state, request.command, workflow.now(), request.actor, admission=True)
        except SessionRejected as exc:
            raise _rejection(exc) from None

    async def _command(self, request: SessionRequest) -> SessionOutcome:
        async with self._lock:
            changed = await self._execute(request.command, request.actor)
        assert self._state is not None
        return SessionOutcome(session_id=self._id, version=self._state.version, changed=changed)

    async def _execute(self, command: object, actor: Actor) -> bool:
        facts: list[SessionCaseFacts] | None = None
        state = self._state
        if state is not None and state.status == SessionStatus.SCHEDULED:
            if isinstance(command, c.AddParticipants):
                facts = await self._facts(new_case_ids(state, command))
            elif isinstance(command, c.RecordAttendance) and state.participants:
                facts = await self._facts(list(dict.fromkeys(p.case_id for p in state.participants)))
        try:
            events = decide(self._state, command, workflow.now(), actor, facts,
                            closed_cases_refused=lambda: workflow.patched(CLOSED_CASES_PATCH),
                            follow_splits=lambda: workflow.patched(FOLLOW_SPLITS_PATCH))
            new_state = fold(events, self._state, self._id) if events else None
        except SessionRejected as exc:
            raise _rejection(exc) from None
        except TemporalError:
            raise
        except Exception as exc:  # noqa: BLE001 - workflows.failures.undecidable says why
            raise undecidable(exc) from None
        if new_state is None:
            return False
        try:
            await workflow.execute_activity(RECORD_SESSION, RecordSessionRequest(state=new_state),
                                            start_to_close_timeout=timedelta(seconds=10), retry_policy=RETRY,
                                            summary=f"record v{new_state.version}")
        except ActivityError as exc:
            cause = exc.cause if isinstance(exc.cause, ApplicationError) else None
            code = (cause.type if cause else None) or "recording_failed"
            raise ApplicationError(f"the session could not be recorded: {cause.message if cause else exc}",
                                   {"code": code, "details": []}, type=code, non_retryable=True) from None
        self._state = new_state
        return True

    async def _facts(self, case_ids: list[str]) -> list[SessionCaseFacts]:
        found: SessionFactsList = await workflow.execute_activity(
            SESSION_CASE_FACTS, SessionFactsRequest(session_id=self._id, case_ids=case_ids),
            result_type=SessionFactsList, start_to_close_timeout=timedelta(seconds=30), retry_policy=RETRY,
            summary=f"facts of {len(case_ids)} cases")
        return found.facts

    # --- fan-out -----------------------------------------------------------------------------

    async def _fan_out(self) -> None:
        state = self._state
        assert state is not None and state.recorded_by is not None
        d = state.details
        requests = [OrientationRequest(
            session_id=self._id, case_id=p.case_id, member_id=p.member_id,
            update_id=orientation_update_id(self._id, p.member_id), task_id=p.task_id,
            session_date=d.session_date(), language=d.language, facilitator=d.facilitator, actor=state.recorded_by,
            audit=AuditStamp(action="POST /api/v1/orientation-sessions/{session_id}/attendance", status=200))
            for p in state.pending_fan_out]
        batches = [requests[i:i + FAN_OUT_BATCH] for i in range(0, len(requests), FAN_OUT_BATCH)]
        answered: list[OrientationResults] = list(await asyncio.gather(*[
            workflow.execute_activity(SESSION_FAN_OUT, OrientationBatch(requests=b), result_type=OrientationResults,
                                      start_to_close_timeout=timedelta(minutes=5),
                                      heartbeat_timeout=timedelta(seconds=10), retry_policy=RETRY,
                                      summary=f"orientation of {len(b)} people")
            for b in batches]))
        results: list[FanOutResult] = [r for a in answered for r in a.results]
        async with self._lock:
            await self._execute(c.RecordFanOut(results=results), Actor.system())
