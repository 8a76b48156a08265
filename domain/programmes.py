"""Programme profiles: everything that differs between resettlement and AVRR, in one place.

Both programmes run on one engine (``domain.case``): the same commands, clocks, task
machinery, per-member progress, movement and closure.  What a programme decides for
itself is gathered in its ``ProgrammeProfile``, chosen by ``state.programme``:

* the order of its stages (AVRR adds reintegration between arrival and closed);
* its per-stage next-step rules: which task a stage needs next, given what is done;
* what keeps a stage open although no task is due (a member on medical hold; for AVRR a
  case in reintegration, which only an explicit closure ends);
* what a supervisor may decide after a negative outcome, and the closure reason of "close";
* which task re-assesses a member's health after treatment;
* the expiry event of the document the visa stage issues, and the closure reason when a
  case passes its last stage.

The next-step functions are pure functions of the state, like the rest of the core.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain import events as ev
from domain.model import AVRR_STAGES, RESETTLEMENT_STAGES, STAGE_LABELS, Programme, Stage
from domain.state import CaseState
from domain.tasks import TaskType

Step = tuple[TaskType, list[str | None]] | None
"""The task type a stage needs next and for whom (member ids; [None] for a case-level task)."""


@dataclass(frozen=True)
class ProgrammeProfile:
    programme: Programme
    stages: tuple[Stage, ...]
    # (state, stage, fit_to_travel_checks) -> the stage's next step, or None when it needs nothing more
    next_step: Callable[[CaseState, Stage, bool], Step]
    # (state, stage) -> the stage must not end yet although it needs no task now
    holds: Callable[[CaseState, Stage], bool]
    review_decisions: Callable[[CaseState], tuple[str, ...]]
    review_closure_reason: Callable[[CaseState], str]
    health_assessment: TaskType
    document_expired: type[ev.VisaExpired] | type[ev.TravelDocumentExpired]
    document_expiry_reason: str
    completion_reason: str
    # AVRR: the receiving office or partner must be named when arrival is confirmed, and a
    # confirmed arrival schedules the monitoring visits.
    arrival_needs_partner: bool = False
    monitors_reintegration: bool = False

    def rank(self, stage: Stage) -> int:
        return self.stages.index(stage)

    @property
    def labels(self) -> dict[Stage, str]:
        return STAGE_LABELS[self.programme]


def _pending(state: CaseState, attr: str, *states: str) -> list[str | None]:
    return [m.member_id for m in state.members if getattr(state.progress[m.member_id], attr) in states]


def _health_on_hold(state: CaseState, stage: Stage) -> bool:
    return stage == Stage.HEALTH and any(
        p.health in ("treatment_required", "not_cleared") for p in state.progress.values())


# --- resettlement ------------------------------------------------------------------------


def _resettlement_next_step(state: CaseState, stage: Stage, fit_to_travel_checks: bool) -> Step:
    if stage == Stage.REFERRAL:
        return None if state.referral_verified else (TaskType.VERIFY_REFERRAL, [None])
    if stage == Stage.INTERVIEW:
        return (TaskType.CONDUCT_INTERVIEW, [None]) if state.interview == "pending" else None
    if stage == Stage.HEALTH:
        members = _pending(state, "health", "pending", "expired")
        return (TaskType.ASSESS_HEALTH, members) if members else None
    if stage == Stage.ORIENTATION:
        members = _pending(state, "orientation", "pending")
        return (TaskType.RECORD_ORIENTATION, members) if members else None
    if stage == Stage.VISA:
        members = _pending(state, "visa", "pending", "expired")
        return (TaskType.RECORD_VISA, members) if members else None
    if stage == Stage.MOVEMENT:
        if state.departed_at is not None:
            return None
        if state.movement is None:
            return TaskType.BOOK_MOVEMENT, [None]
        members = _unchecked_for_flight(state)
        if members and fit_to_travel_checks:
            return TaskType.CHECK_FIT_TO_TRAVEL, members
        return TaskType.RECORD_DEPARTURE, [None]
    if stage == Stage.ARRIVAL:
        return None if state.arrived_on else (TaskType.CONFIRM_ARRIVAL, [None])
    return None


def _unchecked_for_flight(state: CaseState) -> list[str | None]:
    return [m.member_id for m in state.members if state.progress[m.member_id].fit_to_travel_at is None]


def _resettlement_review_decisions(state: CaseState) -> tuple[str, ...]:
    if state.stage == Stage.HEALTH:
        return ("reassess", "close")
    return ("resubmit", "close")


def _resettlement_review_closure(state: CaseState) -> str:
    return {Stage.INTERVIEW: "not_accepted", Stage.VISA: "visa_refused",
            Stage.HEALTH: "medically_not_cleared"}.get(state.stage, "not_accepted")


RESETTLEMENT = ProgrammeProfile(
    programme=Programme.RESETTLEMENT,
    stages=RESETTLEMENT_STAGES,
    next_step=_resettlement_next_step,
    holds=_health_on_hold,
    review_decisions=_resettlement_review_decisions,
    review_closure_reason=_resettlement_review_closure,
    health_assessment=TaskType.ASSESS_HEALTH,
    document_expired=ev.VisaExpired,
    document_expiry_reason="a visa expired before departure",
    completion_reason="arrived",
)


# --- AVRR --------------------------------------------------------------------------------


def _avrr_next_step(state: CaseState, stage: Stage, fit_to_travel_checks: bool) -> Step:
    a = state.avrr_progress
    if stage == Stage.REFERRAL:  # application: counselling first, then informed consent
        if a.counselled_on is None:
            return TaskType.RECORD_COUNSELLING, [None]
        return (TaskType.RECORD_CONSENT, [None]) if a.consent == "pending" else None
    if stage == Stage.INTERVIEW:
        if a.eligibility == "pending":
            return TaskType.ASSESS_ELIGIBILITY, [None]
        if a.eligibility == "eligible" and not a.vulnerability_screened:
            return TaskType.SCREEN_VULNERABILITY, [None]
        return None
    if stage == Stage.HEALTH:
        members = _pending(state, "health", "pending", "expired")
        return (TaskType.ASSESS_FIT_TO_TRAVEL, members) if members else None
    if stage == Stage.ORIENTATION:
        return None if a.predeparture_counselled else (TaskType.RECORD_PREDEPARTURE_COUNSELLING, [None])
    if stage == Stage.VISA:  # travel documents from the consulate, then the host's exit permission
        members = _pending(state, "visa", "pending", "expired")
        if members:
            return TaskType.RECORD_TRAVEL_DOCUMENT, members
        return (TaskType.RECORD_EXIT_PERMISSION, [None]) if a.exit_permission == "pending" else None
    if stage == Stage.MOVEMENT:
        if state.departed_at is not None:
            return None
        if a.escort_required and not a.escort_arranged:
            return TaskType.ARRANGE_ESCORT, [None]
        if state.movement is None:
            return TaskType.BOOK_MOVEMENT, [None]
        members = _unchecked_for_flight(state)
        if members and fit_to_travel_checks:
            return TaskType.CHECK_FIT_TO_TRAVEL, members
        if a.consent_reconfirmed_on is None:
            return TaskType.RECONFIRM_CONSENT, [None]
        return TaskType.RECORD_DEPARTURE, [None]
    if stage == Stage.ARRIVAL:
        return None if state.arrived_on else (TaskType.CONFIRM_ARRIVAL, [None])
    if stage == Stage.REINTEGRATION:
        if a.plan_agreed_on is None:
            return TaskType.RECORD_REINTEGRATION_PLAN, [None]
        if not a.plan_delivered:
            return TaskType.RECORD_ASSISTANCE_DELIVERY, [None]
        if a.closure_review == "pending":
            return TaskType.CLOSE_REINTEGRATION, [None]
        return None  # the remaining monitoring visits open on their timers
    return None


def _avrr_holds(state: CaseState, stage: Stage) -> bool:
    a = state.avrr_progress
    if stage == Stage.INTERVIEW:
        return a.eligibility == "not_eligible"
    if stage == Stage.VISA:
        return a.exit_permission == "refused" or any(p.visa == "refused" for p in state.progress.values())
    if stage == Stage.REINTEGRATION:
        return True  # ends only by closure: after the last monitoring visit, or by a supervisor
    return _health_on_hold(state, stage)


def _avrr_review_decisions(state: CaseState) -> tuple[str, ...]:
    if state.stage == Stage.VISA:
        return ("reapply", "close")
    return ("reassess", "close")


def _avrr_review_closure(state: CaseState) -> str:
    if state.stage == Stage.VISA:
        refused = any(p.visa == "refused" for p in state.progress.values())
        return "travel_document_refused" if refused else "exit_permission_refused"
    return {Stage.HEALTH: "medically_not_cleared"}.get(state.stage, "not_eligible")


AVRR = ProgrammeProfile(
    programme=Programme.AVRR,
    stages=AVRR_STAGES,
    next_step=_avrr_next_step,
    holds=_avrr_holds,
    review_decisions=_avrr_review_decisions,
    review_closure_reason=_avrr_review_closure,
    health_assessment=TaskType.ASSESS_FIT_TO_TRAVEL,
    document_expired=ev.TravelDocumentExpired,
    document_expiry_reason="a travel document expired before departure",
    completion_reason="reintegration_completed",
    arrival_needs_partner=True,
    monitors_reintegration=True,
)

PROFILES: dict[Programme, ProgrammeProfile] = {p.programme: p for p in (RESETTLEMENT, AVRR)}


def profile_of(state: CaseState) -> ProgrammeProfile:
    return PROFILES[state.programme]
