"""Family reunification's own events: its task completions and the facts only such a case
has (a member turned 18 before the visa decision).  Registered on import, like every event
type."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from domain.events import ArrivalConfirmed, Event, TaskCompletion, completed_by, register_event
from domain.programmes.family_reunification import forms as fr_forms


@register_event
class MinorTurnedEighteen(Event):
    """A child member's 18th birthday came before their visa decision: flagged to the
    supervisor, because the eligibility as a minor child may have ended."""

    type: Literal["MinorTurnedEighteen"] = "MinorTurnedEighteen"
    member_id: str
    birthday: date


@register_event
@completed_by(fr_forms.RelationshipEligibleForm, fr_forms.RelationshipNotEligibleForm)
class RelationshipAssessed(TaskCompletion):
    type: Literal["RelationshipAssessed"] = "RelationshipAssessed"
    assessed_on: date
    outcome: Literal["eligible", "not_eligible"]
    evidence: str | None = None
    not_eligible_reason: str | None = None
    notes: str | None = None


@register_event
@completed_by(fr_forms.RecordDocumentsForm)
class DocumentsReceived(TaskCompletion):
    """A member's checklist as it stands: what has been received (items already received stay)."""

    type: Literal["DocumentsReceived"] = "DocumentsReceived"
    received_on: date
    passport: bool
    civil_documents: bool
    proof_of_relationship: bool
    notes: str | None = None


@register_event
@completed_by(fr_forms.BookEmbassyAppointmentForm)
class EmbassyAppointmentBooked(TaskCompletion):
    type: Literal["EmbassyAppointmentBooked"] = "EmbassyAppointmentBooked"
    appointment_at: datetime
    place: str
    reference: str
    notes: str | None = None


@register_event
@completed_by(fr_forms.AppointmentAttendedForm, fr_forms.AppointmentMissedForm)
class EmbassyAppointmentOutcomeRecorded(TaskCompletion):
    type: Literal["EmbassyAppointmentOutcomeRecorded"] = "EmbassyAppointmentOutcomeRecorded"
    outcome: Literal["attended", "missed"]
    attended_on: date | None = None
    missed_reason: str | None = None


class _FamilyVisaDecision(TaskCompletion):
    outcome: Literal["issued", "refused"]
    visa_number: str | None = None
    issued_on: date | None = None
    valid_until: date | None = None
    decided_on: date | None = None
    refusal_reason: str | None = None


@register_event
@completed_by(fr_forms.FamilyVisaIssuedForm)
class FamilyVisaIssued(_FamilyVisaDecision):
    type: Literal["FamilyVisaIssued"] = "FamilyVisaIssued"


@register_event
@completed_by(fr_forms.FamilyVisaRefusedForm)
class FamilyVisaRefused(_FamilyVisaDecision):
    type: Literal["FamilyVisaRefused"] = "FamilyVisaRefused"


@register_event
@completed_by(fr_forms.ReviewAgeOutForm)
class AgeOutReviewed(TaskCompletion):
    type: Literal["AgeOutReviewed"] = "AgeOutReviewed"
    decision: Literal["keep", "close"]
    reason: str


# Arrival with the sponsor records the journey's ArrivalConfirmed, from this programme's form.
completed_by(fr_forms.FamilyConfirmArrivalForm)(ArrivalConfirmed)
