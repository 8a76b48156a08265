"""The stage flow: which task opens next, when a stage is done, moving on, going back, closing.

A stage is done when no task of it holds the flow, the programme does not hold it, and the
programme's next-step rule asks for nothing more.  ``advance`` then enters the next stage
of the programme that has work, or closes the case when none is left.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from domain import events as ev
from domain.engine.context import DecisionContext, in_force
from domain.engine.draft import Draft
from domain.model import CaseStatus, Stage
from domain.offices import DEFAULT_TIME_ZONE, time_zone
from domain.programmes.definition import Step
from domain.programmes.registry import profile_of
from domain.sla import due_at
from domain.state import CaseState, TaskState
from domain.tasks import EngineTask, TaskSpec

ESCALATION_DUE = timedelta(hours=24)
DUE_GRACE = timedelta(hours=1)
"""The least time a person has for a task whose own due rule would make it due sooner (a
fit-to-travel check opened for a flight less than six hours away): it is due this long after
it opens, but never after its spec's ``due_limit`` (the departure)."""


def next_step(state: CaseState, stage: Stage, ctx: DecisionContext) -> Step:
    """The task(s) the stage needs next, given what is done; None when the stage is done."""
    return profile_of(state).next_step(state, stage, ctx)


def in_flow(state: CaseState, task: TaskState) -> bool:
    """An open task that holds its stage's flow back (escalations and monitoring visits do not)."""
    return task.status == "open" and not profile_of(state).spec(task.task_type).beside_flow


def stage_done(state: CaseState, stage: Stage, ctx: DecisionContext) -> bool:
    blocking = any(t.stage == stage and in_flow(state, t) for t in state.tasks.values())
    return not blocking and not profile_of(state).holds(state, stage) and next_step(state, stage, ctx) is None


def advance(draft: Draft) -> None:
    """Open the current stage's next step, or move to the next stage that has work."""
    state = draft.s
    if state.status == CaseStatus.CLOSED:
        return
    if any(t.stage == state.stage and in_flow(state, t) for t in state.tasks.values()):
        return
    programme = profile_of(state)
    if programme.waits(state, draft.ctx.now):
        return  # the next step opens on its timer
    if not stage_done(state, state.stage, draft.ctx):
        open_step(draft, state.stage)
        return
    for stage in programme.stages[programme.rank(state.stage) + 1:]:
        if skipped(draft.s, stage):
            continue
        if stage == Stage.CLOSED:
            close(draft, programme.completion_reason)
            return
        if not stage_done(draft.s, stage, draft.ctx):
            enter_stage(draft, stage)
            return


def skipped(state: CaseState, stage: Stage) -> bool:
    """The case's destination runs this stage itself (its profile as recorded at referral)."""
    return state.services is not None and state.services.skips(
        stage, destination_country=state.destination_country, optional_stages=profile_of(state).optional_stages)


def enter_stage(draft: Draft, stage: Stage) -> None:
    previous = draft.s.stage if draft.s.version > 1 else None
    draft.emit(ev.StageEntered(stage=stage, previous_stage=previous))
    open_step(draft, stage)


def open_step(draft: Draft, stage: Stage) -> None:
    step = next_step(draft.s, stage, draft.ctx)
    if step is None:
        return
    task_type, members = step
    already = {t.member_id for t in draft.s.open_tasks if t.task_type == task_type}
    members = [m for m in members if m not in already]
    spec = profile_of(draft.s).spec(task_type)
    if spec.opens_later is not None and spec.opens_later(draft):
        return
    for member_id in members:
        open_task(draft, task_type, member_id=member_id)
    if spec.beside_flow and members:
        # Opened beside the flow (e.g. the host state's exit permission, with the booking): it
        # does not hold the stage, whose own next step opens too.  (The programme's next step
        # asks for it only while none is open, so this ends.)  No next step returned a task
        # beside the flow before: cases that ran before this replay unchanged.
        open_step(draft, stage)


def open_task(draft: Draft, task_type: str, *, member_id: str | None = None, due: datetime | None = None,
              escalates: str | None = None) -> None:
    state = draft.s
    spec = profile_of(state).spec(task_type)
    stage = spec.stage or state.stage
    if due is None and spec.due is not None:
        due = spec.due(state, draft.ctx.now)
        if due is not None:
            due = reachable_due(state, spec, due, draft.ctx)
    if due is None:
        due = draft.ctx.now + ESCALATION_DUE if escalates is not None else due_at(stage, state.priority, draft.ctx.now)
    draft.emit(ev.TaskOpened(task_id=f"{state.case_id}-T{state.task_counter + 1:02d}", task_type=task_type,
                             stage=stage, member_id=member_id, due_at=due, escalated_task_id=escalates))


def open_review(draft: Draft) -> None:
    """A negative outcome goes to the supervisor: one review per decision point.  A review
    already open (a second member not cleared, or not fit) decides for every member its
    decision concerns ("reassess" makes every not-cleared member pending again)."""
    if any(t.task_type == EngineTask.REVIEW_OUTCOME for t in draft.s.open_tasks) and in_force(draft.ctx.review_rules):
        return
    open_task(draft, EngineTask.REVIEW_OUTCOME)


def cancel_for_refusal(draft: Draft, task_type: str, reason: str) -> None:
    """A refusal cancels the case's other open tasks of its kind, and their escalations:
    no escalation outlives its task."""
    for other in [o for o in draft.s.open_tasks if o.task_type == task_type]:
        draft.emit(ev.TaskCancelled(task_id=other.task_id, reason=reason))
        if any(t.escalated_task_id == other.task_id for t in draft.s.open_tasks) and in_force(
                draft.ctx.review_rules):
            cancel_escalations_of(draft, other.task_id, reason)


def return_to(draft: Draft, stage: Stage, *, reason: str) -> None:
    """Send the case back to an earlier stage: later work is cancelled (the programme drops
    what the later stages had arranged when it folds the ``StageEntered``)."""
    for task in draft.s.open_tasks:
        if task.task_type != EngineTask.RESOLVE_ESCALATION:
            draft.emit(ev.TaskCancelled(task_id=task.task_id, reason=reason))
            cancel_escalations_of(draft, task.task_id, reason)
    draft.emit(ev.StageEntered(stage=stage, previous_stage=draft.s.stage))


def close(draft: Draft, reason: str) -> None:
    for task in draft.s.open_tasks:
        draft.emit(ev.TaskCancelled(task_id=task.task_id, reason=f"case closed: {reason}"))
    draft.emit(ev.CaseClosed(reason=reason, stage=draft.s.stage))  # type: ignore[arg-type]


def cancel_escalations_of(draft: Draft, task_id: str, reason: str) -> None:
    for task in draft.s.open_tasks:
        if task.escalated_task_id == task_id:
            draft.emit(ev.TaskCancelled(task_id=task.task_id, reason=reason))


def reachable_due(state: CaseState, spec: TaskSpec, due: datetime, ctx: DecisionContext) -> datetime:
    """A due a person can meet: not before the task opens plus ``DUE_GRACE``, and never after
    the spec's ``due_limit`` (a task that could only open overdue was escalated at once, one
    supervisor escalation per member).  Cases decided before the rule keep their dues."""
    earliest = ctx.now + DUE_GRACE
    if due >= earliest or not in_force(ctx.reachable_dues):
        return due
    limit = spec.due_limit(state) if spec.due_limit is not None else None
    return min(earliest, limit) if limit is not None and limit > due else earliest


def within_limit(state: CaseState, task: TaskState, due: datetime, ctx: DecisionContext) -> datetime:
    """A new due date given to ``task`` (a resolved escalation's) ends no later than its spec's
    ``due_limit``: a fit-to-travel check given the day of its flight is due at the departure,
    not at midnight after it (under ``ctx.reachable_dues``, asked only then)."""
    spec = profile_of(state).spec(task.task_type)
    limit = spec.due_limit(state) if spec.due_limit is not None else None
    if limit is None or due <= limit or not in_force(ctx.reachable_dues):
        return due
    return limit


def end_of(day: date, zone: str = DEFAULT_TIME_ZONE) -> datetime:
    """The end of a day in ``zone`` (midnight after it there, in UTC), when a task due "on"
    that day is overdue."""
    local = datetime.combine(day + timedelta(days=1), time(0), tzinfo=time_zone(zone))
    return local.astimezone(UTC)


DayEnds = bool | Callable[[], bool]
"""``DecisionContext.office_day_ends``: whether a day ends in the case's office or in UTC."""


def day_end(state: CaseState, day: date, office_day_ends: DayEnds) -> datetime:
    """The end of ``day`` as the case's office sees it (``CaseState.office_time_zone``): a due
    date of 5 December ends at midnight in Istanbul, not at 03:00 the next day; a clearance,
    visa or exit permission valid until a day is valid through that day there.  Cases decided
    before the rule (``ctx.office_day_ends``, asked only for an office not in UTC) keep the
    UTC day."""
    zone = state.office_time_zone
    if zone == DEFAULT_TIME_ZONE or not in_force(office_day_ends):
        return end_of(day)
    return end_of(day, zone)


def day_start(state: CaseState, day: date, office_day_starts: DayEnds) -> datetime:
    """The start of ``day`` as the case's office sees it: a monitoring visit due on
    5 March opens, and a child born on 5 March turns 18, at midnight in Istanbul, not at
    03:00 there.  Cases decided before the rule (``ctx.office_day_starts``, asked only for an
    office not in UTC) keep the UTC day."""
    zone = state.office_time_zone
    if zone == DEFAULT_TIME_ZONE or not in_force(office_day_starts):
        return end_of(day - timedelta(days=1))
    return end_of(day - timedelta(days=1), zone)
