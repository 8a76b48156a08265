"""AVRR's stages (the journey skeleton read as a return, plus reintegration), next-step rules,
case rules, branches, its consent-withdrawal action and the monitoring clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain import events as ev
from domain.programmes.avrr import events as avrr_ev
from domain.programmes.avrr.admission import check_a_minor, check_no_minor_alone, check_the_escort
from domain.engine import flow
from domain.engine.commands import WithdrawConsent
from domain.engine.context import DecisionContext
from domain.engine.draft import Draft, invalid, reject
from domain.currencies import CURRENCY_CODES
from domain.errors import RejectionCode
from domain.model import CaseStatus, Priority, Stage
from domain.offices import local_date
from domain.programmes import travel
from domain.programmes.avrr.state import DEFAULT_MONITORING_MONTHS, MonitoringVisit, add_months, data
from domain.programmes.avrr.tasks import AvrrTask
from domain.programmes.definition import Step
from domain.state import CaseState, TaskState

STAGES: tuple[Stage, ...] = (Stage.REFERRAL, Stage.INTERVIEW, Stage.HEALTH, Stage.ORIENTATION, Stage.VISA,
                             Stage.MOVEMENT, Stage.ARRIVAL, Stage.REINTEGRATION, Stage.CLOSED)

STAGE_LABELS: dict[Stage, str] = {
    Stage.REFERRAL: "Application and consent",
    Stage.INTERVIEW: "Eligibility and vulnerability",
    Stage.HEALTH: "Fit to travel",
    Stage.ORIENTATION: "Pre-departure counselling",
    Stage.VISA: "Travel documents",
    Stage.MOVEMENT: "Return travel",
    Stage.ARRIVAL: "Reception at origin",
    Stage.REINTEGRATION: "Reintegration",
    Stage.CLOSED: "Closed",
}


def check_referral(referral: Any) -> None:
    if referral.origin_country is None:
        raise ValueError("origin_country is required for AVRR")
    if referral.destination_country is not None:
        raise ValueError("destination_country is not for AVRR: an AVRR case returns to origin_country")


def referral_terms(command: Any) -> dict[str, Any]:
    return {"monitoring_months": list(command.monitoring_months or DEFAULT_MONITORING_MONTHS)}


def _refused(state: CaseState) -> bool:
    return travel.document_refused(state) or data(state).exit_permission == "refused"


def next_step(state: CaseState, stage: Stage, ctx: DecisionContext) -> Step:
    review = travel.refusal_review(stage, ctx, _refused(state))
    if review is not None:
        return review
    a = data(state)
    if stage == Stage.REFERRAL:  # application: counselling first, then informed consent
        if a.counselled_on is None:
            return AvrrTask.RECORD_COUNSELLING, [None]
        return (AvrrTask.RECORD_CONSENT, [None]) if a.consent == "pending" else None
    if stage == Stage.INTERVIEW:
        if a.eligibility == "pending":
            return AvrrTask.ASSESS_ELIGIBILITY, [None]
        if a.eligibility == "eligible" and not a.vulnerability_screened:
            return AvrrTask.SCREEN_VULNERABILITY, [None]
        return None
    if stage == Stage.HEALTH:
        members = travel.pending(state, "health", "pending", "expired")
        return (AvrrTask.ASSESS_FIT_TO_TRAVEL, members) if members else None
    if stage == Stage.ORIENTATION:
        return None if a.predeparture_counselled else (AvrrTask.RECORD_PREDEPARTURE_COUNSELLING, [None])
    if stage == Stage.VISA:  # travel documents from the consulate, then the host's exit permission
        members = travel.pending(state, "visa", "pending", "expired")
        if members:
            return AvrrTask.RECORD_TRAVEL_DOCUMENT, members
        return (AvrrTask.RECORD_EXIT_PERMISSION, [None]) if a.exit_permission == "pending" else None
    if stage == Stage.MOVEMENT:
        escort = (AvrrTask.ARRANGE_ESCORT, [None]) if a.escort_required and not a.escort_arranged else None
        reconfirm = (AvrrTask.RECONFIRM_CONSENT, [None]) if a.consent_reconfirmed_on is None else None
        return travel.movement_step(state, ctx, before_booking=escort, before_departure=reconfirm)
    if stage == Stage.ARRIVAL:
        return travel.arrival_step(state)
    if stage == Stage.REINTEGRATION:
        if a.plan_agreed_on is None:
            return AvrrTask.RECORD_REINTEGRATION_PLAN, [None]
        if not a.plan_delivered:
            return AvrrTask.RECORD_ASSISTANCE_DELIVERY, [None]
        if a.closure_review == "pending":
            return AvrrTask.CLOSE_REINTEGRATION, [None]
        return None  # the remaining monitoring visits open on their timers
    return None


def holds(state: CaseState, stage: Stage) -> bool:
    a = data(state)
    if stage == Stage.INTERVIEW:
        return a.eligibility == "not_eligible"
    if stage == Stage.VISA:
        return _refused(state)
    if stage == Stage.REINTEGRATION:
        return True  # ends only by closure: after the last monitoring visit, or by a supervisor
    return travel.health_on_hold(state, stage)


def review_decisions(state: CaseState) -> tuple[str, ...]:
    if state.stage == Stage.VISA:
        return ("reapply", "close")
    return ("reassess", "close")


def review_closure_reason(state: CaseState) -> str:
    if state.stage == Stage.VISA:
        return "travel_document_refused" if travel.document_refused(state) else "exit_permission_refused"
    return {Stage.HEALTH: "medically_not_cleared"}.get(state.stage, "not_eligible")


def check(state: CaseState, task: TaskState, form: Any, ctx: DecisionContext) -> None:
    """AVRR's rules that need the case as well as the form."""
    travel.check(state, task, form, ctx)
    a = data(state)
    t = task.task_type
    if t == AvrrTask.RECORD_CONSENT and a.counselled_on and form.given_on < a.counselled_on:
        raise invalid(t, "given_on", f"informed consent follows the counselling (held on {a.counselled_on.isoformat()})")
    if t == AvrrTask.RECONFIRM_CONSENT and a.consent_given_on and form.reconfirmed_on < a.consent_given_on:
        raise invalid(t, "reconfirmed_on", f"must not be before the consent ({a.consent_given_on.isoformat()})")
    if t == travel.TravelTask.BOOK_MOVEMENT and a.escort_required and not a.escort_arranged:
        raise reject(RejectionCode.ESCORT_NOT_ARRANGED, "this return needs an escort: arrange it before booking the travel")
    if t == travel.TravelTask.RECORD_DEPARTURE and form.outcome == "departed" and a.consent_reconfirmed_on is None:
        raise reject(RejectionCode.CONSENT_NOT_RECONFIRMED,
                     "departure refused: the migrant's consent has not been reconfirmed for this travel")
    if t == AvrrTask.ARRANGE_ESCORT and ctx.admission_rules:
        # An admission rule (validators only): an escort arranged before it replays as decided.
        check_the_escort(a, form.escort_type)
    if t == AvrrTask.SCREEN_VULNERABILITY and ctx.admission_rules:
        # An admission rule (validators only): a screening recorded before it replays as decided.
        if form.unaccompanied_minor:
            check_a_minor(state, form.screened_on)
        else:
            check_no_minor_alone(state, form.screened_on)
    if t == AvrrTask.RECORD_REINTEGRATION_PLAN and ctx.admission_rules:
        # An admission rule (validators only): a plan recorded with another code replays as decided.
        for index, plan_item in enumerate(form.items):
            if plan_item.currency is not None and plan_item.currency not in CURRENCY_CODES:
                raise invalid(t, f"items.{index}.currency", f"'{plan_item.currency}' is not the ISO 4217 code of a "
                              "currency in use (such as USD, EUR, IQD); XXX, XTS, metals and fund codes are not money")
    if t == AvrrTask.RECORD_ASSISTANCE_DELIVERY:
        item = next((i for i in a.plan if i.number == form.item_number), None)
        if item is None:
            raise invalid(t, "item_number", f"the plan has items 1 to {len(a.plan)}")
        if item.delivered_on is not None:
            raise invalid(t, "item_number", f"item {item.number} was delivered on {item.delivered_on.isoformat()}; "
                          "undelivered: " + (", ".join(str(i.number) for i in a.plan if not i.delivered_on)))
        if a.plan_agreed_on and form.delivered_on < a.plan_agreed_on:
            raise invalid(t, "delivered_on", f"must not be before the plan ({a.plan_agreed_on.isoformat()})")
    if t == AvrrTask.RECORD_MONITORING_VISIT and state.arrived_on and form.visited_on < state.arrived_on:
        raise invalid(t, "visited_on", f"must not be before the arrival ({state.arrived_on.isoformat()})")


def completion_context(state: CaseState, task: TaskState) -> dict[str, Any]:
    """A monitoring visit's completion records which visit it was."""
    if task.task_type == AvrrTask.RECORD_MONITORING_VISIT:
        visit = next(v for v in data(state).monitoring if v.task_id == task.task_id)
        return {"visit_number": visit.number}
    return {}


def follow_up(draft: Draft, task: TaskState, form: Any) -> None:
    """The branches of AVRR's tasks (and of the journey's, as AVRR runs them)."""
    state = draft.s
    t = task.task_type
    if travel.follow_up(draft, task, form, health_assessment=AvrrTask.ASSESS_FIT_TO_TRAVEL):
        return
    if t == travel.TravelTask.CONFIRM_ARRIVAL:
        _schedule_monitoring(draft)
    elif t == AvrrTask.ASSESS_ELIGIBILITY and form.outcome == "not_eligible":
        flow.open_review(draft)
    elif t == AvrrTask.SCREEN_VULNERABILITY:
        raised = _priority_after_screening(form)
        if raised is not None and raised.rank < state.priority.rank:
            draft.emit(ev.PriorityRaised(priority=raised, previous_priority=state.priority,
                                         reason="vulnerability screening: " + ", ".join(form.vulnerabilities)))
    elif t == AvrrTask.ASSESS_FIT_TO_TRAVEL and form.outcome == "treatment_required":
        flow.open_task(draft, travel.TravelTask.RECORD_TREATMENT, member_id=task.member_id)
    elif t == AvrrTask.ASSESS_FIT_TO_TRAVEL and form.outcome == "not_fit":
        flow.open_review(draft)
    elif t == AvrrTask.RECORD_TRAVEL_DOCUMENT and form.outcome == "refused":
        flow.cancel_for_refusal(draft, AvrrTask.RECORD_TRAVEL_DOCUMENT, "a travel document of the case was refused")
        flow.open_review(draft)
    elif t == AvrrTask.RECORD_EXIT_PERMISSION and form.outcome == "refused":
        flow.open_review(draft)
    elif t == AvrrTask.RECORD_MONITORING_VISIT and all(v.visited_on for v in data(state).monitoring):
        flow.close(draft, "monitoring_completed")
    elif t == AvrrTask.CLOSE_REINTEGRATION and form.decision == "close":
        flow.close(draft, "reintegration_completed")
    # review "reassess" / "reapply": what was refused is pending again, and the flow opens it again


def _priority_after_screening(form: Any) -> Priority | None:
    """The priority a vulnerability calls for: an unaccompanied minor or a victim of
    trafficking makes the case an emergency; medical needs or another vulnerability urgent."""
    if form.unaccompanied_minor or form.victim_of_trafficking:
        return Priority.EMERGENCY
    if form.medical_needs or form.other_vulnerability:
        return Priority.URGENT
    return None


def _schedule_monitoring(draft: Draft) -> None:
    """Monitoring visits fall due at the configured months after the confirmed arrival; each
    one's task opens on the case's durable clock at the start of that day in the office's time
    zone (in UTC for a case decided before ``office_day_starts``)."""
    state = draft.s
    assert state.arrived_on is not None
    visits = [avrr_ev.ScheduledVisit(number=n, months_after_arrival=months, opens_at=flow.day_start(
                  state, add_months(state.arrived_on, months), draft.ctx.office_day_starts))
              for n, months in enumerate(data(state).monitoring_months, start=1)]
    draft.emit(avrr_ev.MonitoringVisitsScheduled(visits=visits))


def withdraw_consent(draft: Draft, command: WithdrawConsent) -> None:
    """The migrant withdrew their consent to return: the case closes at once, whatever its stage."""
    today = draft.ctx.today(draft.s.office_time_zone)
    referred_on = local_date(draft.s.referred_at, draft.s.office_time_zone)
    if command.withdrawn_on > today:
        reason = f"must not be in the future (today is {today.isoformat()})"
    elif draft.ctx.admission_rules and draft.s.split_from is None and command.withdrawn_on < referred_on:
        # An admission rule: withdrawals recorded before it replay as decided.  (A case split off
        # another was "referred" at the split; its family's consent is older: no bound there.)
        reason = (f"must not be before the case was referred ({referred_on.isoformat()}): consent given "
                  "to this case cannot have been withdrawn before it")
    else:
        reason = None
    if reason is not None:
        raise reject(RejectionCode.INVALID_FORM, f"the consent withdrawal is invalid: withdrawn_on: {reason}",
                     [{"field": "withdrawn_on", "reason": reason}])
    draft.emit(avrr_ev.ConsentWithdrawn(withdrawn_by=command.withdrawn_by, withdrawn_on=command.withdrawn_on,
                                   language=command.language, reason=command.reason))
    flow.close(draft, "consent_withdrawn")


# --- the monitoring clock --------------------------------------------------------------------


def _visits_to_open(state: CaseState) -> list[MonitoringVisit]:
    return [v for v in data(state).monitoring if v.task_id is None]


def deadlines(state: CaseState, office_day_ends: flow.DayEnds, _office_day_starts: flow.DayEnds = True) -> list[datetime]:
    """The journey's deadlines and the visits' recorded openings (each placed in its day when scheduled)."""
    moments = travel.deadlines(state, office_day_ends)
    if state.status != CaseStatus.ON_HOLD:  # a held case opens no monitoring visit; resume catches up
        moments += [v.opens_at for v in _visits_to_open(state)]
    return moments


def tick(draft: Draft) -> None:
    travel.tick(draft, document_expired=ev.TravelDocumentExpired,
                document_expiry_reason="a travel document expired before departure")
    if draft.s.status == CaseStatus.ACTIVE:
        for visit in _visits_to_open(draft.s):
            if visit.opens_at <= draft.ctx.now:
                flow.open_task(draft, AvrrTask.RECORD_MONITORING_VISIT)  # evolve gives the task to this visit
