"""AVRR's own completion forms (the journey's shared forms are in ``domain.forms``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from domain.forms import (
    CASE_RULE,
    ChoiceForm,
    DocumentNumber,
    Form,
    HappenedOn,
    HappenedSinceReferral,
    LanguageCode,
    NotBefore,
    Reason,
    Reference,
    after_field,
    choice,
)
from domain.model import Notes, ShortText


class AvrrConfirmArrivalForm(Form):
    """Reception at origin: AVRR names the receiving office or partner that confirmed it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"arrived_on": "2027-01-05", "place": "Erbil", "receiving_partner": "IOM Iraq, Erbil"}]
        }
    )
    arrived_on: HappenedOn = Field(description=f"Not before the departure {CASE_RULE}.")
    place: ShortText
    receiving_partner: ShortText = Field(
        description="The receiving office or partner that confirmed the reception at origin.")
    notes: Notes | None = None


class RecordCounsellingForm(Form):
    """Return counselling before anything is signed: consent is only informed if this came first."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"session_date": "2026-11-20", "language": "ar", "options_explained": True,
         "notes": "Explained the return package and the reintegration support in Erbil."}]})
    session_date: HappenedOn
    language: LanguageCode
    options_explained: Literal[True] = Field(
        description="The return and reintegration options were explained, and that consent can be withdrawn at "
        "any time.")
    notes: Notes | None = None


class RecordConsentForm(Form):
    """Informed consent to return: who gave it, when, in which language, and the signed form."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"given_by": "Karwan Aziz", "given_on": "2026-11-20", "language": "ku",
         "signed_form_reference": "AVRR-IST-2026-0142"}]})
    given_by: ShortText = Field(description="Who consented: the migrant (for a family, the principal applicant) or "
                                            "the legal guardian of a minor.")
    given_on: HappenedOn = Field(description=f"Not before the counselling {CASE_RULE}.")
    language: LanguageCode = Field(description="ISO 639 code of the language the consent form was read and signed in.")
    signed_form_reference: Reference = Field(description="Reference of the signed consent form in the case file.")
    notes: Notes | None = None


class _Eligibility(Form):
    assessed_on: HappenedSinceReferral
    outcome: str
    notes: Notes | None = None


class EligibleForm(_Eligibility):
    outcome: Literal["eligible"] = choice("on to vulnerability screening")


class NotEligibleForm(_Eligibility):
    outcome: Literal["not_eligible"] = choice("a supervisor decides to reassess or close")
    not_eligible_reason: Reason = Field(description="Why the migrant is not eligible.")


class AssessEligibilityForm(ChoiceForm):
    """Whether the migrant is eligible for the programme."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"assessed_on": "2026-11-20", "outcome": "eligible"},
        {"assessed_on": "2026-11-20", "outcome": "not_eligible",
         "not_eligible_reason": "Holds a residence permit; not in the programme's target group."}]})
    root: Annotated[EligibleForm | NotEligibleForm, Field(discriminator="outcome")]


class ScreenVulnerabilityForm(Form):
    """Vulnerability screening.  A vulnerability raises the case's priority (the SLAs of the tasks
    opened afterwards follow it): an unaccompanied minor or a victim of trafficking makes the
    case an emergency, medical needs or another vulnerability make it urgent."""

    model_config = ConfigDict(json_schema_extra={
        "examples": [
            {"screened_on": "2026-11-20"},
            {"screened_on": "2026-11-20", "victim_of_trafficking": True, "escort_required": True,
             "notes": "Referred by the counter-trafficking unit; travels with a social worker."}],
        # An unaccompanied minor returns escorted: escort_required must then be given, and true.
        "if": {"properties": {"unaccompanied_minor": {"const": True}}, "required": ["unaccompanied_minor"]},
        "then": {"properties": {"escort_required": {"const": True}}, "required": ["escort_required"]},
    })
    screened_on: HappenedSinceReferral
    unaccompanied_minor: bool = Field(default=False, description="A member under 18 on screened_on returns without "
                                      f"a parent or guardian; true only when a member is under 18 then, and true "
                                      f"whenever every member is under 18 then {CASE_RULE}.")
    medical_needs: bool = False
    victim_of_trafficking: bool = False
    other_vulnerability: ShortText | None = Field(default=None, description="Any other vulnerability, in a few words.")
    escort_required: bool = Field(default=False, validate_default=True,
                                  description="The return needs an escort (always for an unaccompanied minor: "
                                              "then required, and true).")
    notes: Notes | None = None

    @field_validator("escort_required")
    @classmethod
    def _minor_travels_escorted(cls, value: bool, info: ValidationInfo) -> bool:
        if info.data.get("unaccompanied_minor") and not value:
            raise ValueError("an unaccompanied minor always returns with an escort")
        return value

    @property
    def vulnerabilities(self) -> list[str]:
        flags = ("unaccompanied_minor", "victim_of_trafficking", "medical_needs")
        return [f for f in flags if getattr(self, f)] + (["other"] if self.other_vulnerability else [])


class AssessFitToTravelForm(Form):
    """Fitness to travel of one member (AVRR's health stage).  The 72-hour check before the
    booked departure follows in the movement stage."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"assessment_date": "2026-11-20", "outcome": "fit"},
        {"assessment_date": "2026-11-20", "outcome": "fit", "medical_escort_required": True,
         "notes": "Insulin-dependent; travels with a medical escort."}]})
    assessment_date: HappenedSinceReferral
    outcome: Literal["fit", "treatment_required", "not_fit"] = Field(
        description="fit; treatment_required: medical hold until treatment is recorded, then a re-assessment; "
        "not_fit: a supervisor decides.")
    medical_escort_required: bool = Field(default=False, description="Travels only with a medical escort.")
    notes: Notes | None = Field(default=None, description="Clinical notes; visible to medical staff only.")


class RecordPredepartureCounsellingForm(Form):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"session_date": "2026-11-20", "language": "ar", "reintegration_support_explained": True}]})
    session_date: HappenedSinceReferral
    language: LanguageCode
    reintegration_support_explained: Literal[True] = Field(
        description="The reintegration support at origin (economic, social, psychosocial) and how to reach the "
        "receiving office were explained.")
    notes: Notes | None = None


class TravelDocumentIssuedForm(Form):
    outcome: Literal["issued"] = choice("the consulate issued the travel document")
    document_type: Literal["passport", "laissez_passer", "emergency_travel_document"]
    document_number: DocumentNumber
    issuing_consulate: ShortText = Field(description="The consulate of the country of origin that issued it.")
    issued_on: HappenedOn
    valid_until: Annotated[NotBefore, after_field("issued_on")] = Field(
        description="After issued_on; if the member has not departed by then, the case goes back to travel "
        "documents.")


class TravelDocumentRefusedForm(Form):
    outcome: Literal["refused"] = choice("the consulate refused it: a supervisor decides")
    decided_on: HappenedOn
    refusal_reason: Reason


class RecordTravelDocumentForm(ChoiceForm):
    """A member's travel document, issued by the consulate of the country of origin."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"outcome": "issued", "document_type": "laissez_passer", "document_number": "IQ-LP-2026-55120",
         "issuing_consulate": "Consulate General of Iraq, Istanbul", "issued_on": "2026-11-20",
         "valid_until": "2027-02-20"},
        {"outcome": "refused", "decided_on": "2026-11-20", "refusal_reason": "Nationality could not be confirmed."}]})
    root: Annotated[TravelDocumentIssuedForm | TravelDocumentRefusedForm, Field(discriminator="outcome")]


class _ExitPermission(Form):
    outcome: str
    authority: ShortText
    decided_on: HappenedOn
    notes: Notes | None = None


class ExitPermissionGrantedForm(_ExitPermission):
    outcome: Literal["granted"] = choice("the host authority lets the migrant leave")
    reference: Reference = Field(description="The permission's reference.")


class ExitPermissionRefusedForm(_ExitPermission):
    outcome: Literal["refused"] = choice("the host authority refused: a supervisor decides")
    refusal_reason: Reason


class RecordExitPermissionForm(ChoiceForm):
    """Permission of the host authority to leave the country (e.g. the provincial migration
    management directorate in Türkiye)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"outcome": "granted", "authority": "Istanbul Provincial Directorate of Migration Management",
         "reference": "PMM-IST-2026-88412", "decided_on": "2026-11-20"},
        {"outcome": "refused", "authority": "Izmir Provincial Directorate of Migration Management",
         "decided_on": "2026-11-20", "refusal_reason": "Pending court case."}]})
    root: Annotated[ExitPermissionGrantedForm | ExitPermissionRefusedForm, Field(discriminator="outcome")]


class ArrangeEscortForm(Form):
    """The escort the screening or the fit-to-travel assessment asked for, arranged before booking."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"escort_type": "child_protection", "escort_name": "Elif Arslan", "organisation": "IOM Türkiye"}]})
    escort_type: Literal["operational", "medical", "child_protection", "social_worker"] = Field(
        description="Who travels with the returnee. A member under 18 travelling alone needs a child_protection "
                    "or social_worker escort; a fitness-to-travel assessment asking for a medical escort, a medical "
                    "one.")
    escort_name: ShortText
    organisation: ShortText
    notes: Notes | None = None


class ReconfirmConsentForm(Form):
    """Before departure the migrant confirms, again, that they want to return.  If they do not,
    record a consent withdrawal instead (it closes the case)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"reconfirmed_on": "2026-12-09", "language": "ar", "consent_reconfirmed": True}]})
    reconfirmed_on: HappenedSinceReferral = Field(description=f"Not before the consent {CASE_RULE}.")
    language: LanguageCode
    consent_reconfirmed: Literal[True] = Field(description="The migrant confirmed their decision to return.")
    notes: Notes | None = None


from domain.programmes.avrr.reintegration_forms import (  # noqa: E402  (AVRR's forms, all importable from here)
    CloseReintegrationForm,
    RecordAssistanceDeliveryForm,
    RecordMonitoringVisitForm,
    RecordReintegrationPlanForm,
    ReintegrationItem,
)

__all__ = ["CloseReintegrationForm", "RecordAssistanceDeliveryForm", "RecordMonitoringVisitForm",
           "RecordReintegrationPlanForm", "ReintegrationItem"]
