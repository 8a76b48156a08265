"""Completion forms: what a caseworker (or integration) submits to complete each task type.

One pydantic model per task type.  The API serves each model's JSON Schema so a UI can
build the form, validates submissions against it for a field-level 422, and the workflow
validates again inside its Update validator, because the workflow is the source of truth.

Dates that record something that happened ("interview held on") may not lie in the
future, and dates that bound a validity ("valid until") must lie after the event; the
"today" they compare with is passed in the validation context (``{"today": date}``) so
that the workflow can supply its deterministic clock and the API the wall clock.  Every
date also lies between 2000-01-01 and 2199-12-31, whatever the context: a case date outside
them cannot be right, and one near the end of the calendar would overflow the deadline
arithmetic of the case core.  Each rule is in the field's JSON Schema description.

Every string is a ``domain.text`` type: ``Line`` (names, places, references) or ``Text``
(notes), with the rule in the JSON Schema ``pattern`` the UI builds its inputs from.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from domain.model import Country, Notes, ShortText, today_of
from domain.text import Line, Rule, ShowsRules

EARLIEST_CASE_DATE = date(2000, 1, 1)
LATEST_CASE_DATE = date(2199, 12, 31)
_RANGE = f"between {EARLIEST_CASE_DATE.isoformat()} and {LATEST_CASE_DATE.isoformat()}"
DEPARTURE_WINDOW = (timedelta(days=366), timedelta(days=2 * 366))  # before and after today


def _within_calendar(value: date) -> None:
    if not EARLIEST_CASE_DATE <= value <= LATEST_CASE_DATE:
        raise ValueError(f"must lie {_RANGE}")


# Each check says the most specific thing first: "in the future" rather than "after 2199".


def _not_in_future(value: date, info: ValidationInfo) -> date:
    today = today_of(info)
    if today is not None and value > today:
        raise ValueError(f"must not be in the future (today is {today.isoformat()})")
    _within_calendar(value)
    return value


def _not_in_future_dt(value: datetime, info: ValidationInfo) -> datetime:
    today = today_of(info)
    if today is not None and value.date() > today:
        raise ValueError(f"must not be in the future (today is {today.isoformat()})")
    _within_calendar(value.date())
    return value


def _not_in_past(value: date, info: ValidationInfo) -> date:
    today = today_of(info)
    if today is not None and value < today:
        raise ValueError(f"must not be in the past (today is {today.isoformat()})")
    _within_calendar(value)
    return value


def _plausible_departure(value: datetime, info: ValidationInfo) -> datetime:
    today = today_of(info)
    before, after = DEPARTURE_WINDOW
    if today is not None and not today - before <= value.date() <= today + after:
        raise ValueError(f"must lie within a year before and two years after today ({today.isoformat()})")
    _within_calendar(value.date())
    return value


HappenedOn = Annotated[date, AfterValidator(_not_in_future), Rule(f"Not in the future; {_RANGE}.")]
HappenedAt = Annotated[AwareDatetime, AfterValidator(_not_in_future_dt), Rule(f"Not in the future; {_RANGE}.")]
NotBefore = Annotated[date, AfterValidator(_not_in_past), Rule(f"Not in the past; {_RANGE}.")]
Departure = Annotated[AwareDatetime, AfterValidator(_plausible_departure),
                      Rule("Within a year before and two years after today.")]
Iata = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), Field(description="IATA airport code, e.g. IST")]
DocumentNumber = Line(min_length=3, max_length=40)


class Form(ShowsRules):
    """Base of every completion form: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class VerifyReferralForm(Form):
    """The caseworker has checked the referral file against the identity documents."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"documents_checked": True, "notes": "Passports and ID cards of all members seen."}]}
    )
    documents_checked: Literal[True] = Field(
        description="Identity documents of every member were checked against the referral."
    )
    notes: Notes | None = None


def needed_for(*outcomes: str, field: str = "outcome", only: bool = False) -> AfterValidator:
    """A field an outcome needs (declare it after ``field``, with ``validate_default=True``),
    so the error names this field rather than the whole form.  ``only``: and no other."""

    def check(value: object, info: ValidationInfo) -> object:
        current = info.data.get(field)
        if current is None:  # the outcome itself was invalid; that error is reported already
            return value
        if value is None and current in outcomes:
            raise ValueError(f"required when {field} is '{current}'")
        if only and value is not None and current not in outcomes:
            raise ValueError(f"only for {field} {' or '.join(repr(o) for o in outcomes)}, not '{current}'")
        return value

    return AfterValidator(check)


def after_field(other: str) -> AfterValidator:
    """A validity end that must lie after another date of the form."""

    def check(value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get(other)
        if value is not None and start is not None and value <= start:
            raise ValueError(f"must be after {other} ({start.isoformat()})")
        return value

    return AfterValidator(check)


def _optional(description: str) -> Any:
    return Field(default=None, validate_default=True, description=description)


class ConductInterviewForm(Form):
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
    interview_date: HappenedOn
    outcome: Literal["accepted", "deferred", "rejected"] = Field(
        description="accepted: on to health assessment; deferred: a follow-up interview on follow_up_date; "
        "rejected: a supervisor decides to resubmit to another country or close the case."
    )
    follow_up_date: Annotated[NotBefore | None, needed_for("deferred", only=True)] = _optional(
        "Date of the follow-up interview (deferred).")
    rejection_reason: Annotated[Notes | None, needed_for("rejected")] = _optional(
        "Why the case was not accepted (rejected).")
    interpreter_language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")] | None = Field(
        default=None, description="ISO 639 language code of the interpreter, if one was used."
    )
    notes: Notes | None = None


class AssessHealthForm(Form):
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
    assessment_date: HappenedOn
    outcome: Literal["cleared", "treatment_required", "not_cleared"] = Field(
        description="cleared (until clearance_valid_until); treatment_required: medical hold until treatment is "
        "recorded, then a re-assessment; not_cleared: a supervisor decides."
    )
    clearance_valid_until: Annotated[NotBefore | None, needed_for("cleared", only=True), after_field("assessment_date")] = (
        _optional("The medical clearance expires on this date (required when cleared)."))
    tb_classification: Literal["none", "class_a", "class_b1", "class_b2", "class_b3"] = "none"
    follow_up_needed: bool = Field(default=False, description="Needs medical follow-up on arrival.")
    notes: Notes | None = Field(default=None, description="Clinical notes; visible to medical staff only.")


class RecordTreatmentForm(Form):
    """Treatment of a member on medical hold is done; a re-assessment follows."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"completed_on": "2026-11-20", "notes": "Course completed."}]})
    completed_on: HappenedOn
    notes: Notes | None = Field(default=None, description="Clinical notes; visible to medical staff only.")


class ReviewOutcomeForm(Form):
    """A supervisor's decision after a rejection, a refusal or a member not cleared (or, for AVRR,
    not eligible).  Which decisions a case allows depends on its programme and stage."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"decision": "resubmit", "destination_country": "SE", "reason": "Resubmitted to Sweden."},
                {"decision": "close", "reason": "No resettlement option."},
            ]
        }
    )
    decision: Literal["resubmit", "reassess", "reapply", "close"] = Field(
        description="resubmit to another destination country (after an interview rejection or visa refusal), "
        "reassess the member's health (after not cleared) or, for AVRR, the eligibility (after not eligible), "
        "reapply for the refused travel document or exit permission (AVRR), or close the case."
    )
    destination_country: Annotated[Country | None, needed_for("resubmit", field="decision", only=True)] = _optional(
        "New destination (resubmit), ISO 3166-1 alpha-2.")
    reason: Notes = Field(min_length=1)


class ResolveEscalationForm(Form):
    """The supervisor's answer to an overdue task: what was done, and optionally a new due date."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"action_taken": "Called the clinic; results promised Friday.",
                                         "new_due_date": "2026-11-27"}]}
    )
    action_taken: Notes = Field(min_length=1)
    new_due_date: NotBefore | None = Field(default=None, description="Give the overdue task until this date.")


class CheckFitToTravelForm(Form):
    """Pre-departure fit-to-travel check of one member; valid for 72 hours before departure."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"checked_at": "2026-12-09T10:00:00+03:00",
                                                               "outcome": "fit"}]})
    checked_at: HappenedAt
    outcome: Literal["fit", "not_fit"] = Field(
        description="not_fit puts the member on medical hold and the flight must be rebooked."
    )
    notes: Notes | None = Field(default=None, description="Clinical notes; visible to medical staff only.")


class RecordOrientationForm(Form):
    model_config = ConfigDict(json_schema_extra={"examples": [{"session_date": "2026-11-20", "language": "ar"}]})
    session_date: HappenedOn
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")] = Field(
        description="ISO 639 code of the language the session was held in."
    )
    notes: Notes | None = None


class RecordVisaForm(Form):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"outcome": "issued", "visa_number": "NO-2026-118842", "issued_on": "2026-11-20", "valid_until": "2027-02-20"},
                {"outcome": "refused", "decided_on": "2026-11-20", "refusal_reason": "Security screening."},
            ]
        }
    )
    outcome: Literal["issued", "refused"]
    visa_number: Annotated[DocumentNumber | None, needed_for("issued")] = _optional("Required when issued.")
    issued_on: Annotated[HappenedOn | None, needed_for("issued")] = _optional("Required when issued.")
    valid_until: Annotated[NotBefore | None, needed_for("issued", only=True), after_field("issued_on")] = _optional(
        "Required when issued.")
    decided_on: Annotated[HappenedOn | None, needed_for("refused")] = _optional("Required when refused.")
    refusal_reason: Annotated[Notes | None, needed_for("refused")] = _optional("Required when refused.")


class BookMovementForm(Form):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "flight_number": "TK1751",
                    "departure_at": "2026-12-10T09:40:00+03:00",
                    "departure_airport": "IST",
                    "arrival_airport": "OSL",
                }
            ]
        }
    )
    flight_number: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2}[0-9]{1,4}[A-Z]?$")] = Field(
        description="IATA flight designator, e.g. TK1751"
    )
    departure_at: Departure = Field(description="Scheduled departure, with time zone offset.")
    departure_airport: Iata
    arrival_airport: Iata
    notes: Notes | None = None

    @field_validator("arrival_airport")
    @classmethod
    def _different_airports(cls, value: str, info: ValidationInfo) -> str:
        if value == info.data.get("departure_airport"):
            raise ValueError("must differ from departure_airport")
        return value


class RecordDepartureForm(Form):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"outcome": "departed", "departed_at": "2026-12-10T09:55:00+03:00"},
                {"outcome": "no_show", "reason": "Family did not come to the airport."},
                {"outcome": "postponed", "reason": "Flight cancelled by the airline."},
            ]
        }
    )
    outcome: Literal["departed", "no_show", "postponed"] = Field(
        description="departed; no_show or postponed open a rebooking task."
    )
    departed_at: Annotated[HappenedAt | None, needed_for("departed", only=True)] = _optional("Required when departed.")
    reason: Annotated[Notes | None, needed_for("no_show", "postponed")] = _optional(
        "Required for no_show and postponed.")
    notes: Notes | None = None


class ConfirmArrivalForm(Form):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"arrived_on": "2026-12-10", "place": "Oslo", "receiving_partner": "Oslo municipality"}]
        }
    )
    arrived_on: HappenedOn
    place: ShortText
    receiving_partner: ShortText | None = None
    notes: Notes | None = None


# --- AVRR: assisted voluntary return and reintegration ---------------------------------------

LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$"),
                         Field(description="ISO 639 code of the language, e.g. ar, fa, ku, ur.")]
Reference = Line(min_length=3, max_length=64)


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
    given_on: HappenedOn
    language: LanguageCode = Field(description="ISO 639 code of the language the consent form was read and signed in.")
    signed_form_reference: Reference = Field(description="Reference of the signed consent form in the case file.")
    notes: Notes | None = None


class AssessEligibilityForm(Form):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"assessed_on": "2026-11-20", "outcome": "eligible"},
        {"assessed_on": "2026-11-20", "outcome": "not_eligible",
         "not_eligible_reason": "Holds a residence permit; not in the programme's target group."}]})
    assessed_on: HappenedOn
    outcome: Literal["eligible", "not_eligible"] = Field(
        description="eligible: on to vulnerability screening; not_eligible: a supervisor decides to reassess or close.")
    not_eligible_reason: Annotated[Notes | None, needed_for("not_eligible", only=True)] = _optional(
        "Why the migrant is not eligible (not_eligible).")
    notes: Notes | None = None


class ScreenVulnerabilityForm(Form):
    """Vulnerability screening.  A vulnerability raises the case's priority (the SLAs of the tasks
    opened afterwards follow it): an unaccompanied minor or a victim of trafficking makes the
    case an emergency, medical needs or another vulnerability make it urgent."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"screened_on": "2026-11-20"},
        {"screened_on": "2026-11-20", "victim_of_trafficking": True, "escort_required": True,
         "notes": "Referred by the counter-trafficking unit; travels with a social worker."}]})
    screened_on: HappenedOn
    unaccompanied_minor: bool = False
    medical_needs: bool = False
    victim_of_trafficking: bool = False
    other_vulnerability: ShortText | None = Field(default=None, description="Any other vulnerability, in a few words.")
    escort_required: bool = Field(default=False, validate_default=True,
                                  description="The return needs an escort (always for an unaccompanied minor).")
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
    assessment_date: HappenedOn
    outcome: Literal["fit", "treatment_required", "not_fit"] = Field(
        description="fit; treatment_required: medical hold until treatment is recorded, then a re-assessment; "
        "not_fit: a supervisor decides.")
    medical_escort_required: bool = Field(default=False, description="Travels only with a medical escort.")
    notes: Notes | None = Field(default=None, description="Clinical notes; visible to medical staff only.")


class RecordPredepartureCounsellingForm(Form):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"session_date": "2026-11-20", "language": "ar", "reintegration_support_explained": True}]})
    session_date: HappenedOn
    language: LanguageCode
    reintegration_support_explained: Literal[True] = Field(
        description="The reintegration support at origin (economic, social, psychosocial) and how to reach the "
        "receiving office were explained.")
    notes: Notes | None = None


class RecordTravelDocumentForm(Form):
    """A member's travel document, issued by the consulate of the country of origin."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"outcome": "issued", "document_type": "laissez_passer", "document_number": "IQ-LP-2026-55120",
         "issuing_consulate": "Consulate General of Iraq, Istanbul", "issued_on": "2026-11-20",
         "valid_until": "2027-02-20"},
        {"outcome": "refused", "decided_on": "2026-11-20", "refusal_reason": "Nationality could not be confirmed."}]})
    outcome: Literal["issued", "refused"]
    document_type: Annotated[Literal["passport", "laissez_passer", "emergency_travel_document"] | None,
                             needed_for("issued", only=True)] = _optional("Required when issued.")
    document_number: Annotated[DocumentNumber | None, needed_for("issued", only=True)] = _optional(
        "Required when issued.")
    issuing_consulate: Annotated[ShortText | None, needed_for("issued", only=True)] = _optional(
        "The consulate of the country of origin that issued it (required when issued).")
    issued_on: Annotated[HappenedOn | None, needed_for("issued", only=True)] = _optional("Required when issued.")
    valid_until: Annotated[NotBefore | None, needed_for("issued", only=True), after_field("issued_on")] = _optional(
        "Required when issued; if the member has not departed by then, the case goes back to travel documents.")
    decided_on: Annotated[HappenedOn | None, needed_for("refused", only=True)] = _optional("Required when refused.")
    refusal_reason: Annotated[Notes | None, needed_for("refused", only=True)] = _optional("Required when refused.")


class RecordExitPermissionForm(Form):
    """Permission of the host authority to leave the country (e.g. the provincial migration
    management directorate in Türkiye)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"outcome": "granted", "authority": "Istanbul Provincial Directorate of Migration Management",
         "reference": "PMM-IST-2026-88412", "decided_on": "2026-11-20"},
        {"outcome": "refused", "authority": "Izmir Provincial Directorate of Migration Management",
         "decided_on": "2026-11-20", "refusal_reason": "Pending court case."}]})
    outcome: Literal["granted", "refused"]
    authority: ShortText
    decided_on: HappenedOn
    reference: Annotated[Reference | None, needed_for("granted", only=True)] = _optional("Required when granted.")
    refusal_reason: Annotated[Notes | None, needed_for("refused", only=True)] = _optional("Required when refused.")
    notes: Notes | None = None


class ArrangeEscortForm(Form):
    """The escort the screening or the fit-to-travel assessment asked for, arranged before booking."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"escort_type": "child_protection", "escort_name": "Elif Arslan", "organisation": "IOM Türkiye"}]})
    escort_type: Literal["operational", "medical", "child_protection", "social_worker"]
    escort_name: ShortText
    organisation: ShortText
    notes: Notes | None = None


class ReconfirmConsentForm(Form):
    """Before departure the migrant confirms, again, that they want to return.  If they do not,
    record a consent withdrawal instead (it closes the case)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"reconfirmed_on": "2026-12-09", "language": "ar", "consent_reconfirmed": True}]})
    reconfirmed_on: HappenedOn
    language: LanguageCode
    consent_reconfirmed: Literal[True] = Field(description="The migrant confirmed their decision to return.")
    notes: Notes | None = None


Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), Field(description="ISO 4217 code, e.g. USD")]


class ReintegrationItem(ShowsRules):
    """One item of assistance in a reintegration plan."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["economic", "social", "psychosocial"]
    description: ShortText = Field(examples=["Small business grant: grocery shop in Erbil"])
    amount: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)] | None = Field(
        default=None, description="For cash or in-kind assistance with a value.")
    currency: Currency | None = Field(default=None, description="Required with an amount.")

    @model_validator(mode="after")
    def _currency_with_amount(self) -> ReintegrationItem:
        if (self.amount is None) != (self.currency is None):
            raise ValueError("amount and currency go together: give both or neither")
        return self


class RecordReintegrationPlanForm(Form):
    """The reintegration plan agreed with the returnee: numbered items, each delivered later.

    ``items`` is a list of objects: the API takes it as JSON (the generic web form cannot
    build lists yet)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"agreed_on": "2027-01-10", "partner": "IOM Iraq, Erbil",
         "items": [{"kind": "economic", "description": "Small business grant: grocery shop", "amount": "2000.00",
                    "currency": "USD"},
                   {"kind": "psychosocial", "description": "Six counselling sessions"}]}]})
    agreed_on: HappenedOn
    partner: ShortText | None = Field(default=None, description="Office or partner at origin delivering the plan.")
    items: list[ReintegrationItem] = Field(min_length=1, max_length=20)
    notes: Notes | None = None


class RecordAssistanceDeliveryForm(Form):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"item_number": 1, "delivered_on": "2027-02-01", "notes": "Grant paid; shop opened."}]})
    item_number: int = Field(ge=1, le=20, description="Which item of the plan was delivered (1 = the first).")
    delivered_on: HappenedOn
    notes: Notes | None = None


class RecordMonitoringVisitForm(Form):
    """A monitoring visit after return.  Scores run from 0 (not reintegrated) to 1 (sustainably
    reintegrated), as the composite index of IOM's Reintegration Sustainability Survey."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"visited_on": "2027-04-12", "method": "in_person", "reintegration_score": 0.62, "economic_score": 0.5,
         "social_score": 0.7, "psychosocial_score": 0.66}]})
    visited_on: HappenedOn
    method: Literal["in_person", "phone", "video"] = "in_person"
    reintegration_score: float = Field(ge=0, le=1, description="Composite reintegration score, 0 to 1.")
    economic_score: float | None = Field(default=None, ge=0, le=1)
    social_score: float | None = Field(default=None, ge=0, le=1)
    psychosocial_score: float | None = Field(default=None, ge=0, le=1)
    notes: Notes | None = None


class CloseReintegrationForm(Form):
    """Every item of the plan is delivered: the supervisor closes the case, or lets the
    remaining monitoring visits run (the case then closes after the last one)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"decision": "close", "reason": "Plan delivered; business running at the 3-month visit."}]})
    decision: Literal["close", "continue_monitoring"]
    reason: Notes = Field(min_length=1)
