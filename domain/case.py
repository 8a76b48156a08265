"""The case core: ``decide`` turns a command into events, ``evolve`` folds events into state.

Both are pure functions of their inputs (no clock, no randomness, no I/O): the caller
passes the time, the actor and an event-id factory in a ``DecisionContext``.  That is
what lets the same code run inside a Temporal workflow (deterministic replay), in the
projection rebuild, in "state as of time T", and in unit tests without Temporal.

Clocks are part of the same core: ``next_deadline(state)`` says when the case next needs
attention (an SLA due date, a clearance or visa expiry, the opening of the fit-to-travel
checks, an AVRR monitoring visit), and the ``Tick`` command decides what that moment
changes.  The workflow only keeps a durable timer for the next deadline.

One core serves both programmes.  What differs between resettlement and AVRR (stage
order, next-step rules, review decisions, closure reasons) comes from the case's
``ProgrammeProfile`` (``domain.programmes``); AVRR's own task types have their own
branches below, keyed by task type like every other task.
"""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, ValidationError

from domain import events as ev
from domain.errors import CommandRejected, RejectionCode
from domain.model import (
    Actor,
    CaseStatus,
    Member,
    MemberIn,
    Priority,
    Programme,
    Referral,
    Relationship,
    Stage,
)
from domain.programmes import profile_of
from domain.sla import due_at
from domain.state import (  # re-exported: the state models are part of the core's interface
    AvrrProgress,
    CaseState,
    MemberProgress,
    MonitoringVisit,
    Movement,
    PlanItem,
    TaskState,
)
from domain.tasks import TASK_SPECS, TaskType

__all__ = ["AvrrProgress", "CaseState", "MemberProgress", "MonitoringVisit", "Movement", "PlanItem", "TaskState"]

FIT_TO_TRAVEL_WINDOW = timedelta(hours=72)
ESCALATION_DUE = timedelta(hours=24)
CORRECTABLE_MEMBER_FIELDS = ("full_name", "date_of_birth", "sex", "nationality", "relationship")
DEFAULT_MONITORING_MONTHS = (3, 6, 12)


# --- commands ----------------------------------------------------------------------------


class ReferCase(BaseModel):
    case_id: str
    referral: Referral
    arrival_confirmation_days: int = 3
    # AVRR: months after arrival at which monitoring visits are due (None: the default 3, 6, 12)
    monitoring_months: list[int] | None = None


class CompleteTask(BaseModel):
    task_id: str
    form: dict[str, Any]


class Tick(BaseModel):
    """A durable timer fired: apply whatever the clock has made due."""

    kind: Literal["tick"] = "tick"


class WithdrawCase(BaseModel):
    kind: Literal["withdraw"] = "withdraw"
    reason: str = Field(min_length=1, max_length=2000)


class HoldCase(BaseModel):
    kind: Literal["hold"] = "hold"
    reason: str = Field(min_length=1, max_length=2000)


class ResumeCase(BaseModel):
    kind: Literal["resume"] = "resume"
    reason: str = Field(min_length=1, max_length=2000)


class ReassignTask(BaseModel):
    kind: Literal["reassign"] = "reassign"
    task_id: str
    assignee: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$")
    reason: str = Field(min_length=1, max_length=2000)


class AddNote(BaseModel):
    kind: Literal["note"] = "note"
    text: str = Field(min_length=1, max_length=4000)


class CorrectMember(BaseModel):
    kind: Literal["correct_member"] = "correct_member"
    member_id: str
    changes: dict[str, Any]
    reason: str = Field(min_length=1, max_length=2000)


class WithdrawConsent(BaseModel):
    """AVRR: the migrant withdrew their consent to return.  Recorded by a caseworker; it stops
    the case at once, whatever its stage."""

    kind: Literal["withdraw_consent"] = "withdraw_consent"
    withdrawn_by: str = Field(min_length=1, max_length=200)
    withdrawn_on: date
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]
    reason: str = Field(min_length=1, max_length=2000)


CaseAction = WithdrawCase | HoldCase | ResumeCase | ReassignTask | AddNote | CorrectMember | WithdrawConsent
Command = ReferCase | CompleteTask | Tick | CaseAction


@dataclass(frozen=True)
class DecisionContext:
    """What ``decide`` may know of the world: the time, who acts, and fresh event ids."""

    now: datetime
    actor: Actor
    new_event_id: Callable[[], str]
    # Rules that arrived after cases were already running: a workflow turns them on with
    # `workflow.patched`, so a case replays with the rules it ran under.
    fit_to_travel_checks: bool = True
    # Review rules: one supervisor review per decision point (a second negative outcome while
    # one is open joins it); a refused visa or travel document (or AVRR exit permission) keeps
    # the case in its stage, with a review open, until the supervisor decides, even after a
    # detour back to health; and a refusal cancels the escalations of the tasks it cancels.
    # A bool, or a callable asked only when a decision depends on the rules (the workflow's
    # `workflow.patched`, whose marker is then paid for only by the cases that need it).
    review_rules: bool | Callable[[], bool] = True
    # Admission rules only refuse a command and never shape the events of an accepted one
    # (the four-eyes rule).  The workflow applies them in its Update validators, which run
    # for every new command but not on replay, so adding one never breaks a running case.
    admission_rules: bool = True


def _in_force(rule: bool | Callable[[], bool]) -> bool:
    """A rule flag of the ``DecisionContext``: asked (and, in a workflow, patched) only here."""
    return rule() if callable(rule) else rule


def referral_fingerprint(referral: Referral) -> str:
    """Digest of a referral's content: the same referral resent is not a conflict."""
    return hashlib.sha256(referral.model_dump_json().encode()).hexdigest()[:32]


def _reject(code: RejectionCode, message: str, details: list[dict[str, Any]] | None = None) -> CommandRejected:
    return CommandRejected(code, message, details)


# --- decide ------------------------------------------------------------------------------


class _Draft:
    """Collects the events of one decision, applying each so later ones see its effect."""

    def __init__(self, state: CaseState | None, ctx: DecisionContext, case_id: str):
        self.state = state.model_copy(deep=True) if state is not None else None
        self.ctx = ctx
        self.case_id = case_id
        self.recorded: list[ev.RecordedEvent] = []

    @property
    def s(self) -> CaseState:
        assert self.state is not None
        return self.state

    def emit(self, event: Any) -> None:
        recorded = ev.RecordedEvent(
            event_id=self.ctx.new_event_id(),
            case_id=self.case_id,
            seq=(self.state.version if self.state else 0) + 1,
            occurred_at=self.ctx.now,
            actor=self.ctx.actor,
            event=event,
        )
        self.state = _apply(self.state, recorded)
        self.recorded.append(recorded)


def decide(state: CaseState | None, command: Command, ctx: DecisionContext) -> list[ev.RecordedEvent]:
    """Decide which events a command produces, or raise ``CommandRejected``."""
    if isinstance(command, ReferCase):
        return _decide_referral(state, command, ctx)
    if state is None:
        raise _reject(RejectionCode.CASE_NOT_FOUND, "the case has not been referred")
    draft = _Draft(state, ctx, state.case_id)
    if isinstance(command, Tick):
        _decide_tick(draft)
        return draft.recorded
    if state.status == CaseStatus.CLOSED:
        raise _reject(RejectionCode.CASE_CLOSED, f"case {state.case_id} is closed ({state.closure_reason})")
    if isinstance(command, CompleteTask):
        _decide_completion(draft, command)
    elif isinstance(command, WithdrawCase):
        draft.emit(ev.CaseWithdrawn(reason=command.reason))
        _close(draft, "withdrawn")
    elif isinstance(command, WithdrawConsent):
        _decide_consent_withdrawal(draft, command)
    elif isinstance(command, HoldCase):
        if state.status == CaseStatus.ON_HOLD:
            raise _reject(RejectionCode.CASE_ON_HOLD, f"case {state.case_id} is already on hold")
        draft.emit(ev.CaseHeld(reason=command.reason))
    elif isinstance(command, ResumeCase):
        if state.status != CaseStatus.ON_HOLD or state.held_at is None:
            raise _reject(RejectionCode.NOT_ON_HOLD, f"case {state.case_id} is not on hold")
        draft.emit(ev.CaseResumed(reason=command.reason, held_since=state.held_at))
    elif isinstance(command, ReassignTask):
        task = _open_task(state, command.task_id)
        draft.emit(ev.TaskReassigned(task_id=task.task_id, assignee=command.assignee, reason=command.reason))
    elif isinstance(command, AddNote):
        draft.emit(ev.NoteAdded(text=command.text))
    elif isinstance(command, CorrectMember):
        _decide_correction(draft, command)
    return draft.recorded


def _decide_consent_withdrawal(draft: _Draft, command: WithdrawConsent) -> None:
    state = draft.s
    if state.avrr is None:
        raise _reject(RejectionCode.WRONG_PROGRAMME,
                      f"case {state.case_id} is a {state.programme.value} case; consent withdrawal is for AVRR cases "
                      "(withdraw the case instead)")
    if command.withdrawn_on > draft.ctx.now.date():
        reason = f"must not be in the future (today is {draft.ctx.now.date().isoformat()})"
        raise _reject(RejectionCode.INVALID_FORM, f"the consent withdrawal is invalid: withdrawn_on: {reason}",
                      [{"field": "withdrawn_on", "reason": reason}])
    draft.emit(ev.ConsentWithdrawn(withdrawn_by=command.withdrawn_by, withdrawn_on=command.withdrawn_on,
                                   language=command.language, reason=command.reason))
    _close(draft, "consent_withdrawn")


def _decide_referral(state: CaseState | None, command: ReferCase, ctx: DecisionContext) -> list[ev.RecordedEvent]:
    fingerprint = referral_fingerprint(command.referral)
    if state is not None:
        if state.referral_fingerprint != fingerprint:
            raise _reject(
                RejectionCode.REFERRAL_CONFLICT,
                f"referral {command.referral.external_referral_id} is already case {state.case_id} "
                "with different data; correct the case instead of referring it again",
            )
        return []  # the same referral again: nothing new happened
    referral = command.referral
    members = [
        Member(member_id=f"{command.case_id}-M{i}", **m.model_dump())
        for i, m in enumerate(referral.members, start=1)
    ]
    draft = _Draft(None, ctx, command.case_id)
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
            monitoring_months=(list(command.monitoring_months or DEFAULT_MONITORING_MONTHS)
                               if referral.programme == Programme.AVRR else None),
        )
    )
    _enter_stage(draft, Stage.REFERRAL)
    return draft.recorded


def _open_task(state: CaseState, task_id: str) -> TaskState:
    task = state.tasks.get(task_id)
    if task is None:
        raise _reject(RejectionCode.TASK_NOT_FOUND, f"case {state.case_id} has no task {task_id}")
    if task.status != "open":
        raise _reject(
            RejectionCode.TASK_NOT_OPEN,
            f"task {task.task_id} is already {task.status}"
            + (f" (by {task.completed_by} at {task.completed_at.isoformat()})" if task.completed_at else ""),
        )
    return task


def _decide_completion(draft: _Draft, command: CompleteTask) -> None:
    state = draft.s
    task = _open_task(state, command.task_id)
    if state.status == CaseStatus.ON_HOLD:
        raise _reject(RejectionCode.CASE_ON_HOLD,
                      f"case {state.case_id} is on hold ({state.hold_reason}); a supervisor must resume it first")
    if task.stage != state.stage and task.task_type != TaskType.RESOLVE_ESCALATION:
        raise _reject(
            RejectionCode.WRONG_STAGE,
            f"task {task.task_id} belongs to stage '{task.stage}' but the case is in stage '{state.stage}'",
        )
    form = validate_form(task.task_type, command.form, today=draft.ctx.now.date())
    _check_against_case(state, task, form, draft.ctx)
    event_type = ev.completion_event(task.task_type, form)
    draft.emit(event_type(task_id=task.task_id, member_id=task.member_id, **form.model_dump(),
                          **_completion_context(state, task)))
    _cancel_escalations_of(draft, task.task_id, "the overdue task was completed")
    _follow_up(draft, task, form)
    _advance(draft)


def _completion_context(state: CaseState, task: TaskState) -> dict[str, Any]:
    """What a completion event records from the case besides the form."""
    if task.task_type == TaskType.RECORD_MONITORING_VISIT:
        visit = next(v for v in state.avrr_progress.monitoring if v.task_id == task.task_id)
        return {"visit_number": visit.number}
    return {}


def _opened_by(state: CaseState, task: TaskState) -> TaskState | None:
    """The completed task whose outcome opened ``task`` (the last one done before it opened)."""
    done = [t for t in state.tasks.values() if t.status == "completed" and t.completed_at is not None
            and t.completed_at <= task.opened_at and (task.member_id is None or t.member_id == task.member_id)]
    if task.task_type == TaskType.REVIEW_OUTCOME and task.stage == Stage.VISA:
        # A refusal's review may open again when the case comes back to the visa stage after
        # other work (a clearance expired meanwhile): the refusal opened it all the same.
        refused = {m for m, p in state.progress.items() if p.visa == "refused"}
        done = [t for t in done if t.member_id in refused and t.task_type in (
            TaskType.RECORD_VISA, TaskType.RECORD_TRAVEL_DOCUMENT)] or done
    return max(done, key=lambda t: (t.completed_at, t.task_id), default=None)


def _check_four_eyes(state: CaseState, task: TaskState, form: Any, ctx: DecisionContext) -> None:
    """Who put a member on medical hold may not release it; who recorded a rejection or
    refusal may not approve the case's resubmission."""
    releases_hold = task.task_type == TaskType.RECORD_TREATMENT
    resubmits = task.task_type == TaskType.REVIEW_OUTCOME and getattr(form, "decision", None) == "resubmit"
    if not (releases_hold or resubmits):
        return
    opener = _opened_by(state, task)
    if opener is not None and opener.completed_by == ctx.actor.id:
        what = "release the medical hold you recorded" if releases_hold else "approve the resubmission of a decision you recorded"
        raise _reject(RejectionCode.FOUR_EYES,
                      f"four-eyes rule: {ctx.actor.id} may not {what} (task {opener.task_id}); another person must")


def _check_against_case(state: CaseState, task: TaskState, form: Any, ctx: DecisionContext) -> None:
    """Rules that need the case as well as the form."""
    if ctx.admission_rules:
        _check_four_eyes(state, task, form, ctx)
    if task.task_type == TaskType.CHECK_FIT_TO_TRAVEL and state.movement is not None:
        earliest = state.movement.departure_at - FIT_TO_TRAVEL_WINDOW
        if form.checked_at < earliest:
            raise _invalid(task, "checked_at", f"must be within 72 hours before the booked departure "
                                               f"({state.movement.departure_at.isoformat()}), i.e. after {earliest.isoformat()}")
    if task.task_type == TaskType.RECORD_DEPARTURE and form.outcome == "departed" and ctx.fit_to_travel_checks:
        stale = [
            m.full_name for m in state.members
            if (at := state.progress[m.member_id].fit_to_travel_at) is None
            or not (form.departed_at - FIT_TO_TRAVEL_WINDOW <= at <= form.departed_at)
        ]
        if stale:
            raise _reject(
                RejectionCode.FIT_TO_TRAVEL_MISSING,
                "departure refused: no fit-to-travel check within the 72 hours before departure for "
                f"{', '.join(stale)}; record the flight as postponed and rebook, so new checks open",
            )
    if task.task_type == TaskType.REVIEW_OUTCOME:
        allowed = profile_of(state).review_decisions(state)
        if form.decision not in allowed:
            raise _invalid(task, "decision", f"'{form.decision}' is not possible here; allowed: {', '.join(allowed)}")
        if form.decision == "resubmit" and form.destination_country == state.destination_country:
            raise _invalid(task, "destination_country", "must differ from the current destination")
    if task.task_type == TaskType.CONFIRM_ARRIVAL and state.departed_at and form.arrived_on < state.departed_at.date():
        raise _invalid(task, "arrived_on", f"must not be before the departure ({state.departed_at.date().isoformat()})")
    if (task.task_type == TaskType.CONFIRM_ARRIVAL and profile_of(state).arrival_needs_partner
            and form.receiving_partner is None):
        raise _invalid(task, "receiving_partner", "required for AVRR: the receiving office or partner that "
                                                  "confirmed the reception at origin")
    if state.avrr is not None:
        _check_avrr(state, task, form)


def _check_avrr(state: CaseState, task: TaskState, form: Any) -> None:
    """AVRR's rules that need the case as well as the form."""
    a = state.avrr_progress
    t = task.task_type
    if t == TaskType.RECORD_CONSENT and a.counselled_on and form.given_on < a.counselled_on:
        raise _invalid(task, "given_on", "informed consent follows the counselling "
                                         f"(held on {a.counselled_on.isoformat()})")
    if t == TaskType.RECONFIRM_CONSENT and a.consent_given_on and form.reconfirmed_on < a.consent_given_on:
        raise _invalid(task, "reconfirmed_on", f"must not be before the consent ({a.consent_given_on.isoformat()})")
    if t == TaskType.BOOK_MOVEMENT and a.escort_required and not a.escort_arranged:
        raise _reject(RejectionCode.ESCORT_NOT_ARRANGED,
                      "this return needs an escort: arrange it before booking the travel")
    if t == TaskType.RECORD_DEPARTURE and form.outcome == "departed" and a.consent_reconfirmed_on is None:
        raise _reject(RejectionCode.CONSENT_NOT_RECONFIRMED,
                      "departure refused: the migrant's consent has not been reconfirmed for this travel")
    if t == TaskType.RECORD_ASSISTANCE_DELIVERY:
        item = next((i for i in a.plan if i.number == form.item_number), None)
        if item is None:
            raise _invalid(task, "item_number", f"the plan has items 1 to {len(a.plan)}")
        if item.delivered_on is not None:
            raise _invalid(task, "item_number", f"item {item.number} was delivered on {item.delivered_on.isoformat()}; "
                           "undelivered: " + (", ".join(str(i.number) for i in a.plan if not i.delivered_on)))
        if a.plan_agreed_on and form.delivered_on < a.plan_agreed_on:
            raise _invalid(task, "delivered_on", f"must not be before the plan ({a.plan_agreed_on.isoformat()})")
    if t == TaskType.RECORD_MONITORING_VISIT and state.arrived_on and form.visited_on < state.arrived_on:
        raise _invalid(task, "visited_on", f"must not be before the arrival ({state.arrived_on.isoformat()})")


def _invalid(task: TaskState, field: str, reason: str) -> CommandRejected:
    return _reject(RejectionCode.INVALID_FORM, f"the {task.task_type.value} form is invalid: {field}: {reason}",
                   [{"field": field, "reason": reason, "type": "case_rule"}])


def _follow_up(draft: _Draft, task: TaskState, form: Any) -> None:
    """What a completion opens besides the normal flow: the branches."""
    state = draft.s
    t = task.task_type
    if t == TaskType.CONDUCT_INTERVIEW and form.outcome == "deferred":
        _open(draft, TaskType.CONDUCT_INTERVIEW, due=_end_of(form.follow_up_date))
    elif t == TaskType.CONDUCT_INTERVIEW and form.outcome == "rejected":
        _open_review(draft)
    elif t == TaskType.ASSESS_HEALTH and form.outcome == "treatment_required":
        _open(draft, TaskType.RECORD_TREATMENT, member_id=task.member_id)
    elif t == TaskType.ASSESS_HEALTH and form.outcome == "not_cleared":
        _open_review(draft)
    elif t == TaskType.RECORD_TREATMENT:
        _open(draft, profile_of(state).health_assessment, member_id=task.member_id)
    elif t == TaskType.RECORD_VISA and form.outcome == "refused":
        _cancel_for_refusal(draft, TaskType.RECORD_VISA, "a visa of the case was refused")
        _open_review(draft)
    elif t == TaskType.CHECK_FIT_TO_TRAVEL and form.outcome == "not_fit":
        _return_to(draft, Stage.HEALTH, reason="a member is not fit to travel")
        _open(draft, TaskType.RECORD_TREATMENT, member_id=task.member_id)
    elif t == TaskType.REVIEW_OUTCOME:
        if form.decision == "close":
            _close(draft, profile_of(state).review_closure_reason(state))
        elif form.decision == "resubmit":
            draft.emit(ev.CaseResubmitted(destination_country=form.destination_country,
                                          previous_destination_country=state.destination_country, reason=form.reason))
            _return_to(draft, Stage.REFERRAL, reason="resubmitted to another destination")
        # reassess / reapply: what was refused is pending again, and _advance opens it again
    elif t == TaskType.RESOLVE_ESCALATION and form.new_due_date and task.escalated_task_id:
        escalated = state.tasks[task.escalated_task_id]
        if escalated.status == "open":
            draft.emit(ev.TaskDueDateChanged(task_id=escalated.task_id, due_at=_end_of(form.new_due_date),
                                             reason=form.action_taken))
    elif t == TaskType.CONFIRM_ARRIVAL and profile_of(state).monitors_reintegration:
        _schedule_monitoring(draft)
    else:
        _follow_up_avrr(draft, task, form)


def _follow_up_avrr(draft: _Draft, task: TaskState, form: Any) -> None:
    """The branches of AVRR's own task types."""
    state = draft.s
    t = task.task_type
    if t == TaskType.ASSESS_ELIGIBILITY and form.outcome == "not_eligible":
        _open_review(draft)
    elif t == TaskType.SCREEN_VULNERABILITY:
        raised = _priority_after_screening(form)
        if raised is not None and raised.rank < state.priority.rank:
            draft.emit(ev.PriorityRaised(priority=raised, previous_priority=state.priority,
                                         reason="vulnerability screening: " + ", ".join(form.vulnerabilities)))
    elif t == TaskType.ASSESS_FIT_TO_TRAVEL and form.outcome == "treatment_required":
        _open(draft, TaskType.RECORD_TREATMENT, member_id=task.member_id)
    elif t == TaskType.ASSESS_FIT_TO_TRAVEL and form.outcome == "not_fit":
        _open_review(draft)
    elif t == TaskType.RECORD_TRAVEL_DOCUMENT and form.outcome == "refused":
        _cancel_for_refusal(draft, TaskType.RECORD_TRAVEL_DOCUMENT, "a travel document of the case was refused")
        _open_review(draft)
    elif t == TaskType.RECORD_EXIT_PERMISSION and form.outcome == "refused":
        _open_review(draft)
    elif t == TaskType.RECORD_MONITORING_VISIT and all(v.visited_on for v in state.avrr_progress.monitoring):
        _close(draft, "monitoring_completed")
    elif t == TaskType.CLOSE_REINTEGRATION and form.decision == "close":
        _close(draft, "reintegration_completed")


def _open_review(draft: _Draft) -> None:
    """A negative outcome goes to the supervisor: one review per decision point.  A review
    already open (a second member not cleared, or not fit) decides for every member its
    decision concerns ("reassess" makes every not-cleared member pending again)."""
    if any(t.task_type == TaskType.REVIEW_OUTCOME for t in draft.s.open_tasks) and _in_force(draft.ctx.review_rules):
        return
    _open(draft, TaskType.REVIEW_OUTCOME)


def _cancel_for_refusal(draft: _Draft, task_type: TaskType, reason: str) -> None:
    """A refusal cancels the case's other open tasks of its kind, and their escalations:
    no escalation outlives its task."""
    for other in [o for o in draft.s.open_tasks if o.task_type == task_type]:
        draft.emit(ev.TaskCancelled(task_id=other.task_id, reason=reason))
        if any(t.escalated_task_id == other.task_id for t in draft.s.open_tasks) and _in_force(
                draft.ctx.review_rules):
            _cancel_escalations_of(draft, other.task_id, reason)


def _priority_after_screening(form: Any) -> Priority | None:
    """The priority a vulnerability calls for: an unaccompanied minor or a victim of
    trafficking makes the case an emergency; medical needs or another vulnerability urgent."""
    if form.unaccompanied_minor or form.victim_of_trafficking:
        return Priority.EMERGENCY
    if form.medical_needs or form.other_vulnerability:
        return Priority.URGENT
    return None


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _schedule_monitoring(draft: _Draft) -> None:
    """Monitoring visits fall due at the configured months after the confirmed arrival; each
    one's task opens on the case's durable clock at the start of that day (UTC)."""
    state = draft.s
    assert state.arrived_on is not None
    visits = [ev.ScheduledVisit(number=n, months_after_arrival=months,
                                opens_at=datetime.combine(_add_months(state.arrived_on, months), time(0), tzinfo=UTC))
              for n, months in enumerate(state.avrr_progress.monitoring_months, start=1)]
    draft.emit(ev.MonitoringVisitsScheduled(visits=visits))


def _decide_correction(draft: _Draft, command: CorrectMember) -> None:
    state = draft.s
    member = state.member(command.member_id)
    if member is None:
        raise _reject(RejectionCode.MEMBER_NOT_FOUND, f"case {state.case_id} has no member {command.member_id}")
    unknown = sorted(set(command.changes) - set(CORRECTABLE_MEMBER_FIELDS))
    if unknown or not command.changes:
        raise _reject(RejectionCode.INVALID_FORM, "changes may hold only " + ", ".join(CORRECTABLE_MEMBER_FIELDS),
                      [{"field": f"changes.{f}", "reason": "not a correctable field",
                        "allowed": list(CORRECTABLE_MEMBER_FIELDS)} for f in unknown] or
                      [{"field": "changes", "reason": "nothing to correct"}])
    current = MemberIn.model_validate(member.model_dump(exclude={"member_id"}))
    try:
        # A date of birth in the future is an admission rule (validators only: a correction
        # recorded before the rule existed still replays as it was decided).
        today = {"today": draft.ctx.now.date()} if draft.ctx.admission_rules else None
        corrected = MemberIn.model_validate({**current.model_dump(), **command.changes}, context=today)
    except ValidationError as exc:
        raise _form_rejection("member correction", exc, prefix="changes") from None
    others = [m for m in state.members if m.member_id != member.member_id]
    principals = sum(m.relationship == Relationship.PRINCIPAL for m in others) + (
        corrected.relationship == Relationship.PRINCIPAL)
    if principals != 1:
        raise _reject(RejectionCode.INVALID_FORM, "a case has exactly one principal applicant",
                      [{"field": "changes.relationship", "reason": "would leave the case without exactly one principal"}])
    changed = {k: v for k, v in corrected.model_dump(mode="json").items() if v != current.model_dump(mode="json")[k]}
    if not changed:
        raise _reject(RejectionCode.INVALID_FORM, "the correction changes nothing",
                      [{"field": "changes", "reason": "every value is already recorded"}])
    previous = {k: current.model_dump(mode="json")[k] for k in changed}
    draft.emit(ev.MemberDataCorrected(member_id=member.member_id, changes=changed, previous=previous,
                                      reason=command.reason))


def validate_form(task_type: TaskType, data: dict[str, Any], *, today: date) -> Any:
    """Validate a completion form; the rejection names each field, the reason and the input."""
    model = TASK_SPECS[task_type].form
    try:
        return model.model_validate(data, context={"today": today})
    except ValidationError as exc:
        raise _form_rejection(f"{task_type.value} form", exc) from None


def _form_rejection(what: str, exc: ValidationError, prefix: str = "") -> CommandRejected:
    def loc(parts: tuple[Any, ...]) -> str:
        joined = ".".join(str(p) for p in parts)
        return ".".join(p for p in (prefix, joined) if p) or "form"

    errors = exc.errors(include_url=False, include_input=False)
    return _reject(
        RejectionCode.INVALID_FORM,
        f"the {what} is invalid: " + "; ".join(f"{loc(e['loc'])}: {e['msg']}" for e in errors),
        [{"field": loc(e["loc"]), "reason": e["msg"], "type": e["type"]}
         | ({"allowed": e["ctx"]["expected"]} if "expected" in (e.get("ctx") or {}) else {})
         for e in errors],
    )


# --- the flow ----------------------------------------------------------------------------


def _next_step(state: CaseState, stage: Stage, ctx: DecisionContext) -> tuple[TaskType, list[str | None]] | None:
    """The task(s) the stage needs next, given what is done; None when the stage is done.

    A refusal in the visa stage (a visa or travel document, or AVRR's exit permission) needs
    the supervisor's review before anything else there: the case does not pass the stage, and
    does not open its other visa tasks, until the review decides (resubmit, reapply or close).
    A detour back to health cancels an open review; the case meets it again on its way back."""
    if stage == Stage.VISA and _refusal_on_record(state) and _in_force(ctx.review_rules):
        return TaskType.REVIEW_OUTCOME, [None]
    return profile_of(state).next_step(state, stage, ctx.fit_to_travel_checks)


def _refusal_on_record(state: CaseState) -> bool:
    """A refusal of the visa stage that no review has decided on yet."""
    return any(p.visa == "refused" for p in state.progress.values()) or (
        state.avrr is not None and state.avrr.exit_permission == "refused")


def _in_flow(task: TaskState) -> bool:
    """An open task that holds its stage's flow back (escalations and monitoring visits do not)."""
    return task.status == "open" and not TASK_SPECS[task.task_type].beside_flow


def _stage_done(state: CaseState, stage: Stage, ctx: DecisionContext) -> bool:
    blocking = any(t.stage == stage and _in_flow(t) for t in state.tasks.values())
    return not blocking and not profile_of(state).holds(state, stage) and _next_step(state, stage, ctx) is None


def _advance(draft: _Draft) -> None:
    """Open the current stage's next step, or move to the next stage that has work."""
    state = draft.s
    if state.status == CaseStatus.CLOSED:
        return
    if any(t.stage == state.stage and _in_flow(t) for t in state.tasks.values()):
        return
    if state.stage == Stage.MOVEMENT and state.fit_to_travel_opens_at and state.fit_to_travel_opens_at > draft.ctx.now:
        return  # the fit-to-travel checks open on their timer
    if not _stage_done(state, state.stage, draft.ctx):
        _open_step(draft, state.stage)
        return
    profile = profile_of(state)
    for stage in profile.stages[profile.rank(state.stage) + 1:]:
        if stage == Stage.CLOSED:
            _close(draft, profile.completion_reason)
            return
        if not _stage_done(draft.s, stage, draft.ctx):
            _enter_stage(draft, stage)
            return


def _enter_stage(draft: _Draft, stage: Stage) -> None:
    previous = draft.s.stage if draft.s.version > 1 else None
    draft.emit(ev.StageEntered(stage=stage, previous_stage=previous))
    _open_step(draft, stage)


def _open_step(draft: _Draft, stage: Stage) -> None:
    step = _next_step(draft.s, stage, draft.ctx)
    if step is None:
        return
    task_type, members = step
    already = {t.member_id for t in draft.s.open_tasks if t.task_type == task_type}
    members = [m for m in members if m not in already]
    if task_type == TaskType.CHECK_FIT_TO_TRAVEL:
        assert draft.s.movement is not None
        opens_at = draft.s.movement.departure_at - FIT_TO_TRAVEL_WINDOW
        if opens_at > draft.ctx.now:
            if draft.s.fit_to_travel_opens_at != opens_at:
                draft.emit(ev.FitToTravelChecksScheduled(open_at=opens_at))
            return
    for member_id in members:
        _open(draft, task_type, member_id=member_id)


def _open(draft: _Draft, task_type: TaskType, *, member_id: str | None = None, due: datetime | None = None,
          escalates: str | None = None) -> None:
    state = draft.s
    spec = TASK_SPECS[task_type]
    stage = spec.stage or state.stage
    if due is None:
        if task_type == TaskType.CONFIRM_ARRIVAL and state.departed_at is not None:
            due = state.departed_at + timedelta(days=state.arrival_confirmation_days)
        elif task_type == TaskType.RECORD_DEPARTURE and state.movement is not None:
            due = state.movement.departure_at + timedelta(hours=12)
        elif task_type == TaskType.CHECK_FIT_TO_TRAVEL and state.movement is not None:
            due = state.movement.departure_at - timedelta(hours=6)
        elif task_type == TaskType.RECONFIRM_CONSENT and state.movement is not None:
            due = state.movement.departure_at
        elif escalates is not None:
            due = draft.ctx.now + ESCALATION_DUE
        else:
            due = due_at(stage, state.priority, draft.ctx.now)
    draft.emit(ev.TaskOpened(task_id=f"{state.case_id}-T{state.task_counter + 1:02d}", task_type=task_type,
                             stage=stage, member_id=member_id, due_at=due, escalated_task_id=escalates))


def _return_to(draft: _Draft, stage: Stage, *, reason: str) -> None:
    """Send the case back to an earlier stage: later work is cancelled, the booking dropped."""
    for task in draft.s.open_tasks:
        if task.task_type != TaskType.RESOLVE_ESCALATION:
            draft.emit(ev.TaskCancelled(task_id=task.task_id, reason=reason))
            _cancel_escalations_of(draft, task.task_id, reason)
    draft.emit(ev.StageEntered(stage=stage, previous_stage=draft.s.stage))


def _close(draft: _Draft, reason: str) -> None:
    for task in draft.s.open_tasks:
        draft.emit(ev.TaskCancelled(task_id=task.task_id, reason=f"case closed: {reason}"))
    draft.emit(ev.CaseClosed(reason=reason, stage=draft.s.stage))  # type: ignore[arg-type]


def _cancel_escalations_of(draft: _Draft, task_id: str, reason: str) -> None:
    for task in draft.s.open_tasks:
        if task.escalated_task_id == task_id:
            draft.emit(ev.TaskCancelled(task_id=task.task_id, reason=reason))


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


# --- clocks ------------------------------------------------------------------------------


def _expiry_moment(valid_until: date) -> datetime:
    """A clearance valid until a date is valid through that day (UTC)."""
    return _end_of(valid_until)


def next_deadline(state: CaseState | None) -> datetime | None:
    """When the case next needs the clock: the workflow sleeps until then, durably."""
    if state is None or state.status == CaseStatus.CLOSED:
        return None
    moments: list[datetime] = []
    if state.status != CaseStatus.ON_HOLD:  # SLA clocks pause on hold
        moments += [t.due_at for t in state.open_tasks if not t.overdue and TASK_SPECS[t.task_type].escalates]
    if state.departed_at is None:
        for p in state.progress.values():
            if p.health == "cleared" and p.clearance_valid_until:
                moments.append(_expiry_moment(p.clearance_valid_until))
            if p.visa == "issued" and p.visa_valid_until:
                moments.append(_expiry_moment(p.visa_valid_until))
        if state.fit_to_travel_opens_at is not None:
            moments.append(state.fit_to_travel_opens_at)
    if state.status != CaseStatus.ON_HOLD:  # a held case opens no monitoring visit; resume catches up
        moments += [v.opens_at for v in _visits_to_open(state)]
    return min(moments) if moments else None


def _visits_to_open(state: CaseState) -> list[MonitoringVisit]:
    return [v for v in state.avrr.monitoring if v.task_id is None] if state.avrr is not None else []


def _decide_tick(draft: _Draft) -> None:
    now = draft.ctx.now
    state = draft.s
    if state.status == CaseStatus.CLOSED:
        return
    if state.departed_at is None:
        expired = [m for m, p in state.progress.items()
                   if p.health == "cleared" and p.clearance_valid_until and _expiry_moment(p.clearance_valid_until) <= now]
        if expired:
            draft.emit(ev.MedicalClearanceExpired(member_ids=expired, expired_on=now.date()))
            _back_for_expiry(draft, Stage.HEALTH, "a medical clearance expired before departure")
        visas = [m for m, p in draft.s.progress.items()
                 if p.visa == "issued" and p.visa_valid_until and _expiry_moment(p.visa_valid_until) <= now]
        if visas:
            profile = profile_of(state)
            draft.emit(profile.document_expired(member_ids=visas, expired_on=now.date()))
            _back_for_expiry(draft, Stage.VISA, profile.document_expiry_reason)
        opens_at = draft.s.fit_to_travel_opens_at
        if opens_at is not None and opens_at <= now and draft.s.stage == Stage.MOVEMENT:
            _open_step(draft, Stage.MOVEMENT)
    if draft.s.status == CaseStatus.ACTIVE:
        for visit in _visits_to_open(draft.s):
            if visit.opens_at <= now:
                _open(draft, TaskType.RECORD_MONITORING_VISIT)  # evolve gives the task to this visit
    if draft.s.status == CaseStatus.ACTIVE:
        for task in list(draft.s.open_tasks):
            if not task.overdue and TASK_SPECS[task.task_type].escalates and task.due_at <= now:
                draft.emit(ev.TaskOverdue(task_id=task.task_id, due_at=task.due_at))
                _open(draft, TaskType.RESOLVE_ESCALATION, escalates=task.task_id)


def _back_for_expiry(draft: _Draft, stage: Stage, reason: str) -> None:
    order = profile_of(draft.s).rank
    if order(draft.s.stage) > order(stage):
        _return_to(draft, stage, reason=reason)
    if draft.s.stage == stage:
        _open_step(draft, stage)


# --- evolve ------------------------------------------------------------------------------


def evolve(state: CaseState | None, recorded: ev.RecordedEvent) -> CaseState:
    """The state after one more event.  Does not modify ``state``."""
    return _apply(state.model_copy(deep=True) if state is not None else None, recorded)


def fold(
    recorded: Iterable[ev.RecordedEvent], *, start: CaseState | None = None, as_of: datetime | None = None
) -> CaseState | None:
    """Case state from its events (after ``start``, which is not modified), optionally only
    the events that happened by ``as_of``: "the case as it stood on that day"."""
    state = start.model_copy(deep=True) if start is not None else None
    for r in recorded:
        if as_of is not None and r.occurred_at > as_of:
            break
        state = _apply(state, r)
    return state


def _apply(state: CaseState | None, recorded: ev.RecordedEvent) -> CaseState:
    """Apply one event in place (on a state the caller owns) and return it."""
    event, at = recorded.event, recorded.occurred_at
    if isinstance(event, ev.CaseReferred):
        state = CaseState(
            case_id=event.case_id, programme=event.programme, office=event.office, priority=event.priority,
            destination_country=event.destination_country, origin_country=event.origin_country,
            external_referral_id=event.external_referral_id, referral_fingerprint=event.referral_fingerprint,
            arrival_confirmation_days=event.arrival_confirmation_days, members=list(event.members),
            progress={m.member_id: MemberProgress() for m in event.members},
            referred_at=at, stage_entered_at=at, updated_at=at,
            avrr=(AvrrProgress(monitoring_months=event.monitoring_months or list(DEFAULT_MONITORING_MONTHS))
                  if event.programme == Programme.AVRR else None),
        )
    elif state is None:
        raise ValueError(f"event {recorded.seq} ({event.type}) precedes the case's CaseReferred")
    else:
        _apply_to_case(state, event, at, recorded.actor)
    state.version = recorded.seq
    state.updated_at = at
    return state


def _apply_to_case(state: CaseState, event: Any, at: datetime, actor: Actor) -> None:
    if isinstance(event, ev.StageEntered):
        state.stage, state.stage_entered_at = event.stage, at
        rank = profile_of(state).rank
        if event.previous_stage is not None and rank(event.stage) < rank(event.previous_stage) and rank(
                event.stage) < rank(Stage.MOVEMENT):
            _drop_booking(state)
    elif isinstance(event, ev.TaskOpened):
        state.task_counter += 1
        state.tasks[event.task_id] = TaskState(
            task_id=event.task_id, task_type=event.task_type, stage=event.stage, member_id=event.member_id,
            opened_at=at, due_at=event.due_at, escalated_task_id=event.escalated_task_id,
        )
        if event.task_type == TaskType.CHECK_FIT_TO_TRAVEL:
            state.fit_to_travel_opens_at = None  # the scheduled checks are open now
        if event.task_type == TaskType.RECORD_MONITORING_VISIT:
            next(v for v in state.avrr_progress.monitoring if v.task_id is None).task_id = event.task_id
    elif isinstance(event, ev.TaskCancelled):
        state.tasks[event.task_id].status = "cancelled"
        state.tasks[event.task_id].completed_at = at
    elif isinstance(event, ev.TaskOverdue):
        state.tasks[event.task_id].overdue = True
    elif isinstance(event, ev.TaskDueDateChanged):
        task = state.tasks[event.task_id]
        task.due_at, task.overdue = event.due_at, False
    elif isinstance(event, ev.TaskReassigned):
        state.tasks[event.task_id].assignee = event.assignee
    elif isinstance(event, ev.FitToTravelChecksScheduled):
        state.fit_to_travel_opens_at = event.open_at
    elif isinstance(event, ev.MedicalClearanceExpired):
        for member_id in event.member_ids:
            state.progress[member_id].health = "expired"
            state.progress[member_id].fit_to_travel_at = None
    elif isinstance(event, (ev.VisaExpired, ev.TravelDocumentExpired)):
        for member_id in event.member_ids:
            state.progress[member_id].visa = "expired"
    elif isinstance(event, ev.CaseResubmitted):
        state.destination_country = event.destination_country
        state.referral_verified = False
        state.interview = "pending"
        state.progress = {m.member_id: MemberProgress() for m in state.members}
        _drop_booking(state)
    elif isinstance(event, ev.CaseHeld):
        state.status, state.held_at, state.hold_reason = CaseStatus.ON_HOLD, at, event.reason
    elif isinstance(event, ev.CaseResumed):
        paused = at - event.held_since
        for task in state.open_tasks:
            if not task.overdue:
                task.due_at = task.due_at + paused
        state.status, state.held_at, state.hold_reason = CaseStatus.ACTIVE, None, None
    elif isinstance(event, ev.MemberDataCorrected):
        member = state.member(event.member_id)
        assert member is not None
        index = state.members.index(member)
        state.members[index] = Member.model_validate({**member.model_dump(), **event.changes})
    elif isinstance(event, ev.CaseClosed):
        state.stage, state.status, state.closure_reason, state.closed_at = Stage.CLOSED, CaseStatus.CLOSED, event.reason, at
        state.held_at = None
    elif isinstance(event, ev.TaskCompletion):
        task = state.tasks[event.task_id]
        task.status, task.completed_at, task.completed_by = "completed", at, actor.id
        _apply_completion(state, event)
        if state.avrr is not None:
            _apply_avrr_completion(state, state.avrr, event)
    elif isinstance(event, ev.ConsentWithdrawn):
        state.avrr_progress.consent = "withdrawn"
    elif isinstance(event, ev.PriorityRaised):
        state.priority = event.priority
    elif isinstance(event, ev.MonitoringVisitsScheduled):
        state.avrr_progress.monitoring = [MonitoringVisit(**v.model_dump()) for v in event.visits]
    # CaseWithdrawn, NoteAdded, OutcomeReviewed, EscalationResolved: history only (closure follows separately)


def _drop_booking(state: CaseState) -> None:
    state.movement = None
    state.fit_to_travel_opens_at = None
    for p in state.progress.values():
        p.fit_to_travel_at = None
    if state.avrr is not None:
        state.avrr.consent_reconfirmed_on = None  # consent is reconfirmed for the flight actually taken


def _apply_completion(state: CaseState, event: ev.TaskCompletion) -> None:
    progress = state.progress.get(event.member_id) if event.member_id else None
    if isinstance(event, ev.ReferralVerified):
        state.referral_verified = True
    elif isinstance(event, ev.InterviewCompleted):
        state.interview = "pending" if event.outcome == "deferred" else event.outcome
    elif isinstance(event, ev.HealthAssessmentRecorded) and progress is not None:
        progress.health = event.outcome
        progress.clearance_valid_until = event.clearance_valid_until
        progress.follow_up_needed = event.follow_up_needed
    elif isinstance(event, ev.TreatmentRecorded) and progress is not None:
        progress.health = "pending"
    elif isinstance(event, ev.OutcomeReviewed) and event.decision == "reassess":
        for p in state.progress.values():
            if p.health == "not_cleared":
                p.health = "pending"
        if state.avrr is not None and state.avrr.eligibility == "not_eligible":
            state.avrr.eligibility = "pending"
    elif isinstance(event, ev.OutcomeReviewed) and event.decision == "reapply":
        for p in state.progress.values():
            if p.visa == "refused":
                p.visa = "pending"
        if state.avrr is not None and state.avrr.exit_permission == "refused":
            state.avrr.exit_permission = "pending"
    elif isinstance(event, ev.OrientationAttended) and progress is not None:
        progress.orientation = "attended"
    elif isinstance(event, ev.VisaIssued) and progress is not None:
        progress.visa = "issued"
        progress.visa_valid_until = event.valid_until
    elif isinstance(event, ev.VisaRefused) and progress is not None:
        progress.visa = "refused"
    elif isinstance(event, ev.MovementBooked):
        state.movement = Movement(flight_number=event.flight_number, departure_at=event.departure_at,
                                  departure_airport=event.departure_airport, arrival_airport=event.arrival_airport)
        state.fit_to_travel_opens_at = None
        for p in state.progress.values():
            p.fit_to_travel_at = None
    elif isinstance(event, ev.FitToTravelChecked) and progress is not None:
        progress.fit_to_travel_at = event.checked_at if event.outcome == "fit" else None
        if event.outcome == "not_fit":
            progress.health = "treatment_required"
    elif isinstance(event, (ev.MovementNoShow, ev.MovementPostponed)):
        _drop_booking(state)
    elif isinstance(event, ev.CaseDeparted):
        state.departed_at = event.departed_at
    elif isinstance(event, ev.ArrivalConfirmed):
        state.arrived_on = event.arrived_on
        state.arrival_place = event.place


def _apply_avrr_completion(state: CaseState, a: AvrrProgress, event: ev.TaskCompletion) -> None:
    progress = state.progress.get(event.member_id) if event.member_id else None
    if isinstance(event, ev.CounsellingRecorded):
        a.counselled_on = event.session_date
    elif isinstance(event, ev.ConsentRecorded):
        a.consent, a.consent_given_on = "given", event.given_on
    elif isinstance(event, ev.EligibilityAssessed):
        a.eligibility = event.outcome
    elif isinstance(event, ev.VulnerabilityScreened):
        a.vulnerability_screened = True
        a.vulnerabilities = sorted(set(a.vulnerabilities) | set(event.vulnerabilities))
        a.escort_required = a.escort_required or event.escort_required
    elif isinstance(event, ev.FitToTravelAssessed) and progress is not None:
        progress.health = {"fit": "cleared", "treatment_required": "treatment_required",
                           "not_fit": "not_cleared"}[event.outcome]  # type: ignore[assignment]
        a.escort_required = a.escort_required or event.medical_escort_required
    elif isinstance(event, ev.PredepartureCounsellingRecorded):
        a.predeparture_counselled = True
    elif isinstance(event, ev.TravelDocumentIssued) and progress is not None:
        progress.visa, progress.visa_valid_until = "issued", event.valid_until
    elif isinstance(event, ev.TravelDocumentRefused) and progress is not None:
        progress.visa = "refused"
    elif isinstance(event, ev.ExitPermissionGranted):
        a.exit_permission = "granted"
    elif isinstance(event, ev.ExitPermissionRefused):
        a.exit_permission = "refused"
    elif isinstance(event, ev.EscortArranged):
        a.escort_arranged = True
    elif isinstance(event, ev.ConsentReconfirmed):
        a.consent_reconfirmed_on = event.reconfirmed_on
    elif isinstance(event, ev.ReintegrationPlanRecorded):
        a.plan_agreed_on = event.agreed_on
        a.plan = [PlanItem(number=n, **item.model_dump()) for n, item in enumerate(event.items, start=1)]
    elif isinstance(event, ev.AssistanceDelivered):
        a.plan[event.item_number - 1].delivered_on = event.delivered_on
    elif isinstance(event, ev.MonitoringVisitRecorded):
        visit = a.monitoring[event.visit_number - 1]
        visit.visited_on, visit.reintegration_score = event.visited_on, event.reintegration_score
    elif isinstance(event, ev.ReintegrationClosureDecided) and event.decision == "continue_monitoring":
        a.closure_review = "continue_monitoring"
