"""Completion forms: what a caseworker (or integration) submits to complete each task type.

One pydantic model per task type.  The API serves each model's JSON Schema so a UI can
build the form, validates submissions against it for a field-level 422, and the workflow
validates again inside its Update validator, because the workflow is the source of truth.

Dates that record something that happened ("interview held on") may not lie in the
future, and dates that bound a validity ("valid until") must lie after the event; the
"today" they compare with is passed in the validation context (``{"today": date}``) so
that the workflow can supply its deterministic clock and the API the wall clock.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, model_validator

from domain.model import Notes, ShortText


def _today(info: ValidationInfo) -> date | None:
    context = info.context
    return context.get("today") if isinstance(context, dict) else None


def _not_in_future(value: date, info: ValidationInfo) -> date:
    today = _today(info)
    if today is not None and value > today:
        raise ValueError(f"must not be in the future (today is {today.isoformat()})")
    return value


def _not_in_future_dt(value: datetime, info: ValidationInfo) -> datetime:
    today = _today(info)
    if today is not None and value.date() > today:
        raise ValueError(f"must not be in the future (today is {today.isoformat()})")
    return value


def _not_in_past(value: date, info: ValidationInfo) -> date:
    today = _today(info)
    if today is not None and value < today:
        raise ValueError(f"must not be in the past (today is {today.isoformat()})")
    return value


HappenedOn = Annotated[date, AfterValidator(_not_in_future)]
HappenedAt = Annotated[AwareDatetime, AfterValidator(_not_in_future_dt)]
NotBefore = Annotated[date, AfterValidator(_not_in_past)]
Iata = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), Field(description="IATA airport code, e.g. IST")]


class Form(BaseModel):
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


class ConductInterviewForm(Form):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"interview_date": "2026-11-20", "outcome": "accepted", "interpreter_language": "ar"}]
        }
    )
    interview_date: HappenedOn
    outcome: Literal["accepted"] = Field(description="Result of the resettlement interview.")
    interpreter_language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")] | None = Field(
        default=None, description="ISO 639 language code of the interpreter, if one was used."
    )
    notes: Notes | None = None


class AssessHealthForm(Form):
    """Health assessment of one member.  Health details are special-category data."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "assessment_date": "2026-11-20",
                    "outcome": "cleared",
                    "clearance_valid_until": "2027-05-20",
                    "tb_classification": "none",
                }
            ]
        }
    )
    assessment_date: HappenedOn
    outcome: Literal["cleared"]
    clearance_valid_until: NotBefore = Field(description="The medical clearance expires on this date.")
    tb_classification: Literal["none", "class_a", "class_b1", "class_b2", "class_b3"] = "none"
    follow_up_needed: bool = Field(default=False, description="Needs medical follow-up on arrival.")
    notes: Notes | None = Field(default=None, description="Clinical notes; visible to medical staff only.")

    @model_validator(mode="after")
    def _validity_after_assessment(self) -> AssessHealthForm:
        if self.clearance_valid_until <= self.assessment_date:
            raise ValueError("clearance_valid_until must be after assessment_date")
        return self


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
                {"outcome": "issued", "visa_number": "NO-2026-118842", "issued_on": "2026-11-20", "valid_until": "2027-02-20"}
            ]
        }
    )
    outcome: Literal["issued"]
    visa_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=40)]
    issued_on: HappenedOn
    valid_until: NotBefore

    @model_validator(mode="after")
    def _validity_after_issue(self) -> RecordVisaForm:
        if self.valid_until <= self.issued_on:
            raise ValueError("valid_until must be after issued_on")
        return self


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
    departure_at: AwareDatetime = Field(description="Scheduled departure, with time zone offset.")
    departure_airport: Iata
    arrival_airport: Iata
    notes: Notes | None = None

    @model_validator(mode="after")
    def _different_airports(self) -> BookMovementForm:
        if self.departure_airport == self.arrival_airport:
            raise ValueError("arrival_airport must differ from departure_airport")
        return self


class RecordDepartureForm(Form):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"outcome": "departed", "departed_at": "2026-12-10T09:55:00+03:00"}]}
    )
    outcome: Literal["departed"]
    departed_at: HappenedAt
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
