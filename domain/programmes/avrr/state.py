"""What an AVRR case knows beyond the journey skeleton, and how its events fold."""

from __future__ import annotations

import calendar
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from domain import events as ev
from domain.programmes.avrr import events as avrr_ev
from domain.programmes import travel
from domain.state import CaseState

DEFAULT_MONITORING_MONTHS = (3, 6, 12)


class PlanItem(BaseModel):
    """An item of the reintegration plan, numbered from 1 in the order the plan lists them."""

    number: int
    kind: Literal["economic", "social", "psychosocial"]
    description: str
    amount: Decimal | None = None
    currency: str | None = None
    delivered_on: date | None = None


class MonitoringVisit(BaseModel):
    number: int
    months_after_arrival: int
    opens_at: datetime
    task_id: str | None = None  # set when the clock opens the visit's task
    visited_on: date | None = None
    reintegration_score: float | None = None


class AvrrProgress(BaseModel):
    """``CaseState.programme_data`` of an AVRR case: what it knows beyond the journey skeleton."""

    monitoring_months: list[int]
    counselled_on: date | None = None
    consent: Literal["pending", "given", "withdrawn"] = "pending"
    consent_given_on: date | None = None
    consent_reconfirmed_on: date | None = None  # for the booked flight; a rebooking asks again
    eligibility: Literal["pending", "eligible", "not_eligible"] = "pending"
    vulnerability_screened: bool = False
    vulnerabilities: list[str] = Field(default_factory=list)
    escort_required: bool = False
    escort_arranged: bool = False
    # member id -> whether the member's latest fit-to-travel assessment said they travel only
    # with a medical escort (a later assessment without one clears it).  Only the need: a group
    # movement lists it on the member's manifest row; the clinical notes stay on the case.
    medical_escort_by_member: dict[str, bool] = Field(default_factory=dict)
    predeparture_counselled: bool = False
    exit_permission: Literal["pending", "granted", "refused"] = "pending"
    plan_agreed_on: date | None = None
    plan: list[PlanItem] = Field(default_factory=list)
    monitoring: list[MonitoringVisit] = Field(default_factory=list)
    closure_review: Literal["pending", "continue_monitoring"] = "pending"

    @property
    def consent_status(self) -> str:
        """pending / given / reconfirmed / withdrawn, as the API shows it."""
        if self.consent == "given" and self.consent_reconfirmed_on is not None:
            return "reconfirmed"
        return self.consent

    def needs_medical_escort(self, member_id: str) -> bool:
        """Whether the member's latest fit-to-travel assessment asked for a medical escort."""
        return self.medical_escort_by_member.get(member_id, False)

    @property
    def plan_delivered(self) -> bool:
        return self.plan_agreed_on is not None and all(i.delivered_on for i in self.plan)


def start(referred: ev.CaseReferred) -> AvrrProgress:
    return AvrrProgress(monitoring_months=referred.monitoring_months or list(DEFAULT_MONITORING_MONTHS))


def data(state: CaseState) -> AvrrProgress:
    return state.data(AvrrProgress)


def apply(state: CaseState, event: Any, at: datetime) -> None:
    a = data(state)
    if travel.apply(state, event, at):
        a.consent_reconfirmed_on = None  # consent is reconfirmed for the flight actually taken
    progress = state.progress.get(event.member_id) if getattr(event, "member_id", None) else None
    if isinstance(event, ev.TaskOpened) and event.task_type == "record_monitoring_visit":
        next(v for v in a.monitoring if v.task_id is None).task_id = event.task_id
    elif isinstance(event, ev.OutcomeReviewed) and event.decision == "reassess" and a.eligibility == "not_eligible":
        a.eligibility = "pending"
    elif isinstance(event, ev.OutcomeReviewed) and event.decision == "reapply" and a.exit_permission == "refused":
        a.exit_permission = "pending"
    elif isinstance(event, avrr_ev.ConsentWithdrawn):
        a.consent = "withdrawn"
    elif isinstance(event, avrr_ev.MonitoringVisitsScheduled):
        a.monitoring = [MonitoringVisit(**v.model_dump()) for v in event.visits]
    elif isinstance(event, avrr_ev.CounsellingRecorded):
        a.counselled_on = event.session_date
    elif isinstance(event, avrr_ev.ConsentRecorded):
        a.consent, a.consent_given_on = "given", event.given_on
    elif isinstance(event, avrr_ev.EligibilityAssessed):
        a.eligibility = event.outcome
    elif isinstance(event, avrr_ev.VulnerabilityScreened):
        a.vulnerability_screened = True
        a.vulnerabilities = sorted(set(a.vulnerabilities) | set(event.vulnerabilities))
        a.escort_required = a.escort_required or event.escort_required
    elif isinstance(event, avrr_ev.FitToTravelAssessed) and progress is not None:
        progress.health = {"fit": "cleared", "treatment_required": "treatment_required",
                           "not_fit": "not_cleared"}[event.outcome]  # type: ignore[assignment]
        a.escort_required = a.escort_required or event.medical_escort_required
        a.medical_escort_by_member[event.member_id] = event.medical_escort_required  # type: ignore[index]
    elif isinstance(event, avrr_ev.PredepartureCounsellingRecorded):
        a.predeparture_counselled = True
    elif isinstance(event, avrr_ev.TravelDocumentIssued) and progress is not None:
        progress.visa, progress.visa_valid_until = "issued", event.valid_until
    elif isinstance(event, avrr_ev.TravelDocumentRefused) and progress is not None:
        progress.visa = "refused"
    elif isinstance(event, avrr_ev.ExitPermissionGranted):
        a.exit_permission = "granted"
    elif isinstance(event, avrr_ev.ExitPermissionRefused):
        a.exit_permission = "refused"
    elif isinstance(event, avrr_ev.EscortArranged):
        a.escort_arranged = True
    elif isinstance(event, avrr_ev.ConsentReconfirmed):
        a.consent_reconfirmed_on = event.reconfirmed_on
    elif isinstance(event, avrr_ev.ReintegrationPlanRecorded):
        a.plan_agreed_on = event.agreed_on
        a.plan = [PlanItem(number=n, **item.model_dump()) for n, item in enumerate(event.items, start=1)]
    elif isinstance(event, avrr_ev.AssistanceDelivered):
        a.plan[event.item_number - 1].delivered_on = event.delivered_on
    elif isinstance(event, avrr_ev.MonitoringVisitRecorded):
        visit = a.monitoring[event.visit_number - 1]
        visit.visited_on, visit.reintegration_score = event.visited_on, event.reintegration_score
    elif isinstance(event, avrr_ev.ReintegrationClosureDecided) and event.decision == "continue_monitoring":
        a.closure_review = "continue_monitoring"


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def read_model_data(state: CaseState) -> dict[str, Any]:
    """``cases.programme_data`` of an AVRR case.  Keys: ``consent_status`` (pending / given /
    reconfirmed / withdrawn), ``consent_given_on``, ``consent_reconfirmed_on``, ``eligibility``
    (pending / eligible / not_eligible), ``vulnerabilities``, ``escort_required``,
    ``escort_arranged``, ``exit_permission`` (pending / granted / refused),
    ``reintegration_plan_agreed_on``, ``reintegration_plan`` (items: item_number, kind,
    description, amount, currency, delivered_on) and ``monitoring_visits`` (visit_number,
    months_after_arrival, opens_at, task_id, visited_on, reintegration_score)."""
    a = data(state)
    return {
        "consent_status": a.consent_status,
        "consent_given_on": _iso(a.consent_given_on),
        "consent_reconfirmed_on": _iso(a.consent_reconfirmed_on),
        "eligibility": a.eligibility,
        "vulnerabilities": list(a.vulnerabilities),
        "escort_required": a.escort_required,
        "escort_arranged": a.escort_arranged,
        "exit_permission": a.exit_permission,
        "reintegration_plan_agreed_on": _iso(a.plan_agreed_on),
        "reintegration_plan": [
            {"item_number": i.number, "kind": i.kind, "description": i.description,
             "amount": None if i.amount is None else str(i.amount), "currency": i.currency,
             "delivered_on": _iso(i.delivered_on)} for i in a.plan],
        "monitoring_visits": [
            {"visit_number": v.number, "months_after_arrival": v.months_after_arrival,
             "opens_at": v.opens_at.isoformat(), "task_id": v.task_id, "visited_on": _iso(v.visited_on),
             "reintegration_score": v.reintegration_score} for v in a.monitoring],
    }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None
