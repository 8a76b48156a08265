"""The body every case workflow shares: one durable workflow per case, id = case id.

``ResettlementCase`` and ``AvrrCase`` are separate Temporal workflow types (so each can be
listed, versioned and replayed on its own) built on this one class, and ``ProgrammeCase``
runs every programme registered without a type of its own.  Everything about how a case
workflow works lives here; the programme-specific case logic lives in the pure core (the
engine, ``domain.engine``, with the case's ``domain.programmes`` definition), so a subclass
only names its type and which rules it runs under.

The workflow holds the case's process state and is its source of truth.  Every command
arrives as an Update: its validator runs the pure ``decide`` against the current state and
refuses a wrong-stage, already-completed or invalid command before anything reaches
history; the handler decides again under a lock (updates may interleave), has the
recording activity append the events and project them to PostgreSQL, then folds the
events into its state and answers.  So when the caller gets its answer, its write is
already readable from the read model.

Recording runs as a regular activity, so the events it writes are the events history
holds.  A regular activity's input (the decided events and the state they lead to) is in
history, in its ``ActivityTaskScheduled`` event, before the activity runs: every attempt,
including one after a worker or Temporal crash, writes exactly those events, and PostgreSQL
can never hold an event that history does not.  (Until RECORDING_IN_HISTORY_PATCH, cases
recorded through a *local* activity: cheaper by five history events per command, but its
input reaches history only with the marker written after the write, so a crash between
the two made the workflow decide again, at a new ``workflow.now()``, what PostgreSQL
already held from the first try.)  Transient failures (PostgreSQL down) retry without
limit: an accepted command is delayed, never lost.  A failure retrying cannot fix (a value
PostgreSQL refuses) fails that one command with a clear error and leaves the case as it
was: no input can put a case into endless retry.

Clocks: the pure core says when the case next needs attention (``next_deadline``); the
workflow keeps a durable timer for that moment and, when it fires, decides a ``Tick``.
A timer is never cancelled (that would cost history events on every command): a timer
that has become too late simply fires into a tick that changes nothing, and a new,
earlier deadline gets a timer of its own.  Long cases continue-as-new when Temporal
suggests it, carrying the state; the timers are re-derived from it.

The order of the commands this body issues is what recorded histories replay against
(tests/test_replay.py): change it only behind ``workflow.patched``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TemporalError

from workflows import search_attributes
from workflows.creation import created_in_time
from workflows.failures import undecidable

with workflow.unsafe.imports_passed_through():
    # The pure core, shared with the worker's host process.  The modules the core imports
    # lazily (to break import cycles) are named here too: imported later inside the sandbox
    # they would be fresh copies, with an empty programme registry.
    import domain.engine.evolve
    import domain.offices
    import domain.programmes
    import domain.programmes.registry
    import domain.state
    import domain.tasks  # noqa: F401
    from domain.case import (
        CaseState,
        Command,
        CompleteTask,
        OpenSplitCase,
        ReferCase,
        RuleFlags,
        SplitCase,
        Tick,
        decide,
        decision_context,
        fold,
        next_deadline,
    )
    from domain.engine.split import split_opening
    from domain.errors import CommandRejected
    from domain.events import CaseSplit, RecordedEvent
    from domain.model import Actor, CaseStatus
    from domain.records import (
        OPEN_SPLIT_CASE,
        RECORD_CASE_EVENTS,
        AuditStamp,
        CaseActionRequest,
        CaseEventsBatch,
        CaseWorkflowInput,
        CommandOutcome,
        CompleteTaskRequest,
        OpenSplitCaseRequest,
        ReferCaseRequest,
        ReferralOutcome,
    )

RECORDING_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), backoff_coefficient=2.0,
                              maximum_interval=timedelta(seconds=30), maximum_attempts=0)

# Commands recorded from here on go through a regular activity (see the module docstring);
# histories recorded before replay their local-activity markers.
RECORDING_IN_HISTORY_PATCH = "recording-in-history-v1"

# The core's review rules (``DecisionContext.review_rules``): one supervisor review per
# decision point, a refusal of the visa stage kept until the review decides, no escalation
# outliving its task.  Asked lazily, only by a decision those rules change, so only cases
# that meet such a decision pay its marker and search-attribute events.
REVIEW_RULES_PATCH = "review-rules-v1"

# Task dues a person can meet (``DecisionContext.reachable_dues``): a task whose own due rule
# would open it overdue is due an hour after it opens (a fit check: before the flight); and a
# date deadline ends with the day in the case's office time zone (``office_day_ends``).  Both
# asked lazily, only by a decision they change.
REACHABLE_DUES_PATCH = "reachable-dues-v1"
OFFICE_DAY_ENDS_PATCH = "office-day-ends-v1"
# What a clock opens on a day (an AVRR monitoring visit, a child's 18th birthday in family
# reunification) opens at the start of that day in the case's office time zone
# (``DecisionContext.office_day_starts``); asked lazily, only for an office not in UTC.
OFFICE_DAY_STARTS_PATCH = "office-day-starts-v1"

# A fact a movement or an orientation session fans out to a case (a departure, a cancellation, an
# arrival, an attendance: ``DecisionContext.facts_on_hold``) is recorded on a case on hold too,
# which stays on hold.  Asked lazily, only by such a completion on a held case: before it, the
# handler refused it (a hold placed while the Update waited for the case's lock), and a history
# that did replays as it ran.  (The validator, not run on replay, accepts it without the marker.)
FACTS_ON_HOLD_PATCH = "facts-on-hold-v1"

# A resume moves a task opened during the hold by the time since it opened, not by the whole
# hold (``DecisionContext.hold_from_opening``).  Asked lazily, only by a resume that finds such
# a task; a history resumed before keeps the dues it recorded.
HOLD_FROM_OPENING_PATCH = "hold-from-opening-v1"

# A split moves a supervisor review with the members whose outcome it decides
# (``DecisionContext.split_review_follows``): cancelled in the original when they all moved,
# not carried to the new case when none did.  Asked lazily, only by a split it changes (its
# decision and the opening the handler sends); a split recorded before replays as it ran.
SPLIT_REVIEW_FOLLOWS_PATCH = "split-review-follows-v1"

# A corrected date of birth cancels the per-person tasks the stage no longer asks of that
# person (``DecisionContext.correction_reprunes``; explore9: a child corrected to under 12 kept
# her orientation task, and the case waited for her).  Asked lazily, only by a correction that
# cancels something; a correction recorded before replays as it ran.
CORRECTION_REPRUNES_PATCH = "correction-reprunes-v1"

# From here on a case carries search attributes (workflows.search_attributes), upserted when
# one of them changes.  A case whose history began before keeps running without them.
SEARCH_ATTRIBUTES_PATCH = "search-attributes-v1"


def _rejection(exc: CommandRejected) -> ApplicationError:
    return ApplicationError(exc.message, {"code": exc.code.value, "details": exc.details},
                            type=exc.code.value, non_retryable=True)


class CaseWorkflow:
    """Shared body; subclasses are the ``@workflow.defn`` types and define ``run`` (Temporal
    wants the run method on the workflow class itself) as ``return await self._run(input)``."""

    @workflow.init
    def __init__(self, input: CaseWorkflowInput) -> None:
        # Runs before any update handler, so the first `refer` already sees the case id.
        self._case_id = input.case_id
        self._state: CaseState | None = input.state
        self._lock = asyncio.Lock()
        self._timers: set[datetime] = set()
        self._tick_due = False
        # The rules validators judge by.  A fresh run (a new case, or a continue-as-new) runs
        # under every rule; a replayed history learns its own in the handlers (``_execute``),
        # which validators (not run on replay) then follow.
        self._flags = RuleFlags()
        # The state a command leads to while its events are being recorded: already in the
        # read model (the activity committed it) before the workflow folds it.  Validators
        # judge new commands against it, so a task the read model shows is never "unknown"
        # to the workflow; their handlers wait for the lock and decide on the folded state.
        self._recording: CaseState | None = None
        # The search attributes this run carries (a continue-as-new keeps its run's).
        self._published = search_attributes.published(workflow.info().typed_search_attributes)

    def _clock_rules(self) -> bool:
        """Whether durable clocks and fit-to-travel checks are in force for this case.

        Called before every decision and before arming a timer; a workflow type whose
        histories predate those rules answers with ``workflow.patched``."""
        return True

    async def _run(self, input: CaseWorkflowInput) -> CaseState | None:
        self._arm_clock()
        if not await created_in_time(lambda: self._state is not None, input.nothing_created_grace_seconds):
            return None  # its referral was refused and never sent again: no case to wait for
        while True:
            await workflow.wait_condition(lambda: self._tick_due or self._finished() or self._should_continue())
            if self._finished():
                assert self._state is not None
                return self._state
            if self._tick_due:
                self._tick_due = False
                async with self._lock:
                    try:
                        await self._execute(Tick(), Actor.system())
                    except ApplicationError as exc:
                        # A tick that cannot be recorded must not fail the case: it stays as it
                        # was, and the next command re-arms the clock and decides the tick again.
                        workflow.logger.error("the case's clock tick could not be recorded: %s", exc)
                        continue
                self._arm_clock()
            elif self._should_continue():
                workflow.continue_as_new(CaseWorkflowInput(case_id=self._case_id, state=self._state))

    def _finished(self) -> bool:
        return (self._state is not None and self._state.status == CaseStatus.CLOSED
                and workflow.all_handlers_finished())

    def _should_continue(self) -> bool:
        return (workflow.info().is_continue_as_new_suggested() and workflow.all_handlers_finished()
                and not self._lock.locked())

    # --- referral ----------------------------------------------------------------------

    @workflow.update(name="refer")
    async def refer(self, request: ReferCaseRequest) -> ReferralOutcome:
        command = ReferCase(case_id=self._case_id, referral=request.referral,
                            arrival_confirmation_days=request.arrival_confirmation_days,
                            monitoring_months=request.monitoring_months, office_time_zone=request.office_time_zone,
                            orientation_min_age=request.orientation_min_age, services=request.services,
                            exit_permission=request.exit_permission)
        async with self._lock:
            recorded = await self._execute(command, request.actor, request.audit)
        self._arm_clock()
        assert self._state is not None
        return ReferralOutcome(case_id=self._case_id, created=bool(recorded), version=self._state.version)

    @refer.validator
    def _validate_refer(self, request: ReferCaseRequest) -> None:
        # The API derives the case id with a key the workflow does not hold; a case that
        # exists must be this referral's (validators never run on replay: no patch needed).
        if self._state is not None and self._state.external_referral_id != request.referral.external_referral_id:
            raise ApplicationError("the referral does not belong to this case", type="referral_conflict",
                                   non_retryable=True)
        workflow_type = domain.programmes.registry.definition_of(request.referral.programme).workflow_type
        if self._state is None and workflow_type != workflow.info().workflow_type:
            raise ApplicationError(f"a {request.referral.programme} referral cannot open a "
                                   f"{workflow.info().workflow_type} workflow", type="referral_conflict",
                                   non_retryable=True)
        self._validate(ReferCase(case_id=self._case_id, referral=request.referral,
                                 office_time_zone=request.office_time_zone), request.actor)

    # --- tasks and case actions --------------------------------------------------------------

    @workflow.update(name="complete_task")
    async def complete_task(self, request: CompleteTaskRequest) -> CommandOutcome:
        return await self._command(CompleteTask(task_id=request.task_id, form=request.form, group=request.group),
                                   request.actor, request.audit)

    @complete_task.validator
    def _validate_complete_task(self, request: CompleteTaskRequest) -> None:
        self._validate(CompleteTask(task_id=request.task_id, form=request.form, group=request.group), request.actor)

    @workflow.update(name="act")
    async def act(self, request: CaseActionRequest) -> CommandOutcome:
        """Case-level actions at any stage: withdraw, hold, resume, reassign, note, correct,
        split the family, and for AVRR the withdrawal of consent."""
        if isinstance(request.action, SplitCase):
            return await self._split(request)
        return await self._command(request.action, request.actor, request.audit)

    @act.validator
    def _validate_act(self, request: CaseActionRequest) -> None:
        self._validate(request.action, request.actor)

    # --- splitting a family (domain.engine.split) ---------------------------------------------

    async def _split(self, request: CaseActionRequest) -> CommandOutcome:
        """Record ``CaseSplit`` here first, then open the new case through an activity.

        The activity's input (derived id, what the new case opens with) is in this history
        once scheduled, and it is scheduled on every replay of this handler after the split
        was recorded: a crash anywhere in between is followed by the same opening, which the
        new case's workflow applies once (``activities.case_splits``).  The Update answers only
        when both cases are recorded.  The opening follows the rules the split was decided
        under: whether a supervisor review follows its cause is asked of the same patch
        (``SPLIT_REVIEW_FOLLOWS_PATCH``, answered once per run)."""
        async with self._lock:
            before = self._state
            recorded = await self._execute(request.action, request.actor, request.audit)
        self._arm_clock()
        split = next((r.event for r in recorded if isinstance(r.event, CaseSplit)), None)
        if split is not None:
            assert before is not None
            opening = split_opening(before, split,
                                    review_follows=lambda: workflow.patched(SPLIT_REVIEW_FOLLOWS_PATCH))
            workflow_type = domain.programmes.registry.definition_of(before.programme).workflow_type
            try:
                await workflow.execute_activity(
                    OPEN_SPLIT_CASE,
                    OpenSplitCaseRequest(case_id=split.new_case_id, workflow_type=workflow_type,
                                         opening=opening.opening, tasks=opening.tasks, actor=request.actor,
                                         update_id=f"split-{self._case_id}-{split.new_case_id}"),
                    start_to_close_timeout=timedelta(seconds=60), retry_policy=RECORDING_RETRY,
                    summary=f"open {split.new_case_id}")
            except ActivityError as exc:
                cause = exc.cause if isinstance(exc.cause, ApplicationError) else None
                raise ApplicationError(f"the split was recorded but case {split.new_case_id} could not be opened: "
                                       f"{cause.message if cause else exc}", {"code": "split_open_failed",
                                                                               "details": []},
                                       type="split_open_failed", non_retryable=True) from None
        assert self._state is not None
        return CommandOutcome(case_id=self._case_id, version=self._state.version,
                              event_types=[r.type for r in recorded],
                              new_case_id=split.new_case_id if split is not None else None)

    @workflow.update(name="open_split")
    async def open_split(self, request: OpenSplitCaseRequest) -> CommandOutcome:
        """Open this case as the part of a family split off another (sent once by the original's
        workflow, ``_split``; a repeat decides nothing)."""
        return await self._command(OpenSplitCase(opening=request.opening, tasks=request.tasks), request.actor, None)

    @open_split.validator
    def _validate_open_split(self, request: OpenSplitCaseRequest) -> None:
        self._validate(OpenSplitCase(opening=request.opening, tasks=request.tasks), request.actor)

    # --- queries -----------------------------------------------------------------------

    @workflow.query(name="state")
    def state(self) -> CaseState | None:
        return self._state

    # --- the one way state changes ---------------------------------------------------------

    def _validate(self, command: Command, actor: Actor) -> None:
        # Validators must not touch workflow randomness (they do not run on replay), so
        # the event ids of this trial decision are placeholders.
        ctx = decision_context(workflow.now(), actor, self._flags, new_event_id=lambda: "validation", admission=True)
        try:
            decide(self._recording or self._state, command, ctx)
        except CommandRejected as exc:
            raise _rejection(exc) from None

    async def _command(self, command: Command, actor: Actor, audit: AuditStamp | None) -> CommandOutcome:
        async with self._lock:
            recorded = await self._execute(command, actor, audit)
        self._arm_clock()
        assert self._state is not None
        return CommandOutcome(case_id=self._case_id, version=self._state.version,
                              event_types=[r.type for r in recorded])

    async def _execute(self, command: Command, actor: Actor, audit: AuditStamp | None = None) -> list[RecordedEvent]:
        clocks = self._clock_rules()
        self._flags = RuleFlags(fit_to_travel_checks=clocks)
        # The handler asks the review rules' patch lazily (a validator may not write a marker:
        # it judges by them, as every new decision does).
        flags = RuleFlags(fit_to_travel_checks=clocks, review_rules=lambda: workflow.patched(REVIEW_RULES_PATCH),
                          reachable_dues=lambda: workflow.patched(REACHABLE_DUES_PATCH),
                          office_day_ends=lambda: workflow.patched(OFFICE_DAY_ENDS_PATCH),
                          office_day_starts=lambda: workflow.patched(OFFICE_DAY_STARTS_PATCH),
                          facts_on_hold=lambda: workflow.patched(FACTS_ON_HOLD_PATCH),
                          hold_from_opening=lambda: workflow.patched(HOLD_FROM_OPENING_PATCH),
                          split_review_follows=lambda: workflow.patched(SPLIT_REVIEW_FOLLOWS_PATCH),
                          correction_reprunes=lambda: workflow.patched(CORRECTION_REPRUNES_PATCH))
        ctx = decision_context(workflow.now(), actor, flags, new_event_id=lambda: str(workflow.uuid4()),
                               admission=False)
        try:
            recorded = decide(self._state, command, ctx)
            new_state = fold(recorded, start=self._state) if recorded else None
        except CommandRejected as exc:  # the state moved on between validator and handler
            raise _rejection(exc) from None
        except TemporalError:
            raise
        except Exception as exc:  # noqa: BLE001 - workflows.failures.undecidable says why
            raise undecidable(exc) from None
        if new_state is None:
            return recorded
        batch = CaseEventsBatch(case_id=self._case_id, events=recorded, state=new_state, audit=audit,
                                actor=actor if audit else None)
        self._recording = new_state
        try:
            if workflow.patched(RECORDING_IN_HISTORY_PATCH):
                # A worker that dies mid-write is noticed when this time-out expires: the next
                # attempt (same input, from history) finds the events stored and goes on.
                await workflow.execute_activity(RECORD_CASE_EVENTS, batch, start_to_close_timeout=timedelta(seconds=10),
                                                retry_policy=RECORDING_RETRY, summary=f"record v{new_state.version}")
            else:
                await workflow.execute_local_activity(RECORD_CASE_EVENTS, batch,
                                                      start_to_close_timeout=timedelta(seconds=15),
                                                      retry_policy=RECORDING_RETRY)
        except ActivityError as exc:
            # Only a non-retryable failure gets here: nothing was written, the state stays.
            cause = exc.cause if isinstance(exc.cause, ApplicationError) else None
            code = (cause.type if cause else None) or "recording_failed"
            raise ApplicationError(f"the case could not be recorded: {cause.message if cause else exc}",
                                   {"code": code, "details": []}, type=code, non_retryable=True) from None
        finally:
            self._recording = None
        self._state = new_state
        self._publish()
        return recorded

    def _publish(self) -> None:
        """Upsert the search attributes that changed (stage, status, priority; all at referral)."""
        assert self._state is not None
        wanted = search_attributes.of_case(self._state)
        changed = search_attributes.changes(self._published, wanted)
        if changed and workflow.patched(SEARCH_ATTRIBUTES_PATCH):
            workflow.upsert_search_attributes(changed)
            self._published = wanted

    # --- clocks --------------------------------------------------------------------------

    def _arm_clock(self) -> None:
        """Make sure a durable timer fires at (or before) the case's next deadline."""
        # The clock fires when the tick, decided by the same rule, finds a validity ended.
        deadline = next_deadline(self._state, lambda: workflow.patched(OFFICE_DAY_ENDS_PATCH),
                                 lambda: workflow.patched(OFFICE_DAY_STARTS_PATCH))
        if deadline is None or any(t <= deadline for t in self._timers):
            return
        if not self._clock_rules():
            return  # a case started before clocks existed keeps replaying as it ran
        self._timers.add(deadline)
        asyncio.create_task(self._sleep_until(deadline))

    async def _sleep_until(self, deadline: datetime) -> None:
        wait = (deadline - workflow.now()).total_seconds()
        if wait > 0:
            await workflow.sleep(wait, summary=f"next deadline {deadline.isoformat()}")
        self._timers.discard(deadline)
        self._tick_due = True
