"""The ResettlementCase workflow: one durable workflow per case, id = case id.

The workflow holds the case's process state and is its source of truth.  Every command
arrives as an Update: its validator runs the pure ``decide`` against the current state and
refuses a wrong-stage, already-completed or invalid command before anything reaches
history; the handler decides again under a lock (updates may interleave), has the
recording activity append the events and project them to PostgreSQL, then folds the
events into its state and answers.  So when the caller gets its answer, its write is
already readable from the read model.

Recording runs as a *local* activity: it is idempotent, short, and local activities add
one marker event to history instead of three activity events, and skip a task-queue
round trip.  It retries without limit (a PostgreSQL outage delays commands; it never
loses an accepted one).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.case import CaseState, Command, CompleteTask, DecisionContext, ReferCase, decide, fold
    from domain.errors import CommandRejected
    from domain.events import RecordedEvent
    from domain.identity import case_id_for
    from domain.model import Actor, CaseStatus
    from domain.records import (
        RECORD_CASE_EVENTS,
        CaseEventsBatch,
        CaseWorkflowInput,
        CommandOutcome,
        CompleteTaskRequest,
        ReferCaseRequest,
        ReferralOutcome,
    )

RECORDING_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), backoff_coefficient=2.0,
                              maximum_interval=timedelta(seconds=30), maximum_attempts=0)


def _rejection(exc: CommandRejected) -> ApplicationError:
    return ApplicationError(exc.message, {"code": exc.code.value, "details": exc.details},
                            type=exc.code.value, non_retryable=True)


@workflow.defn(name="ResettlementCase")
class ResettlementCaseWorkflow:
    @workflow.init
    def __init__(self, input: CaseWorkflowInput) -> None:
        # Runs before any update handler, so the first `refer` already sees the case id.
        self._case_id = input.case_id
        self._state: CaseState | None = input.state
        self._lock = asyncio.Lock()

    @workflow.run
    async def run(self, input: CaseWorkflowInput) -> CaseState:
        await workflow.wait_condition(
            lambda: self._state is not None
            and self._state.status == CaseStatus.CLOSED
            and workflow.all_handlers_finished()
        )
        assert self._state is not None
        return self._state

    # --- referral ----------------------------------------------------------------------

    @workflow.update(name="refer")
    async def refer(self, request: ReferCaseRequest) -> ReferralOutcome:
        async with self._lock:
            recorded = await self._execute(ReferCase(case_id=self._case_id, referral=request.referral), request.actor)
        assert self._state is not None
        return ReferralOutcome(case_id=self._case_id, created=bool(recorded), version=self._state.version)

    @refer.validator
    def _validate_refer(self, request: ReferCaseRequest) -> None:
        if case_id_for(request.referral.external_referral_id) != workflow.info().workflow_id:
            raise ApplicationError("the referral does not belong to this case", type="referral_conflict",
                                   non_retryable=True)
        self._validate(ReferCase(case_id=workflow.info().workflow_id, referral=request.referral), request.actor)

    # --- tasks -------------------------------------------------------------------------

    @workflow.update(name="complete_task")
    async def complete_task(self, request: CompleteTaskRequest) -> CommandOutcome:
        async with self._lock:
            recorded = await self._execute(CompleteTask(task_id=request.task_id, form=request.form), request.actor)
        assert self._state is not None
        return CommandOutcome(case_id=self._case_id, version=self._state.version,
                              event_types=[r.type for r in recorded])

    @complete_task.validator
    def _validate_complete_task(self, request: CompleteTaskRequest) -> None:
        self._validate(CompleteTask(task_id=request.task_id, form=request.form), request.actor)

    # --- queries -----------------------------------------------------------------------

    @workflow.query(name="state")
    def state(self) -> CaseState | None:
        return self._state

    # --- the one way state changes ---------------------------------------------------------

    def _validate(self, command: Command, actor: Actor) -> None:
        # Validators must not touch workflow randomness (they do not run on replay), so
        # the event ids of this trial decision are placeholders.
        ctx = DecisionContext(now=workflow.now(), actor=actor, new_event_id=lambda: "validation")
        try:
            decide(self._state, command, ctx)
        except CommandRejected as exc:
            raise _rejection(exc) from None

    async def _execute(self, command: Command, actor: Actor) -> list[RecordedEvent]:
        ctx = DecisionContext(now=workflow.now(), actor=actor, new_event_id=lambda: str(workflow.uuid4()))
        try:
            recorded = decide(self._state, command, ctx)
        except CommandRejected as exc:  # the state moved on between validator and handler
            raise _rejection(exc) from None
        if not recorded:
            return recorded
        new_state = fold(recorded, start=self._state)
        await workflow.execute_local_activity(
            RECORD_CASE_EVENTS,
            CaseEventsBatch(case_id=self._case_id, events=recorded, state=new_state),
            start_to_close_timeout=timedelta(seconds=15),
            retry_policy=RECORDING_RETRY,
        )
        self._state = new_state
        return recorded
