"""Building blocks for programmes that move people: health holds, the document of the visa
stage, booking, fit-to-travel checks, departure and arrival.

Resettlement and AVRR both walk this skeleton (with their own meaning for health and for the
document); a programme calls these functions from its own hooks.  The state they work on is
the journey part of ``CaseState`` (per-member ``progress``, ``movement``, ``departed_at``...).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from domain import events as ev
from domain import forms
from domain.arrival_day import arrival_too_early
from domain.engine import flow
from domain.engine.context import DecisionContext, in_force
from domain.engine.draft import Draft, invalid, reject
from domain.errors import RejectionCode
from domain.model import Role, Stage
from domain.programmes.booking_rules import check_booking
from domain.programmes.definition import Step
from domain.programmes.registry import profile_of
from domain.state import CaseState, Movement, TaskState
from domain.tasks import EngineTask, TaskSpec

FIT_TO_TRAVEL_WINDOW = timedelta(hours=72)


class TravelTask(StrEnum):
    RECORD_TREATMENT = "record_treatment"
    BOOK_MOVEMENT = "book_movement"
    CHECK_FIT_TO_TRAVEL = "check_fit_to_travel"
    RECORD_DEPARTURE = "record_departure"
    CONFIRM_ARRIVAL = "confirm_arrival"


# --- who is pending ------------------------------------------------------------------------


def pending(state: CaseState, attr: str, *states: str) -> list[str | None]:
    return [m.member_id for m in state.members if getattr(state.progress[m.member_id], attr) in states]


def health_on_hold(state: CaseState, stage: Stage) -> bool:
    return stage == Stage.HEALTH and any(
        p.health in ("treatment_required", "not_cleared") for p in state.progress.values())


def unchecked_for_flight(state: CaseState) -> list[str | None]:
    return [m.member_id for m in state.members if state.progress[m.member_id].fit_to_travel_at is None]


def fit_to_travel_checked(state: CaseState, ctx: DecisionContext) -> bool:
    """Whether members are checked fit to travel before the flight: the rule of the case's
    workflow version, unless the destination's profile (as recorded at referral) waives it."""
    services = state.services
    waived = (services is not None and services.country == state.destination_country
              and not services.fit_to_travel_check)
    return ctx.fit_to_travel_checks and not waived


def document_refused(state: CaseState) -> bool:
    return any(p.visa == "refused" for p in state.progress.values())


def refusal_review(stage: Stage, ctx: DecisionContext, refused: bool) -> Step:
    """A refusal in the visa stage (a visa or travel document, or an exit permission) needs the
    supervisor's review before anything else there: the case does not pass the stage, and does
    not open its other visa tasks, until the review decides (resubmit, reapply or close).  A
    detour back to health cancels an open review; the case meets it again on its way back."""
    if stage == Stage.VISA and refused and in_force(ctx.review_rules):
        return EngineTask.REVIEW_OUTCOME, [None]
    return None


def review_openers(document_task: str) -> Callable[[CaseState, TaskState, list[TaskState]], list[TaskState]]:
    """A refusal's review may open again when the case comes back to the visa stage after other
    work (a clearance expired meanwhile): the refusal opened it all the same."""
    def narrowed(state: CaseState, task: TaskState, done: list[TaskState]) -> list[TaskState]:
        if task.stage != Stage.VISA:
            return done
        refused = {m for m, p in state.progress.items() if p.visa == "refused"}
        return [t for t in done if t.member_id in refused and t.task_type == document_task] or done
    return narrowed


def movement_step(state: CaseState, ctx: DecisionContext, *, before_booking: Step = None,
                  before_departure: Step = None) -> Step:
    """The movement stage: book, check every member fit to travel within 72 hours of the
    flight, then record the departure (a programme may need a step before either)."""
    if state.departed_at is not None:
        return None
    if before_booking is not None:
        return before_booking
    if state.movement is None:
        return TravelTask.BOOK_MOVEMENT, [None]
    members = unchecked_for_flight(state)
    if members and fit_to_travel_checked(state, ctx):
        return TravelTask.CHECK_FIT_TO_TRAVEL, members
    if before_departure is not None:
        return before_departure
    return TravelTask.RECORD_DEPARTURE, [None]


def arrival_step(state: CaseState) -> Step:
    return None if state.arrived_on else (TravelTask.CONFIRM_ARRIVAL, [None])


# --- task specs ------------------------------------------------------------------------------


def _arrival_due(state: CaseState, _: datetime) -> datetime | None:
    return state.departed_at + timedelta(days=state.arrival_confirmation_days) if state.departed_at else None


def _departure_due(state: CaseState, _: datetime) -> datetime | None:
    return state.movement.departure_at + timedelta(hours=12) if state.movement else None


def _fit_check_due(state: CaseState, _: datetime) -> datetime | None:
    return state.movement.departure_at - timedelta(hours=6) if state.movement else None


def _departure(state: CaseState) -> datetime | None:
    """A check opened for a flight less than six hours away is due before the flight leaves."""
    return state.movement.departure_at if state.movement else None


def schedule_fit_to_travel_checks(draft: Draft) -> bool:
    """The checks open 72 hours before the booked departure: until then, a timer."""
    assert draft.s.movement is not None
    opens_at = draft.s.movement.departure_at - FIT_TO_TRAVEL_WINDOW
    if opens_at <= draft.ctx.now:
        return False
    if draft.s.fit_to_travel_opens_at != opens_at:
        draft.emit(ev.FitToTravelChecksScheduled(open_at=opens_at))
    return True


def waits_for_fit_to_travel(state: CaseState, now: datetime) -> bool:
    return state.stage == Stage.MOVEMENT and state.fit_to_travel_opens_at is not None and state.fit_to_travel_opens_at > now


def travel_specs(*, arrival_form: Any = forms.ConfirmArrivalForm) -> dict[str, TaskSpec]:
    """The shared tasks of the journey, as a programme includes them."""
    specs = (
        TaskSpec(TravelTask.RECORD_TREATMENT, Stage.HEALTH, "Record treatment (medical hold)",
                 Role.MEDICAL_OFFICER, True, forms.RecordTreatmentForm, health_data=True, releases_hold=True),
        TaskSpec(TravelTask.BOOK_MOVEMENT, Stage.MOVEMENT, "Book flight",
                 Role.MOVEMENT_OFFICER, False, forms.BookMovementForm),
        TaskSpec(TravelTask.CHECK_FIT_TO_TRAVEL, Stage.MOVEMENT, "Check fit to travel (72 h before departure)",
                 Role.MEDICAL_OFFICER, True, forms.CheckFitToTravelForm, health_data=True, due=_fit_check_due,
                 due_limit=_departure, opens_later=schedule_fit_to_travel_checks),
        TaskSpec(TravelTask.RECORD_DEPARTURE, Stage.MOVEMENT, "Record departure",
                 Role.MOVEMENT_OFFICER, False, forms.RecordDepartureForm, due=_departure_due, group_fact=True),
        TaskSpec(TravelTask.CONFIRM_ARRIVAL, Stage.ARRIVAL, "Confirm arrival",
                 Role.CASEWORKER, False, arrival_form, due=_arrival_due, group_fact=True),
    )
    return {s.task_type: s for s in specs}


# --- rules -----------------------------------------------------------------------------------


def check(state: CaseState, task: TaskState, form: Any, ctx: DecisionContext) -> None:
    """The journey's rules that need the case as well as the form."""
    t = task.task_type
    if t == TravelTask.BOOK_MOVEMENT and ctx.admission_rules:
        check_booking(state, t, form.departure_at, ctx.now)
    if t == TravelTask.CHECK_FIT_TO_TRAVEL and state.movement is not None:
        earliest = state.movement.departure_at - FIT_TO_TRAVEL_WINDOW
        if form.checked_at < earliest:
            raise invalid(t, "checked_at", f"must be within 72 hours before the booked departure "
                                           f"({state.movement.departure_at.isoformat()}), i.e. after {earliest.isoformat()}")
    if t == TravelTask.RECORD_DEPARTURE and form.outcome == "departed" and fit_to_travel_checked(state, ctx):
        stale = [
            m.full_name for m in state.members
            if (at := state.progress[m.member_id].fit_to_travel_at) is None
            or not (form.departed_at - FIT_TO_TRAVEL_WINDOW <= at <= form.departed_at)
        ]
        if stale:
            raise reject(
                RejectionCode.FIT_TO_TRAVEL_MISSING,
                "departure refused: no fit-to-travel check within the 72 hours before departure for "
                f"{', '.join(stale)}; record the flight as postponed and rebook, so new checks open",
            )
    if t == TravelTask.CONFIRM_ARRIVAL and (why := arrival_too_early(form.arrived_on, state.departed_at)):
        raise invalid(t, "arrived_on", why)


def follow_up(draft: Draft, task: TaskState, form: Any, *, health_assessment: str) -> bool:
    """The journey's branches; True when the completion was one of them."""
    t = task.task_type
    if t == TravelTask.RECORD_TREATMENT:
        flow.open_task(draft, health_assessment, member_id=task.member_id)
    elif t == TravelTask.CHECK_FIT_TO_TRAVEL and form.outcome == "not_fit":
        flow.return_to(draft, Stage.HEALTH, reason="a member is not fit to travel")
        flow.open_task(draft, TravelTask.RECORD_TREATMENT, member_id=task.member_id)
    else:
        return False
    return True


# --- cancelling a booking ---------------------------------------------------------------------





def cancel_booking(draft: Draft, command: Any, *, keep: frozenset[str] = frozenset()) -> None:
    """The booked flight will not carry the case: drop the booking, cancel the tasks it opened
    (and those the programme opens for a booked flight; not the tasks ``keep`` names, which
    are not about the flight), and book again."""
    state = draft.s
    if state.movement is None or state.departed_at is not None:
        raise reject(RejectionCode.INVALID_FORM, f"case {state.case_id} has no booking to cancel"
                     + (" (it has departed)" if state.departed_at is not None else ""),
                     [{"field": "kind", "reason": "no booked flight"}])
    booked = state.movement
    for task in [t for t in state.open_tasks if t.stage == Stage.MOVEMENT and t.task_type != TravelTask.BOOK_MOVEMENT
                 and t.task_id not in keep]:
        draft.emit(ev.TaskCancelled(task_id=task.task_id, reason=f"the booking was cancelled: {command.reason}"))
        flow.cancel_escalations_of(draft, task.task_id, "the booking was cancelled")
    draft.emit(ev.BookingCancelled(flight_number=booked.flight_number, departure_at=booked.departure_at,
                                   reason=command.reason))
    flow.advance(draft)


# --- folding -----------------------------------------------------------------------------------


def drop_booking(state: CaseState) -> None:
    state.movement = None
    state.fit_to_travel_opens_at = None
    for p in state.progress.values():
        p.fit_to_travel_at = None


def apply(state: CaseState, event: Any, at: datetime) -> bool:
    """Fold the journey's part of an event; True when it dropped the booking (the programme
    may drop what it keeps for the flight too)."""
    progress = state.progress.get(event.member_id) if getattr(event, "member_id", None) else None
    if isinstance(event, ev.StageEntered):
        rank = profile_of(state).rank
        if event.previous_stage is not None and rank(event.stage) < rank(event.previous_stage) and rank(
                event.stage) < rank(Stage.MOVEMENT):
            drop_booking(state)
            return True
    elif isinstance(event, ev.TaskOpened) and event.task_type == TravelTask.CHECK_FIT_TO_TRAVEL:
        state.fit_to_travel_opens_at = None  # the scheduled checks are open now
    elif isinstance(event, ev.FitToTravelChecksScheduled):
        state.fit_to_travel_opens_at = event.open_at
    elif isinstance(event, ev.MedicalClearanceExpired):
        for member_id in event.member_ids:
            state.progress[member_id].health = "expired"
            state.progress[member_id].fit_to_travel_at = None
    elif isinstance(event, (ev.VisaExpired, ev.TravelDocumentExpired)):
        for member_id in event.member_ids:
            state.progress[member_id].visa = "expired"
    elif isinstance(event, ev.TreatmentRecorded) and progress is not None:
        progress.health = "pending"
    elif isinstance(event, ev.OutcomeReviewed) and event.decision == "reassess":
        for p in state.progress.values():
            if p.health == "not_cleared":
                p.health = "pending"
    elif isinstance(event, ev.OutcomeReviewed) and event.decision == "reapply":
        for p in state.progress.values():
            if p.visa == "refused":
                p.visa = "pending"
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
    elif isinstance(event, (ev.MovementNoShow, ev.MovementPostponed, ev.BookingCancelled)):
        drop_booking(state)
        return True
    elif isinstance(event, ev.CaseDeparted):
        state.departed_at = event.departed_at
    elif isinstance(event, ev.ArrivalConfirmed):
        state.arrived_on = event.arrived_on
        state.arrival_place = event.place
    return False


from domain.programmes.travel_clocks import deadlines, tick  # noqa: E402  (the journey's clocks)
__all__ = ["deadlines", "tick"]
