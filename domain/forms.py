"""Completion forms: what a caseworker (or integration) submits to complete each task type.

One form per task type (a programme may give a shared task type its own form, e.g. AVRR's
``AvrrConfirmArrivalForm``).  The API serves each form's JSON Schema (``form_json_schema``) so
a UI can build the form, and validates submissions with ``parse_form`` for a field-level 422;
the workflow validates again with the same function inside its Update validator, because the
workflow is the source of truth.

**A form states its rules in its JSON Schema.**  Where the fields depend on a choice (an
``outcome`` or a ``decision``), the form is a ``ChoiceForm``: a discriminated union of one
model per choice, each with exactly the fields that choice takes, the ones it needs marked
``required``.  Its schema is ``oneOf`` the choices with a ``discriminator`` (OpenAPI style),
plus a summary at the top: ``properties`` (every field, once), ``required`` (what every choice
needs), the choice's ``enum`` and ``additionalProperties: false``, for clients that read no
``oneOf``.  ``parse_form`` returns
the chosen branch's model (``RecordVisaIssuedForm``, not the union), with errors located at the
field names (``visa_number``), never at a union tag.  What a JSON Schema cannot say (a date
after another of the form's dates, two airports that must differ) is in the field's
description and enforced by the model; rules that need the case (checked by the engine, e.g.
"within 72 hours before the booked departure") are in the description too, marked "checked
against the case".

Dates that record something that happened ("interview held on") may not lie in the
future, and dates that bound a validity ("valid until") must lie after the event; the
"today" they compare with is passed in the validation context (``{"today": date}``) so
that the workflow can supply its deterministic clock and the API the wall clock.  An
instant that happened ("departed at") is judged against the instant ``now`` (``{"now":
datetime}``), with a few minutes for clocks that differ: an admission rule, so a form recorded
under the day rule alone replays as it was decided.  Every
date also lies between 2000-01-01 and 2199-12-31, whatever the context: a case date outside
them cannot be right, and one near the end of the calendar would overflow the deadline
arithmetic of the case core.  Each rule is in the field's JSON Schema description.

Every string is a ``domain.text`` type: ``Line`` (names, places, references) or ``Text``
(notes), with the rule in the JSON Schema ``pattern`` the UI builds its inputs from.

Forms are input only: a completed task is recorded as its own event (``domain.events``), with
plain fields and none of these validators, so a rule tightened here never makes a stored
event unreadable.  ``domain.events.completion_event`` maps each form to its event.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    AwareDatetime,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    RootModel,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from domain.countries import COUNTRY_CODES
from domain.currencies import CURRENCY_CODES
from domain.model import Country, Notes, ShortText, today_of
from domain.text import Line, Rule, ShowsRules, Text, _rules_in

EARLIEST_CASE_DATE = date(2000, 1, 1)
LATEST_CASE_DATE = date(2199, 12, 31)
_RANGE = f"between {EARLIEST_CASE_DATE.isoformat()} and {LATEST_CASE_DATE.isoformat()}"
DEPARTURE_WINDOW = (timedelta(days=366), timedelta(days=2 * 366))  # before and after today
CASE_RULE = "(checked against the case)"
CLOCK_SKEW = timedelta(minutes=5)  # how far ahead of now an instant that happened may be (clocks differ)
_SKEW_MINUTES = int(CLOCK_SKEW.total_seconds() // 60)
ACTION_TAKEN_MIN_LENGTH = 3  # a resolved escalation says what was done: "" or "x" says nothing
LONGEST_DUE_EXTENSION_DAYS = 90  # a resolved escalation gives an overdue task weeks, not centuries


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
    # An instant is judged against the current instant (an admission rule: the moment it is
    # entered; a recorded form replays as decided).  The day rule below is the one forms were
    # recorded under, kept for every decision: it alone let a departure later the same day, or
    # a day and a half ahead with a -12:00 offset, through.
    now = now_of(info)
    if now is not None and admission_rule(info) and value > now + CLOCK_SKEW:
        zone = getattr(now.tzinfo, "key", None) or str(now.tzinfo)
        raise PydanticCustomError("in_future", "{reason}", {
            "reason": f"must not be in the future: {value.isoformat()} is after now ({now:%Y-%m-%d %H:%M} in {zone})",
            "expected": f"{(now + CLOCK_SKEW).isoformat(timespec='minutes')} or earlier"})
    today = today_of(info)
    if today is not None and value.date() > today:
        raise ValueError(f"must not be in the future (today is {today.isoformat()})")
    _within_calendar(value.date())
    return value


def now_of(info: ValidationInfo) -> datetime | None:
    """The instant a validation runs at (``parse_form(now=...)``, in the office's zone), if given."""
    context = info.context
    return context.get("now") if isinstance(context, dict) else None


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


def _within_calendar_dt(value: datetime) -> datetime:
    _within_calendar(value.date())
    return value


HappenedOn = Annotated[date, AfterValidator(_not_in_future), Rule(f"Not in the future; {_RANGE}.")]


@dataclass(frozen=True)
class SinceReferral(Rule):
    """The rule of a day of the case's own work (an interview, an assessment, a session, a
    visit): not before the day the case was referred, in its office's time zone.  It needs
    the case, so the engine checks it (``domain.engine.case_rules.check_since_referral``) for
    every field marked so; a document's issue date or an authority's decision may be older
    than the case and stays ``HappenedOn``."""


# A day of the case's own work: as ``HappenedOn``, and not before the case was referred.
HappenedSinceReferral = Annotated[date, AfterValidator(_not_in_future), SinceReferral(
    f"Not in the future, nor before the day the case was referred (in its office's time zone) {CASE_RULE}; "
    f"{_RANGE}.")]


@functools.cache
def since_referral_fields(form_type: type[Form], rule: type[Rule] = SinceReferral) -> tuple[str, ...]:
    """The fields of a form (the chosen branch of a ``ChoiceForm``) that are ``HappenedSinceReferral``
    (``rule=SinceReferralInstant``: ``HappenedAt``)."""
    return tuple(name for name, field in form_type.model_fields.items()
                 if any(isinstance(r, rule) for r in _rules_in(field.annotation, field.metadata)))
# A moment a case plans (an appointment): any day a case can have (a year like 9999 would
# overflow the deadline arithmetic: its task would be due past the calendar).
PlannedAt = Annotated[AwareDatetime, AfterValidator(_within_calendar_dt), Rule(f"With its UTC offset; {_RANGE}.")]
class SinceReferralInstant(Rule):
    """The rule of a moment of the case's own journey (a fit-to-travel check, a departure): not
    before the case was referred (``domain.engine.case_rules.check_since_referral``)."""


HappenedAt = Annotated[AwareDatetime, AfterValidator(_not_in_future_dt), SinceReferralInstant(
    f"With its UTC offset; not in the future: not after the moment it is entered (up to {_SKEW_MINUTES} minutes "
    f"ahead, for clocks that differ), nor dated (in its own offset) after today in the case's office time zone; "
    f"nor dated before the day the case was referred {CASE_RULE}; {_RANGE}.")]
NotBefore = Annotated[date, AfterValidator(_not_in_past), Rule(f"Not in the past; {_RANGE}.")]
Departure = Annotated[AwareDatetime, AfterValidator(_plausible_departure),
                      Rule("Within a year before and two years after today.")]
Iata = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), Field(description="IATA airport code, e.g. IST")]
DocumentNumber = Line(min_length=3, max_length=40)
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$"),
                         Field(description="ISO 639 code of the language, e.g. ar, fa, ku, ur.")]
Reference = Line(min_length=3, max_length=64)
# A currency in use (``domain.currencies``): the schema lists them.  The form checks only the
# shape, so completions recorded before the list replay as they were decided; the programme
# refuses another code as an admission rule (``domain.programmes.avrr.flow.check``).
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), Field(
    description="ISO 4217 code of a currency in use, e.g. USD (not XXX, XTS, a metal or a fund code)",
    json_schema_extra={"enum": sorted(CURRENCY_CODES)})]
Reason = Text(max_length=4000, min_length=1)  # a reason a choice needs: not empty


def _given(value: str, info: ValidationInfo) -> str:
    if not value and admission_rule(info):
        raise ValueError("give the reason: it is recorded with the decision (blank is not a reason)")
    return value


# The reason of a supervisor's decision (a review, closing a reintegration): not blank.  An
# admission rule (``admission_rule``): ``Field(min_length=1)`` on ``Notes`` never held (the
# type's own bound won, so "   " closed a case with no reason), and decisions recorded so
# replay as decided.
DecisionReason = Annotated[Notes, AfterValidator(_given),
                           Field(json_schema_extra={"minLength": 1}, description="Why; not blank.")]
CountryCode = Annotated[Country, Field(json_schema_extra={"enum": sorted(COUNTRY_CODES)})]  # the codes, in the schema


class Form(ShowsRules):
    """Base of every completion form: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


def after_field(other: str) -> AfterValidator:
    """A validity end that must lie after another date of the form (said in the description:
    JSON Schema cannot compare two fields)."""

    def check(value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get(other)
        if value is not None and start is not None and value <= start:
            raise ValueError(f"must be after {other} ({start.isoformat()})")
        return value

    return AfterValidator(check)


@dataclass(frozen=True)
class NotBeforeField(Rule):
    """A date that must not lie before another date of the same form (``other``), said in the
    JSON Schema as well as checked: besides the description, ``formatMinimum`` with a
    ``$data`` relative JSON pointer to the other field, the form in which JSON Schema
    validators that compare fields (Ajv's ``$data`` option) read the rule; those that do not
    ignore the keyword.  Use ``not_before_field("issued_on")``."""

    other: str = ""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.with_info_after_validator_function(self._check, handler(source))

    def _check(self, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get(self.other) if info.data else None
        if value is not None and start is not None and value < start:
            raise ValueError(f"must not be before {self.other} ({start.isoformat()})")
        return value

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = super().__get_pydantic_json_schema__(schema, handler)
        handler.resolve_ref_schema(json_schema)["formatMinimum"] = {"$data": f"1/{self.other}"}
        return json_schema


def not_before_field(other: str) -> NotBeforeField:
    """The rule of a validity end that may be the same day as its start (``other``) but not before it."""
    return NotBeforeField(text=f"Not before {other}.", other=other)


def choice(description: str) -> Any:
    """The discriminator of one branch of a ``ChoiceForm`` (``outcome: Literal["issued"] =
    choice("...")``): what this choice means, shown in the form's summary of the choice."""
    return Field(description=description)


# --- forms whose fields depend on one choice ----------------------------------------------


class ChoiceForm(RootModel[Any]):
    """A form whose fields depend on one choice (``outcome``, ``decision``): a discriminated
    union of one ``Form`` per choice.  Declare ``root: Annotated[A | B, Field(discriminator=
    "outcome")]``; each branch declares the choice as a one-value ``Literal`` (with
    ``choice(...)``) and exactly the fields that choice takes.

    Validate with ``parse_form`` (the chosen branch, errors at field names).  The union's own
    ``model_validate`` works too (it is what a generic client of the schema does), and reading
    a field of the result reads it from the branch, for code written before forms had choices.
    """

    @classmethod
    def choice_field(cls) -> str:
        return _choice_spec(cls)[0]

    @classmethod
    def branches(cls) -> dict[str, type[Form]]:
        """The model of each choice, by its value, in declaration order."""
        return dict(_choice_spec(cls)[1])

    @classmethod
    def common_fields(cls) -> tuple[str, ...]:
        """The fields every choice has (the choice itself included)."""
        branches = list(cls.branches().values())
        return tuple(n for n in branches[0].model_fields if all(n in b.model_fields for b in branches[1:]))

    @classmethod
    def parse(cls, data: Any, *, context: dict[str, Any] | None = None) -> Form:
        """The chosen branch, validated; a missing or unknown choice is reported at the choice's
        field, together with the errors of the fields every choice has."""
        if not isinstance(data, Mapping):
            return cls.model_validate(data, context=context).root  # raises: not an object
        key, branches = _choice_spec(cls)
        value = data.get(key)
        branch = dict(branches).get(value) if isinstance(value, str) else None
        if branch is not None:
            try:
                return branch.model_validate(data, context=context)
            except ValidationError as exc:
                raise _other_choices_named(cls, value, exc) from None
        values = [v for v, _ in branches]
        errors: list[Any] = [
            {"type": "missing", "loc": (key,), "input": dict(data)} if key not in data else
            {"type": "literal_error", "loc": (key,), "input": value, "ctx": {"expected": _one_of(values)}}
        ]
        try:
            branches[0][1].model_validate({**data, key: values[0]}, context=context)
        except ValidationError as exc:
            # what is wrong whatever the choice: the fields every choice has, and fields none has
            common, known = set(cls.common_fields()), {n for _, b in branches for n in b.model_fields}
            errors += [_line_error(e) for e in exc.errors() if e["loc"] and (
                e["loc"][0] in common or (e["type"] == "extra_forbidden" and e["loc"][0] not in known))]
        raise ValidationError.from_exception_data(cls.__name__, errors)

    def __getattr__(self, name: str) -> Any:
        if name == "root" or name.startswith("_"):
            return super().__getattr__(name)  # type: ignore[misc]
        return getattr(self.root, name)

    @classmethod
    def __get_pydantic_json_schema__(cls, core: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(core)
        target = handler.resolve_ref_schema(json_schema)
        key, branches = _choice_spec(cls)
        schemas = {value: handler.resolve_ref_schema(ref) for value, ref in _branch_refs(target)}
        properties, required = _summary(key, [(v, schemas[v]) for v, _ in branches])
        target.update({"type": "object", "properties": properties, "required": required,
                       "additionalProperties": False})
        return json_schema


def _other_choices_named(cls: type[ChoiceForm], chosen: str, exc: ValidationError) -> ValidationError:
    """A field of another choice is "only for outcome 'issued', not 'refused'", not just "extra"."""
    key, branches = _choice_spec(cls)
    owners = {n: [v for v, b in branches if n in b.model_fields] for n in {n for _, b in branches for n in b.model_fields}}
    errors = exc.errors()
    if not any(e["type"] == "extra_forbidden" and e["loc"] and owners.get(e["loc"][0]) for e in errors):
        return exc
    lines = []
    for e in errors:
        line = _line_error(e)
        if e["type"] == "extra_forbidden" and e["loc"] and owners.get(e["loc"][0]):
            message = f"only for {key} {_one_of(owners[e['loc'][0]])}, not {chosen!r}"
            line["type"] = PydanticCustomError("extra_forbidden", message)
        lines.append(line)
    return ValidationError.from_exception_data(exc.title, lines)


def _one_of(values: list[str]) -> str:
    quoted = [repr(v) for v in values]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


@functools.cache
def _choice_spec(cls: type[ChoiceForm]) -> tuple[str, tuple[tuple[str, type[Form]], ...]]:
    field = cls.model_fields["root"]
    key = field.discriminator
    if not isinstance(key, str):
        raise TypeError(f"{cls.__name__}: root needs Field(discriminator='<field name>')")
    annotation = field.annotation
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    branches: list[tuple[str, type[Form]]] = []
    for branch in get_args(annotation) if get_origin(annotation) in (Union, type(int | str)) else (annotation,):
        (value,) = get_args(branch.model_fields[key].annotation)
        branches.append((value, branch))
    return key, tuple(branches)


def _branch_refs(union_schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    mapping = union_schema.get("discriminator", {}).get("mapping", {})
    return [(value, {"$ref": ref}) for value, ref in mapping.items()]


def _summary(key: str, branches: list[tuple[str, dict[str, Any]]]) -> tuple[dict[str, Any], list[str]]:
    """The top-level ``properties`` and ``required`` of a choice form: every field once, in the
    order a form shows them (the fields every choice has up to the choice, then each group of
    fields some choices have, in order of appearance, then the other common fields)."""
    names: list[str] = []
    for _, schema in branches:
        names += [n for n in schema.get("properties", {}) if n not in names]
    having = {n: tuple(v for v, s in branches if n in s.get("properties", {})) for n in names}
    common = [n for n in names if len(having[n]) == len(branches)]
    split = common.index(key) + 1 if key in common else len(common)
    groups: dict[tuple[str, ...], list[str]] = {}
    for n in names:
        if n not in common:
            groups.setdefault(having[n], []).append(n)
    order = common[:split] + [n for group in groups.values() for n in group] + common[split:]
    properties: dict[str, Any] = {}
    for n in order:
        owner = next(s for _, s in branches if n in s.get("properties", {}))
        properties[n] = copy.deepcopy(owner["properties"][n])
    described = [(v, s["properties"][key].get("description")) for v, s in branches]
    properties[key] = {
        "title": properties[key].get("title", key.replace("_", " ").title()),
        "type": "string",
        "enum": [v for v, _ in branches],
        "description": "; ".join(f"{v}: {d}" for v, d in described if d) or None,
    }
    if properties[key]["description"] is None:
        del properties[key]["description"]
    required = [n for n in order if all(n in s.get("required", []) for _, s in branches)]
    return properties, required


def _line_error(error: Any) -> Any:
    """A pydantic error as it was (type, message, context), to raise again at its location."""
    ctx = {k: (str(v) if isinstance(v, Exception) else v) for k, v in (error.get("ctx") or {}).items()}
    return {"type": PydanticCustomError(error["type"], error["msg"], ctx or None), "loc": error["loc"],
            "input": error["input"]}


FormType = type[Form] | type[ChoiceForm]


def parse_form(form_type: FormType, data: Any, *, today: date, now: datetime | None = None,
               admission: bool = True) -> Form:
    """Validate a completion form: the model of the chosen branch for a ``ChoiceForm``.

    Raises pydantic's ``ValidationError``, located at field names.  ``today`` is the day the
    date rules compare with (the workflow's clock, or the API's wall clock); ``now`` the
    instant (aware, best in the office's zone, which the refusals name) an instant that
    happened (``HappenedAt``) may not be after, by more than ``CLOCK_SKEW``: an admission
    rule, not judged without it.  ``admission`` False (the workflow handler's decision, which
    replays recorded commands) leaves out the form rules added as admission rules
    (``admission_rule``), so forms recorded before them replay as decided."""
    context = {"today": today, "now": now, "admission": admission}
    if isinstance(form_type, type) and issubclass(form_type, ChoiceForm):
        return form_type.parse(data, context=context)
    return form_type.model_validate(data, context=context)


@functools.cache
def _schema_of(form_type: FormType) -> dict[str, Any]:
    return form_type.model_json_schema()


def form_json_schema(form_type: FormType) -> dict[str, Any]:
    """The JSON Schema the API serves for a form (and the UI builds the form from)."""
    return copy.deepcopy(_schema_of(form_type))


# --- the engine's and the journey's forms (every programme that moves people) ---------------


class RecordTreatmentForm(Form):
    """Treatment of a member on medical hold is done; a re-assessment follows.  Whoever put the
    member on hold may not record it (four-eyes rule, checked against the case)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"completed_on": "2026-11-20", "notes": "Course completed."}]})
    completed_on: HappenedSinceReferral
    notes: Notes | None = Field(default=None, description="Clinical notes; visible to medical staff only.")


class _Review(Form):
    decision: str
    reason: DecisionReason


class ReviewResubmitForm(_Review):
    decision: Literal["resubmit"] = choice(
        "resubmit to another destination country (after an interview rejection or visa refusal); whoever "
        "recorded the rejection or refusal may not approve it (four-eyes rule, checked against the case)")
    destination_country: CountryCode = Field(
        description=f"New destination, ISO 3166-1 alpha-2; must differ from the current one, and be a third "
                    f"country: not a member's nationality {CASE_RULE}, nor the host country of the case's office "
                    "(ITINERA_OFFICE_COUNTRIES), as for a referral.")


class ReviewReassessForm(_Review):
    decision: Literal["reassess"] = choice(
        "reassess the member's health (after not cleared) or, for AVRR, the eligibility (after not eligible), "
        "or, for family reunification, the relationship found not eligible")


class ReviewReapplyForm(_Review):
    decision: Literal["reapply"] = choice("reapply for the refused travel document or exit permission (AVRR), or "
                                          "the refused visa (family reunification)")


class ReviewCloseForm(_Review):
    decision: Literal["close"] = choice("close the case")


class ReviewOutcomeForm(ChoiceForm):
    """A supervisor's decision after a rejection, a refusal or a member not cleared (or, for AVRR,
    not eligible).  Which decisions a case allows depends on its programme and stage (checked
    against the case)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"decision": "resubmit", "destination_country": "SE", "reason": "Resubmitted to Sweden."},
                {"decision": "close", "reason": "No resettlement option."},
            ]
        }
    )
    root: Annotated[ReviewResubmitForm | ReviewReassessForm | ReviewReapplyForm | ReviewCloseForm,
                    Field(discriminator="decision")]


def admission_rule(info: ValidationInfo) -> bool:
    """Whether a form rule added after forms were recorded applies: always, except in the
    workflow handler's decision (``parse_form(admission=False)``)."""
    return not (isinstance(info.context, dict) and info.context.get("admission") is False)


# A day a case plans (an embassy appointment, a follow-up interview) lies at most two years
# after the day it is entered: 2199-12-31 is a typo, not a plan.  The bound moves with the
# calendar, so it is an admission rule (``admission_rule``): forms recorded before it replay.
PLANNING_HORIZON_YEARS = 2


def latest_planned_day(today: date) -> date:
    """The last day a plan entered on ``today`` may be for: the same day two years later (1 March
    when ``today`` is 29 February and that year has none)."""
    try:
        return today.replace(year=today.year + PLANNING_HORIZON_YEARS)
    except ValueError:
        return date(today.year + PLANNING_HORIZON_YEARS, 3, 1)


def _within_planning_horizon(value: date, info: ValidationInfo) -> date:
    today = today_of(info)
    day = value.date() if isinstance(value, datetime) else value
    if today is not None and admission_rule(info) and day > latest_planned_day(today):
        latest = latest_planned_day(today).isoformat()
        raise PydanticCustomError("date_too_far", "{reason}", {
            "reason": f"{day.isoformat()} is more than two years after today ({today.isoformat()}): the latest "
                      f"day that may be planned today is {latest}",
            "expected": f"a day from today to {latest} (at most two years ahead)"})
    return value


_PLANNING_RULE = Rule("When entered, at most two years after that day.")
PlannedWithinHorizon = Annotated[PlannedAt, AfterValidator(_within_planning_horizon), _PLANNING_RULE]
PlannedDay = Annotated[NotBefore, AfterValidator(_within_planning_horizon), _PLANNING_RULE]


def _says_what_was_done(value: str, info: ValidationInfo) -> str:
    if admission_rule(info) and len(value) < ACTION_TAKEN_MIN_LENGTH:
        raise ValueError(f"say what was done (at least {ACTION_TAKEN_MIN_LENGTH} characters)")
    return value


class ResolveEscalationForm(Form):
    """The supervisor's answer to an overdue task: what was done, and optionally a new due date."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"action_taken": "Called the clinic; results promised Friday.",
                                         "new_due_date": "2026-11-27"}]}
    )
    # The length is an admission rule of the form (``admission_rule``), the date bound one
    # checked against the case (``domain.engine.escalations``): resolutions recorded before
    # them replay as decided.  The schema says both.
    action_taken: Annotated[Notes, AfterValidator(_says_what_was_done)] = Field(
        description=f"What was done about the overdue task, in words (at least {ACTION_TAKEN_MIN_LENGTH} characters).",
        json_schema_extra={"minLength": ACTION_TAKEN_MIN_LENGTH})
    new_due_date: NotBefore | None = Field(
        default=None, description="Give the overdue task until the end of this day in the case's office time zone: "
                                  f"at most {LONGEST_DUE_EXTENSION_DAYS} days after today, and for a fit-to-travel "
                                  f"check not after the day of its departure {CASE_RULE}.")


class CheckFitToTravelForm(Form):
    """Pre-departure fit-to-travel check of one member; valid for 72 hours before departure."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"checked_at": "2026-12-09T10:00:00+03:00",
                                                               "outcome": "fit"}]})
    checked_at: HappenedAt = Field(
        description=f"When the member was checked: within the 72 hours before the booked departure {CASE_RULE}.")
    outcome: Literal["fit", "not_fit"] = Field(
        description="not_fit puts the member on medical hold and the flight must be rebooked."
    )
    notes: Notes | None = Field(default=None, description="Clinical notes; visible to medical staff only.")


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
    departure_at: Departure = Field(description="Scheduled departure, with time zone offset; on a day (its own date) "
                                                "on which every member's visa or travel document and medical clearance "
                                                f"are still valid {CASE_RULE}.")
    departure_airport: Iata = Field(description="IATA code of a known airport (checked against the IATA airports "
                                                "table when the form is sent), e.g. IST.")
    arrival_airport: Iata = Field(description=(
        "IATA code of a known airport, e.g. OSL; not the departure_airport; in the country the case travels to: its "
        "destination country (resettlement, family reunification) or its country of return (AVRR), as a group "
        f"movement's arrival airport {CASE_RULE}.  Both checked against the IATA airports table when the form is sent."))
    notes: Notes | None = None

    @field_validator("arrival_airport")
    @classmethod
    def _different_airports(cls, value: str, info: ValidationInfo) -> str:
        if value == info.data.get("departure_airport"):
            raise ValueError("must differ from departure_airport")
        return value


class _Departure(Form):
    outcome: str
    notes: Notes | None = None


class DepartedForm(_Departure):
    outcome: Literal["departed"] = choice("the case departed")
    departed_at: HappenedAt = Field(
        description="When the flight left.  Every member needs a fit-to-travel check within the 72 hours "
        f"before it and, for AVRR, the consent reconfirmed {CASE_RULE}.")


class NoShowForm(_Departure):
    outcome: Literal["no_show"] = choice("the case did not come to the flight: a rebooking task opens")
    reason: Reason = Field(description="Why the case did not travel.")


class PostponedForm(_Departure):
    outcome: Literal["postponed"] = choice("the flight was postponed: a rebooking task opens")
    reason: Reason = Field(description="Why the flight was postponed.")


class RecordDepartureForm(ChoiceForm):
    """The departure: departed, or a no-show or postponement (both open a rebooking task)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"outcome": "departed", "departed_at": "2026-12-10T09:55:00+03:00"},
                {"outcome": "no_show", "reason": "Family did not come to the airport."},
                {"outcome": "postponed", "reason": "Flight cancelled by the airline."},
            ]
        }
    )
    root: Annotated[DepartedForm | NoShowForm | PostponedForm, Field(discriminator="outcome")]


class ConfirmArrivalForm(Form):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"arrived_on": "2026-12-10", "place": "Oslo", "receiving_partner": "Oslo municipality"}]
        }
    )
    arrived_on: HappenedOn = Field(description=f"Not before the departure {CASE_RULE}.")
    place: ShortText
    receiving_partner: ShortText | None = None
    notes: Notes | None = None


def __getattr__(name: str) -> Any:
    # A programme's own forms live in its folder (domain/programmes/<name>/forms.py); reading
    # one from here still works for code written before they moved.
    from domain.programmes.avrr import forms as avrr_forms
    from domain.programmes.resettlement import forms as resettlement_forms

    for module in (resettlement_forms, avrr_forms):
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(name)
