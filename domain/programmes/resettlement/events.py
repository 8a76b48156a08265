"""Resettlement's own events: its task completions and the resubmission to another
destination.  Registered on import, like every event type."""

from __future__ import annotations

from datetime import date
from typing import Literal


from domain.events import Event, TaskCompletion, completed_by, register_event
from domain.programmes.resettlement import forms as resettlement_forms


@register_event
class CaseResubmitted(Event):
    """After a rejection or refusal: back to referral for another destination, history kept."""

    type: Literal["CaseResubmitted"] = "CaseResubmitted"
    destination_country: str
    previous_destination_country: str | None
    reason: str


# Outcomes, as the completion events record them.
InterviewOutcome = Literal["accepted", "deferred", "rejected"]


HealthOutcome = Literal["cleared", "treatment_required", "not_cleared"]


@register_event
@completed_by(resettlement_forms.VerifyReferralForm)
class ReferralVerified(TaskCompletion):
    type: Literal["ReferralVerified"] = "ReferralVerified"
    documents_checked: bool
    notes: str | None = None


@register_event
@completed_by(resettlement_forms.InterviewAcceptedForm, resettlement_forms.InterviewDeferredForm, resettlement_forms.InterviewRejectedForm)
class InterviewCompleted(TaskCompletion):
    """Carries the outcome: accepted, deferred (follow_up_date) or rejected (rejection_reason)."""

    type: Literal["InterviewCompleted"] = "InterviewCompleted"
    interview_date: date
    outcome: InterviewOutcome
    follow_up_date: date | None = None
    rejection_reason: str | None = None
    interpreter_language: str | None = None
    notes: str | None = None


@register_event
@completed_by(resettlement_forms.HealthClearedForm, resettlement_forms.HealthTreatmentRequiredForm, resettlement_forms.HealthNotClearedForm)
class HealthAssessmentRecorded(TaskCompletion):
    type: Literal["HealthAssessmentRecorded"] = "HealthAssessmentRecorded"
    assessment_date: date
    outcome: HealthOutcome
    clearance_valid_until: date | None = None
    tb_classification: str = "none"
    follow_up_needed: bool = False
    notes: str | None = None


@register_event
@completed_by(resettlement_forms.RecordOrientationForm)
class OrientationAttended(TaskCompletion):
    type: Literal["OrientationAttended"] = "OrientationAttended"
    session_date: date
    language: str
    notes: str | None = None


class _VisaDecision(TaskCompletion):
    outcome: Literal["issued", "refused"]
    visa_number: str | None = None
    issued_on: date | None = None
    valid_until: date | None = None
    decided_on: date | None = None
    refusal_reason: str | None = None


@register_event
@completed_by(resettlement_forms.RecordVisaIssuedForm)
class VisaIssued(_VisaDecision):
    type: Literal["VisaIssued"] = "VisaIssued"


@register_event
@completed_by(resettlement_forms.RecordVisaRefusedForm)
class VisaRefused(_VisaDecision):
    type: Literal["VisaRefused"] = "VisaRefused"
