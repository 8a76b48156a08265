"""Resettlement's own completion forms (the journey's shared forms are in ``domain.forms``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints

from domain.forms import (
    ChoiceForm,
    DocumentNumber,
    Form,
    HappenedOn,
    HappenedSinceReferral,
    NotBefore,
    PlannedDay,
    Reason,
    after_field,
    choice,
)
from domain.model import Notes


class VerifyReferralForm(Form):
    """The caseworker has checked the referral file against the identity documents."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"documents_checked": True, "notes": "Passports and ID cards of all members seen."}]}
    )
    documents_checked: Literal[True] = Field(
        description="Identity documents of every member were checked against the referral."
    )
    notes: Notes | None = None


class _Interview(Form):
    interview_date: HappenedSinceReferral
    outcome: str
    interpreter_language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")] | None = Field(
        default=None, description="ISO 639 language code of the interpreter, if one was used."
    )
    notes: Notes | None = None


class InterviewAcceptedForm(_Interview):
    outcome: Literal["accepted"] = choice("on to health assessment")


class InterviewDeferredForm(_Interview):
    outcome: Literal["deferred"] = choice("a follow-up interview on follow_up_date")
    follow_up_date: PlannedDay = Field(description="Date of the follow-up interview.")


class InterviewRejectedForm(_Interview):
    outcome: Literal["rejected"] = choice(
        "a supervisor decides to resubmit to another country or close the case")
    rejection_reason: Reason = Field(description="Why the case was not accepted.")


class ConductInterviewForm(ChoiceForm):
    """The interview: accepted, deferred to a follow-up interview, or rejected."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"interview_date": "2026-11-20", "outcome": "accepted", "interpreter_language": "ar"},
                {"interview_date": "2026-11-20", "outcome": "deferred", "follow_up_date": "2026-12-04",
                 "notes": "Documents on family composition requested."},
                {"interview_date": "2026-11-20", "outcome": "rejected", "rejection_reason": "Does not meet criteria."},
            ]
        }
    )
    root: Annotated[InterviewAcceptedForm | InterviewDeferredForm | InterviewRejectedForm,
                    Field(discriminator="outcome")]


class _HealthAssessment(Form):
    assessment_date: HappenedSinceReferral
    outcome: str
    tb_classification: Literal["none", "class_a", "class_b1", "class_b2", "class_b3"] = "none"
    follow_up_needed: bool = Field(default=False, description="Needs medical follow-up on arrival.")
    notes: Notes | None = Field(default=None, description="Clinical notes; visible to medical staff only.")


class HealthClearedForm(_HealthAssessment):
    outcome: Literal["cleared"] = choice("cleared until clearance_valid_until")
    clearance_valid_until: Annotated[NotBefore, after_field("assessment_date")] = Field(
        description="The medical clearance expires on this date; after assessment_date.")


class HealthTreatmentRequiredForm(_HealthAssessment):
    outcome: Literal["treatment_required"] = choice(
        "medical hold until treatment is recorded, then a re-assessment")


class HealthNotClearedForm(_HealthAssessment):
    outcome: Literal["not_cleared"] = choice("a supervisor decides")


class AssessHealthForm(ChoiceForm):
    """Health assessment of one member.  Health details are special-category data."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"assessment_date": "2026-11-20", "outcome": "cleared", "clearance_valid_until": "2027-05-20",
                 "tb_classification": "none"},
                {"assessment_date": "2026-11-20", "outcome": "treatment_required", "tb_classification": "class_b1",
                 "notes": "Treatment before travel."},
            ]
        }
    )
    root: Annotated[HealthClearedForm | HealthTreatmentRequiredForm | HealthNotClearedForm,
                    Field(discriminator="outcome")]


class RecordOrientationForm(Form):
    model_config = ConfigDict(json_schema_extra={"examples": [{"session_date": "2026-11-20", "language": "ar"}]})
    session_date: HappenedSinceReferral
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")] = Field(
        description="ISO 639 code of the language the session was held in."
    )
    notes: Notes | None = None


class RecordVisaIssuedForm(Form):
    outcome: Literal["issued"] = choice("the visa was issued")
    visa_number: DocumentNumber
    issued_on: HappenedOn
    valid_until: Annotated[NotBefore, after_field("issued_on")] = Field(
        description="The visa expires on this date; after issued_on.")


class RecordVisaRefusedForm(Form):
    outcome: Literal["refused"] = choice("the visa was refused: a supervisor decides")
    decided_on: HappenedOn
    refusal_reason: Reason


class RecordVisaForm(ChoiceForm):
    """The visa decision for one member."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"outcome": "issued", "visa_number": "NO-2026-118842", "issued_on": "2026-11-20", "valid_until": "2027-02-20"},
                {"outcome": "refused", "decided_on": "2026-11-20", "refusal_reason": "Security screening."},
            ]
        }
    )
    root: Annotated[RecordVisaIssuedForm | RecordVisaRefusedForm, Field(discriminator="outcome")]
