"""``decide``: a command and the case's state in, the events it produces out (or a rejection)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from domain import events as ev
from domain.engine.case_rules import check_completion
from domain.engine.clocks import decide_tick
from domain.engine.commands import (
    AddNote,
    CaseAction,
    Command,
    CompleteTask,
    CorrectMember,
    HoldCase,
    OpenSplitCase,
    ReassignTask,
    ReferCase,
    ResumeCase,
    SplitCase,
    Tick,
    WithdrawCase,
)
from domain.engine.context import DecisionContext, in_force
from domain.engine.corrections import decide_correction
from domain.engine.draft import Draft, reject
from domain.engine.flow import advance, cancel_escalations_of, close, day_end, enter_stage, within_limit
from domain.engine.form_validation import check_json_booleans, validate_form
from domain.engine.split import decide_open_split, decide_split
from domain.errors import RejectionCode
from domain.model import CaseStatus, Member, Referral, Stage
from domain.offices import DEFAULT_TIME_ZONE, local_time, zone_label
from domain.programmes.registry import definition_of, profile_of
from domain.state import CaseState, TaskState
from domain.tasks import EngineTask


def referral_fingerprint(referral: Referral) -> str:
    """Digest of a referral's content: the same referral resent is not a conflict."""
    return hashlib.sha256(referral.model_dump_json().encode()).hexdigest()[:32]


def decide(state: CaseState | None, command: Command, ctx: DecisionContext) -> list[ev.RecordedEvent]:
    """Decide which events a command produces, or raise ``CommandRejected``."""
    if isinstance(command, ReferCase):
        return _decide_referral(state, command, ctx)
    if isinstance(command, OpenSplitCase):
        return decide_open_split(state, command, ctx)
    if state is None:
        raise reject(RejectionCode.CASE_NOT_FOUND, "the case has not been referred")
    draft = Draft(state, ctx, state.case_id)
    if isinstance(command, Tick):
        decide_tick(draft)
        return draft.recorded
    if state.status == CaseStatus.CLOSED:
        raise reject(RejectionCode.CASE_CLOSED, f"case {state.case_id} is closed ({state.closure_reason})")
    if isinstance(command, CompleteTask):
        _decide_completion(draft, command)
    else:
        _decide_action(draft, command)
    return draft.recorded


def _decide_action(draft: Draft, command: CaseAction) -> None:
    state = draft.s
    if isinstance(command, WithdrawCase):
        draft.emit(ev.CaseWithdrawn(reason=command.reason))
        close(draft, "withdrawn")
    elif isinstance(command, HoldCase):
        if state.status == CaseStatus.ON_HOLD:
            raise reject(RejectionCode.CASE_ON_HOLD, f"case {state.case_id} is already on hold")
        draft.emit(ev.CaseHeld(reason=command.reason))
    elif isinstance(command, ResumeCase):
        if state.status != CaseStatus.ON_HOLD or state.held_at is None:
            raise reject(RejectionCode.NOT_ON_HOLD, f"case {state.case_id} is not on hold")
        held_since = state.held_at
        from_opening = (any(t.opened_at > held_since for t in state.open_tasks)
                        and in_force(draft.ctx.hold_from_opening))
        draft.emit(ev.CaseResumed(reason=command.reason, held_since=held_since, from_opening=from_opening))
    elif isinstance(command, ReassignTask):
        task = _open_task(state, command.task_id)
        draft.emit(ev.TaskReassigned(task_id=task.task_id, assignee=command.assignee, reason=command.reason))
    elif isinstance(command, AddNote):
        draft.emit(ev.NoteAdded(text=command.text))
    elif isinstance(command, CorrectMember):
        decide_correction(draft, command)
    elif isinstance(command, SplitCase):
        decide_split(draft, command)
    else:
        programme = profile_of(state)
        action = programme.actions.get(command.kind)
        if action is None:
            raise reject(RejectionCode.WRONG_PROGRAMME,
                         f"case {state.case_id} is a {programme.title} case, which has no "
                         f"'{command.kind.replace('_', ' ')}' action (withdraw the case instead)")
        action(draft, command)


def _decide_referral(state: CaseState | None, command: ReferCase, ctx: DecisionContext) -> list[ev.RecordedEvent]:
    fingerprint = referral_fingerprint(command.referral)
    if state is not None:
        if state.referral_fingerprint != fingerprint:
            raise reject(
                RejectionCode.REFERRAL_CONFLICT,
                f"referral {command.referral.external_referral_id} is already case {state.case_id} "
                "with different data; correct the case instead of referring it again",
            )
        return []  # the same referral again: nothing new happened
    referral = command.referral
    programme = definition_of(referral.programme)
    members = [
        Member(member_id=f"{command.case_id}-M{i}", **m.model_dump())
        for i, m in enumerate(referral.members, start=1)
    ]
    draft = Draft(None, ctx, command.case_id)
    draft.emit(
        ev.CaseReferred(
            case_id=command.case_id,
            programme=referral.programme,
            office=referral.office,
            priority=referral.priority,
            destination_country=referral.destination_country,
            origin_country=referral.origin_country,
            external_referral_id=referral.external_referral_id,
            members=members,
            referral_fingerprint=fingerprint,
            arrival_confirmation_days=command.arrival_confirmation_days,
            # UTC is what an event without a zone means: recorded only when it says more.
            office_time_zone=command.office_time_zone if command.office_time_zone != DEFAULT_TIME_ZONE else None,
            services=command.services,
            **programme.referral_terms(command),
        )
    )
    enter_stage(draft, Stage.REFERRAL)
    return draft.recorded


def _office_clock(moment: datetime, zone: str) -> str:
    """``2026-12-04 07:16 Istanbul time``: a moment as the case's office reads it (a refusal's
    message is shown to people; the exact moment stays in the case's events)."""
    label = zone_label(zone)
    return f"{local_time(moment, zone):%Y-%m-%d %H:%M} {label if label == 'UTC' else label + ' time'}"


def _open_task(state: CaseState, task_id: str) -> TaskState:
    task = state.tasks.get(task_id)
    if task is None:
        raise reject(RejectionCode.TASK_NOT_FOUND, f"case {state.case_id} has no task {task_id}")
    if task.status != "open":
        raise reject(
            RejectionCode.TASK_NOT_OPEN,
            f"task {task.task_id} is already {task.status}"
            + (f" (by {task.completed_by} at {_office_clock(task.completed_at, state.office_time_zone)})"
               if task.completed_at else ""),
        )
    return task


# What a group workflow records on its cases that has already happened (a task its programme
# marks ``group_fact``: a movement's departure or cancellation, its arrival, a session's
# attendance).  Sent by its fan-out (``CompleteTask.group``), such a fact is recorded on a case
# on hold too, which stays on hold (its SLA clocks paused, its next work waiting for the
# resume): a hold pauses the case, it does not erase what happened.  New work, such as a
# booking at a movement's lock, and everything a person does by hand, still waits for the resume.
def _fact_on_hold(ctx: DecisionContext, state: CaseState, task: TaskState, command: CompleteTask) -> bool:
    # The rule's flag is asked (in a workflow: patched) only by a completion it decides.
    return (command.group is not None and profile_of(state).spec(task.task_type).group_fact
            and in_force(ctx.facts_on_hold))


def _decide_completion(draft: Draft, command: CompleteTask) -> None:
    state = draft.s
    task = _open_task(state, command.task_id)
    held = state.status == CaseStatus.ON_HOLD
    if held and not _fact_on_hold(draft.ctx, state, task, command):
        raise reject(RejectionCode.CASE_ON_HOLD,
                     f"case {state.case_id} is on hold ({state.hold_reason}); a supervisor must resume it first")
    if task.stage != state.stage and task.task_type != EngineTask.RESOLVE_ESCALATION:
        raise reject(
            RejectionCode.WRONG_STAGE,
            f"task {task.task_id} belongs to stage '{task.stage}' but the case is in stage '{state.stage}'",
        )
    programme = profile_of(state)
    form = validate_form(task.task_type, command.form, today=draft.ctx.today(state.office_time_zone),
                         now=local_time(draft.ctx.now, state.office_time_zone),
                         programme=state.programme, admission=draft.ctx.admission_rules)
    if draft.ctx.admission_rules:
        check_json_booleans(task.task_type, form, command.form)
    check_completion(state, task, form, draft.ctx)
    draft.emit(ev.completion_event(task.task_type, form, task_id=task.task_id, member_id=task.member_id,
                                   **programme.completion_context(state, task)))
    cancel_escalations_of(draft, task.task_id, "the overdue task was completed")
    _follow_up(draft, task, form)
    advance(draft)
    if held and draft.s.status == CaseStatus.CLOSED:
        # A fact recorded on a held case moves it on, but never closes it: closing would end
        # the hold with no one resuming it (the supervisor's concern gone unseen).
        raise reject(RejectionCode.CASE_ON_HOLD,
                     f"case {state.case_id} is on hold ({state.hold_reason}) and this {task.task_type} would close "
                     f"it: it is not recorded; once a supervisor resumes the case, record it on the case's own "
                     f"{task.task_type} task, which stays open")


def _follow_up(draft: Draft, task: TaskState, form: object) -> None:
    """What a completion opens besides the normal flow: the engine's own tasks' outcomes,
    then the programme's branches."""
    state = draft.s
    if task.task_type == EngineTask.REVIEW_OUTCOME and form.decision == "close":  # type: ignore[attr-defined]
        close(draft, profile_of(state).review_closure_reason(state))
    elif task.task_type == EngineTask.RESOLVE_ESCALATION:
        new_due = form.new_due_date  # type: ignore[attr-defined]
        if new_due and task.escalated_task_id:
            escalated = state.tasks[task.escalated_task_id]
            if escalated.status == "open":
                due = within_limit(state, escalated, day_end(state, new_due, draft.ctx.office_day_ends), draft.ctx)
                draft.emit(ev.TaskDueDateChanged(task_id=escalated.task_id, due_at=due,
                                                 reason=form.action_taken))  # type: ignore[attr-defined]
    else:
        profile_of(state).follow_up(draft, task, form)
