"""AVRR's own events: its task completions and the facts only an AVRR case has (consent
withdrawn, monitoring visits scheduled).  Registered on import, like every event type."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.events import ArrivalConfirmed, Event, TaskCompletion, completed_by, register_event
from domain.programmes.avrr import forms as avrr_forms


@register_event
class ConsentWithdrawn(Event):
    """The migrant no longer wants to return: recorded by a caseworker, it stops the case at once."""

    type: Literal["ConsentWithdrawn"] = "ConsentWithdrawn"
    withdrawn_by: str
    withdrawn_on: date
    language: str
    reason: str


class ScheduledVisit(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    months_after_arrival: int
    opens_at: AwareDatetime


@register_event
class MonitoringVisitsScheduled(Event):
    """At the confirmed arrival: when each monitoring visit's task will open (a durable timer)."""

    type: Literal["MonitoringVisitsScheduled"] = "MonitoringVisitsScheduled"
    visits: list[ScheduledVisit]


@register_event
@completed_by(avrr_forms.RecordCounsellingForm)
class CounsellingRecorded(TaskCompletion):
    type: Literal["CounsellingRecorded"] = "CounsellingRecorded"
    session_date: date
    language: str
    options_explained: bool
    notes: str | None = None


@register_event
@completed_by(avrr_forms.RecordConsentForm)
class ConsentRecorded(TaskCompletion):
    type: Literal["ConsentRecorded"] = "ConsentRecorded"
    given_by: str
    given_on: date
    language: str
    signed_form_reference: str
    notes: str | None = None


@register_event
@completed_by(avrr_forms.EligibleForm, avrr_forms.NotEligibleForm)
class EligibilityAssessed(TaskCompletion):
    type: Literal["EligibilityAssessed"] = "EligibilityAssessed"
    assessed_on: date
    outcome: Literal["eligible", "not_eligible"]
    not_eligible_reason: str | None = None
    notes: str | None = None


@register_event
@completed_by(avrr_forms.ScreenVulnerabilityForm)
class VulnerabilityScreened(TaskCompletion):
    type: Literal["VulnerabilityScreened"] = "VulnerabilityScreened"
    screened_on: date
    unaccompanied_minor: bool = False
    medical_needs: bool = False
    victim_of_trafficking: bool = False
    other_vulnerability: str | None = None
    escort_required: bool = False
    notes: str | None = None

    @property
    def vulnerabilities(self) -> list[str]:
        flags = ("unaccompanied_minor", "victim_of_trafficking", "medical_needs")
        return [f for f in flags if getattr(self, f)] + (["other"] if self.other_vulnerability else [])


@register_event
@completed_by(avrr_forms.AssessFitToTravelForm)
class FitToTravelAssessed(TaskCompletion):
    type: Literal["FitToTravelAssessed"] = "FitToTravelAssessed"
    assessment_date: date
    outcome: Literal["fit", "treatment_required", "not_fit"]
    medical_escort_required: bool = False
    notes: str | None = None


@register_event
@completed_by(avrr_forms.RecordPredepartureCounsellingForm)
class PredepartureCounsellingRecorded(TaskCompletion):
    type: Literal["PredepartureCounsellingRecorded"] = "PredepartureCounsellingRecorded"
    session_date: date
    language: str
    reintegration_support_explained: bool
    notes: str | None = None


class _TravelDocumentDecision(TaskCompletion):
    outcome: Literal["issued", "refused"]
    document_type: str | None = None
    document_number: str | None = None
    issuing_consulate: str | None = None
    issued_on: date | None = None
    valid_until: date | None = None
    decided_on: date | None = None
    refusal_reason: str | None = None


@register_event
@completed_by(avrr_forms.TravelDocumentIssuedForm)
class TravelDocumentIssued(_TravelDocumentDecision):
    type: Literal["TravelDocumentIssued"] = "TravelDocumentIssued"


@register_event
@completed_by(avrr_forms.TravelDocumentRefusedForm)
class TravelDocumentRefused(_TravelDocumentDecision):
    type: Literal["TravelDocumentRefused"] = "TravelDocumentRefused"


class _ExitPermissionDecision(TaskCompletion):
    outcome: Literal["granted", "refused"]
    authority: str
    decided_on: date
    reference: str | None = None
    refusal_reason: str | None = None
    notes: str | None = None


@register_event
@completed_by(avrr_forms.ExitPermissionGrantedForm)
class ExitPermissionGranted(_ExitPermissionDecision):
    type: Literal["ExitPermissionGranted"] = "ExitPermissionGranted"


@register_event
@completed_by(avrr_forms.ExitPermissionRefusedForm)
class ExitPermissionRefused(_ExitPermissionDecision):
    type: Literal["ExitPermissionRefused"] = "ExitPermissionRefused"


@register_event
@completed_by(avrr_forms.ArrangeEscortForm)
class EscortArranged(TaskCompletion):
    type: Literal["EscortArranged"] = "EscortArranged"
    escort_type: str
    escort_name: str
    organisation: str
    notes: str | None = None


@register_event
@completed_by(avrr_forms.ReconfirmConsentForm)
class ConsentReconfirmed(TaskCompletion):
    type: Literal["ConsentReconfirmed"] = "ConsentReconfirmed"
    reconfirmed_on: date
    language: str
    consent_reconfirmed: bool
    notes: str | None = None


class PlanItem(BaseModel):
    """One item of assistance as the plan recorded it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: Literal["economic", "social", "psychosocial"]
    description: str
    amount: Decimal | None = None
    currency: str | None = None


@register_event
@completed_by(avrr_forms.RecordReintegrationPlanForm)
class ReintegrationPlanRecorded(TaskCompletion):
    type: Literal["ReintegrationPlanRecorded"] = "ReintegrationPlanRecorded"
    agreed_on: date
    partner: str | None = None
    items: list[PlanItem]
    notes: str | None = None


@register_event
@completed_by(avrr_forms.RecordAssistanceDeliveryForm)
class AssistanceDelivered(TaskCompletion):
    type: Literal["AssistanceDelivered"] = "AssistanceDelivered"
    item_number: int
    delivered_on: date
    notes: str | None = None


@register_event
@completed_by(avrr_forms.RecordMonitoringVisitForm, context=("visit_number",))
class MonitoringVisitRecorded(TaskCompletion):
    type: Literal["MonitoringVisitRecorded"] = "MonitoringVisitRecorded"
    visited_on: date
    method: Literal["in_person", "phone", "video"] = "in_person"
    reintegration_score: float
    economic_score: float | None = None
    social_score: float | None = None
    psychosocial_score: float | None = None
    notes: str | None = None
    visit_number: int = Field(default=0, description="Which scheduled visit this was (1 = the first).")


@register_event
@completed_by(avrr_forms.CloseReintegrationForm)
class ReintegrationClosureDecided(TaskCompletion):
    type: Literal["ReintegrationClosureDecided"] = "ReintegrationClosureDecided"
    decision: Literal["close", "continue_monitoring"]
    reason: str


# Reception at origin records the journey's ArrivalConfirmed, from AVRR's own arrival form.
completed_by(avrr_forms.AvrrConfirmArrivalForm)(ArrivalConfirmed)
