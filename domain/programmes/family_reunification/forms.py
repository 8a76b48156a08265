"""Family reunification's own completion forms (the journey's shared forms are in ``domain.forms``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from domain.forms import (
    PlannedWithinHorizon,
    CASE_RULE,
    ChoiceForm,
    DocumentNumber,
    Form,
    HappenedOn,
    HappenedSinceReferral,
    NotBefore,
    Reason,
    Reference,
    ReviewCloseForm,
    ReviewReapplyForm,
    ReviewReassessForm,
    after_field,
    choice,
)
from domain.model import Notes, ShortText

CHECKLIST = ("passport", "civil_documents", "proof_of_relationship")
"""What each joining member brings before the embassy appointment can be booked."""


class _Relationship(Form):
    assessed_on: HappenedSinceReferral
    outcome: str
    notes: Notes | None = None


class RelationshipEligibleForm(_Relationship):
    outcome: Literal["eligible"] = choice("the relationship qualifies: on to the documents")
    evidence: ShortText = Field(description="What showed the relationship, e.g. the marriage certificate.")


class RelationshipNotEligibleForm(_Relationship):
    outcome: Literal["not_eligible"] = choice("a supervisor decides to reassess or close")
    not_eligible_reason: Reason = Field(description="Why the relationship does not qualify.")


class AssessRelationshipForm(ChoiceForm):
    """Eligibility of one member's relationship to the sponsor.  The rule per relationship: a
    spouse (18 or older, one spouse), a child under 18 (unmarried), a parent of a sponsor
    under 18.  The referral already refused other relationships; this records the evidence."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"assessed_on": "2026-11-20", "outcome": "eligible", "evidence": "Marriage certificate, Aleppo 2012"},
        {"assessed_on": "2026-11-20", "outcome": "not_eligible",
         "not_eligible_reason": "The marriage took place after the sponsor's flight and is not recognised."}]})
    root: Annotated[RelationshipEligibleForm | RelationshipNotEligibleForm, Field(discriminator="outcome")]


class RecordDocumentsForm(Form):
    """One member's document checklist: what was received.  The embassy appointment is booked
    only when every member's checklist is complete (passport, civil documents, proof of the
    relationship); what is missing opens a task to complete it."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"received_on": "2026-11-20", "passport": True, "civil_documents": True, "proof_of_relationship": True},
        {"received_on": "2026-11-20", "passport": True, "civil_documents": True, "proof_of_relationship": False,
         "notes": "Birth certificate requested from the civil registry in Aleppo."}]})
    received_on: HappenedOn
    passport: bool = Field(description="A valid passport (or travel document) was received.")
    civil_documents: bool = Field(description="Civil documents (birth certificate, ID card) were received.")
    proof_of_relationship: bool = Field(
        description="Proof of the relationship to the sponsor (marriage or birth certificate, family book).")
    notes: Notes | None = None


class BookEmbassyAppointmentForm(Form):
    """The family's visa appointment at the destination's embassy or visa centre.  Refused
    while a member's document checklist is incomplete (checked against the case)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"appointment_at": "2026-12-10T09:30:00+03:00", "place": "German Embassy Beirut",
         "reference": "DE-BEY-FAP-2026-3318"}]})
    appointment_at: PlannedWithinHorizon = Field(
        description=f"Date and time of the appointment (with its UTC offset); not in the past {CASE_RULE}.")
    place: ShortText = Field(description="The embassy, consulate or visa centre.")
    reference: Reference = Field(description="The appointment's booking reference.")
    notes: Notes | None = None


class AppointmentAttendedForm(Form):
    outcome: Literal["attended"] = choice("the family attended: on to the visa decisions")
    attended_on: HappenedSinceReferral


class AppointmentMissedForm(Form):
    outcome: Literal["missed"] = choice("the appointment was missed: book it again")
    missed_reason: Reason = Field(description="Why the family missed it.")


class RecordAppointmentOutcomeForm(ChoiceForm):
    """Whether the family attended the embassy appointment; a missed one is booked again."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"outcome": "attended", "attended_on": "2026-12-10"},
        {"outcome": "missed", "missed_reason": "The road from Tripoli was closed."}]})
    root: Annotated[AppointmentAttendedForm | AppointmentMissedForm, Field(discriminator="outcome")]


class FamilyVisaIssuedForm(Form):
    outcome: Literal["issued"] = choice("the national visa for family reunification was issued")
    visa_number: DocumentNumber
    issued_on: HappenedOn
    valid_until: Annotated[NotBefore, after_field("issued_on")] = Field(
        description="The visa expires on this date; after issued_on.")


class FamilyVisaRefusedForm(Form):
    outcome: Literal["refused"] = choice("the visa was refused: a supervisor decides")
    decided_on: HappenedOn
    refusal_reason: Reason


class RecordFamilyVisaForm(ChoiceForm):
    """The embassy's visa decision for one member."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"outcome": "issued", "visa_number": "DE-D-2026-448812", "issued_on": "2026-12-20", "valid_until": "2027-03-20"},
        {"outcome": "refused", "decided_on": "2026-12-20", "refusal_reason": "Relationship not established."}]})
    root: Annotated[FamilyVisaIssuedForm | FamilyVisaRefusedForm, Field(discriminator="outcome")]


class FamilyConfirmArrivalForm(Form):
    """The family arrived with the sponsor: the sponsor or the receiving partner confirms."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"arrived_on": "2027-01-05", "place": "Berlin", "receiving_partner": "Yusuf Haddad (sponsor)"}]})
    arrived_on: HappenedOn = Field(description=f"Not before the departure {CASE_RULE}.")
    place: ShortText
    receiving_partner: ShortText = Field(
        description="Who confirmed the arrival: the sponsor (by name) or the receiving partner organisation.")
    notes: Notes | None = None


class ReviewAgeOutForm(Form):
    """A child member turned 18 before the visa decision: eligibility may have ended.  Keep
    the member (e.g. the application date counts in the destination's law) or close the case."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"decision": "keep", "reason": "The application was lodged while the child was a minor."}]})
    decision: Literal["keep", "close"] = Field(
        description="keep: the member's eligibility stands; close: the case closes (minor_aged_out).")
    reason: Reason


class FamilyReviewOutcomeForm(ChoiceForm):
    """The supervisor's decision after a relationship found not eligible (in the application:
    reassess or close) or a visa refused (in the visa stage: reapply or close).  Family
    reunification never resubmits to another country: the family joins its sponsor there.
    Which of these a review allows depends on its stage (checked against the case)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"decision": "reapply", "reason": "New proof of relationship; apply again."},
        {"decision": "close", "reason": "The visa refusal stands."}]})
    root: Annotated[ReviewReassessForm | ReviewReapplyForm | ReviewCloseForm, Field(discriminator="decision")]
