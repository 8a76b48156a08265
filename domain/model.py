"""The case vocabulary: programmes, stages, priorities, people and who acts.

These pydantic models are the one schema shared by the API, the workflows and the
activities.  They are pure data (no I/O, no clocks), so the workflow sandbox can import
them and the same validation runs at the API edge and inside the workflow.

Every string a request carries is a ``domain.text`` type (``Line`` for names, ``Text`` for
notes): what PostgreSQL cannot store or a reader cannot show is refused, and the JSON
Schema says so.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    SerializerFunctionWrapHandler,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from domain.countries import COUNTRY_CODES
from domain.text import Line, Rule, ShowsRules, Text


def _known_programme(name: str) -> str:
    from domain.programmes.registry import names

    if name not in names():
        raise ValueError(f"unknown programme '{name}'; known: {', '.join(names())}")
    return name


class _ProgrammeNames:
    """The JSON Schema of a programme name lists the programmes registered when it is asked."""

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        from domain.programmes.registry import names

        return {**handler(core_schema), "enum": list(names()), "description": "The case's programme."}


ProgrammeName = Annotated[str, AfterValidator(_known_programme), _ProgrammeNames()]
"""A registered programme's name (``domain.programmes``): resettlement, avrr, ..."""


class Stage(StrEnum):
    """One stable stage vocabulary for the API: each programme walks the stages it needs, in
    its order, and labels them its own way (``ProgrammeDefinition.stages``/``stage_labels``)."""

    REFERRAL = "referral"
    INTERVIEW = "interview"
    HEALTH = "health"
    ORIENTATION = "orientation"
    VISA = "visa"
    MOVEMENT = "movement"
    ARRIVAL = "arrival"
    REINTEGRATION = "reintegration"  # after arrival: plan, assistance delivered, monitoring
    DOCUMENTS = "documents"  # family reunification: each member's document checklist
    EMBASSY_APPOINTMENT = "embassy_appointment"  # family reunification: the visa appointment
    CLOSED = "closed"


class CaseStatus(StrEnum):
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    CLOSED = "closed"


class Priority(StrEnum):
    """UNHCR resettlement priorities; they set every SLA of the case."""

    EMERGENCY = "emergency"
    URGENT = "urgent"
    NORMAL = "normal"

    @property
    def rank(self) -> int:
        """Sort key: emergency first."""
        return {"emergency": 0, "urgent": 1, "normal": 2}[self.value]


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class Relationship(StrEnum):
    """A member's relationship to the principal applicant."""

    PRINCIPAL = "principal"
    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"
    SIBLING = "sibling"
    GRANDCHILD = "grandchild"
    OTHER_RELATIVE = "other_relative"
    NON_RELATIVE = "non_relative"


class ActorKind(StrEnum):
    USER = "user"
    INTEGRATION = "integration"
    SYSTEM = "system"


class Role(StrEnum):
    CASEWORKER = "caseworker"
    MEDICAL_OFFICER = "medical_officer"
    MOVEMENT_OFFICER = "movement_officer"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


OFFICE_PATTERN = r"^[A-Z][A-Z0-9_-]{1,31}$"
Office = Annotated[
    str,
    StringConstraints(pattern=OFFICE_PATTERN),
    Field(description="Office code, upper case, e.g. IST (Istanbul) or IZM (Izmir).", examples=["IST"]),
]
Name = Line(max_length=200)
ShortText = Line(max_length=200)
Notes = Text(max_length=4000)

COUNTRY_HELP = "ISO 3166-1 alpha-2 country code (or XK, Kosovo), upper case"


def check_country(value: str) -> str:
    if value not in COUNTRY_CODES:
        raise ValueError(f"'{value}' is not an {COUNTRY_HELP} (for example NO, SY, TR)")
    return value


Country = Annotated[str, AfterValidator(check_country), Rule(COUNTRY_HELP, pattern="^[A-Z]{2}$")]

# --- "today" at the edge ----------------------------------------------------------------------
#
# Rules about today (no date of birth in the future) need the day from outside: the domain
# reads no clock.  The workflow and ``validate_form`` pass it in the validation context
# (``{"today": date}``).  FastAPI validates a request body with no context at all, so the
# API's edge (``api.input_guard``) sets EDGE_TODAY for the request it serves; nothing sets it
# inside a workflow.
EDGE_TODAY: ContextVar[date | None] = ContextVar("itinera_edge_today", default=None)


def today_of(info: ValidationInfo, *, edge: bool = False) -> date | None:
    """The day a validation runs on: from its context, else (``edge``) the API request's."""
    context = info.context
    if isinstance(context, dict) and context.get("today") is not None:
        return context["today"]
    return EDGE_TODAY.get() if edge else None


EARLIEST_BIRTH = date(1900, 1, 1)


def _plausible_birth(value: date, info: ValidationInfo) -> date:
    if value < EARLIEST_BIRTH:
        raise ValueError(f"date of birth must not be before {EARLIEST_BIRTH.isoformat()}")
    # A date of birth in the past stays in the past: this check gives the same answer on any
    # later day, so it may use the request's day when validation has no context.
    today = today_of(info, edge=True)
    if today is not None and value > today:
        raise ValueError(f"date of birth must not be in the future (today is {today.isoformat()})")
    return value


DateOfBirth = Annotated[date, AfterValidator(_plausible_birth),
                        Rule(f"Not in the future and not before {EARLIEST_BIRTH.isoformat()}.")]

# A date of birth typed in (a referral, a member's correction) is also not more than
# OLDEST_AGE_YEARS before the day it is entered: 1900-01-01 is a placeholder, not a person.
# That bound moves with the calendar, so it is an ADMISSION rule only: the request models
# (``domain.referral_request``) and the correction's validator (``domain.engine.corrections``,
# ``ctx.admission_rules``) check it; a recorded member, a case's state and a replayed history
# are never judged by it (what was plausible when entered stays valid).
OLDEST_AGE_YEARS = 120
ENTERED_BIRTH_RULE = f"When entered, not more than {OLDEST_AGE_YEARS} years before that day."


def earliest_birth_entered_on(today: date) -> date:
    """The earliest date of birth a person entered on ``today`` may have: ``OLDEST_AGE_YEARS``
    years before it (1 March when ``today`` is 29 February and that year has none)."""
    year = today.year - OLDEST_AGE_YEARS
    try:
        return today.replace(year=year)
    except ValueError:
        return date(year, 3, 1)


def entered_birth_problem(value: date, today: date) -> tuple[str, str] | None:
    """Why a date of birth entered on ``today`` is refused, and what is allowed (``None``: it is not)."""
    earliest = earliest_birth_entered_on(today)
    if value >= earliest:
        return None
    return (f"{value.isoformat()} is more than {OLDEST_AGE_YEARS} years before today ({today.isoformat()}): not a "
            f"plausible date of birth; the earliest a date of birth entered today may be is {earliest.isoformat()}",
            f"a date from {earliest.isoformat()} to {today.isoformat()}: at most {OLDEST_AGE_YEARS} years before the "
            "day it is entered, and not in the future")


def _entered_birth(value: date, info: ValidationInfo) -> date:
    # Only on the request models (what is typed in now): the day is the request's.
    today = today_of(info, edge=True)
    problem = entered_birth_problem(value, today) if today is not None else None
    if problem is not None:
        # "expected" is the context key the API's and the import's error details show as "allowed"
        raise PydanticCustomError("birth_implausible", "{reason}", {"reason": problem[0], "expected": problem[1]})
    return value


_WRITTEN_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _written_as_a_date(value: object) -> object:
    """A date typed in is a date, written YYYY-MM-DD: pydantic's lax reading took
    "1990-01-01T00:00:00" as a date and read 19900101 as seconds since 1970 (refused with
    "Datetimes provided to dates should have zero time", which says nothing to a person)."""
    if isinstance(value, str) and not _WRITTEN_DATE.fullmatch(value.strip()):
        raise PydanticCustomError("date_format", "must be a date written YYYY-MM-DD, e.g. 1988-03-14 (not '{value}')",
                                  {"value": value[:40], "expected": "a date written YYYY-MM-DD"})
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise PydanticCustomError("date_format", "must be a date written YYYY-MM-DD, e.g. 1988-03-14 (a number was "
                                  "given)", {"expected": "a date written YYYY-MM-DD"})
    return value


EnteredDateOfBirth = Annotated[DateOfBirth, BeforeValidator(_written_as_a_date), AfterValidator(_entered_birth),
                               Rule(ENTERED_BIRTH_RULE)]
"""A date of birth as a request types it in: ``DateOfBirth`` and the admission rule above."""


def check_monitoring_months(months: tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """AVRR monitoring visits: months after arrival, strictly increasing, within five years."""
    values = tuple(months)
    if not 1 <= len(values) <= 12:
        raise ValueError("give 1 to 12 monitoring visits, e.g. 3, 6, 12")
    if any(not 1 <= m <= 60 for m in values):
        raise ValueError("each visit is 1 to 60 months after arrival")
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError("months must be strictly increasing, e.g. 3, 6, 12")
    return values


class Actor(BaseModel):
    """Who did something: the authenticated user, an integration key, or the engine itself."""

    model_config = ConfigDict(frozen=True)

    kind: ActorKind = ActorKind.USER
    id: str = Field(description="Username, integration key id, or 'itinera' for the system.")
    role: str | None = None
    offices: tuple[str, ...] = ()

    @classmethod
    def system(cls) -> Actor:
        return cls(kind=ActorKind.SYSTEM, id="itinera", role="system")


class MemberIn(ShowsRules):
    """A person on the case as referred (and as corrected: a correction is validated as a whole member)."""

    model_config = ConfigDict(extra="forbid")

    full_name: Name = Field(examples=["Amina Haddad"])
    date_of_birth: DateOfBirth = Field(examples=["1988-03-14"])
    sex: Sex
    nationality: Country = Field(examples=["SY"])
    relationship: Relationship = Field(
        description="Relationship to the principal applicant; exactly one member is 'principal'. In family "
        "reunification: relationship to the sponsor (spouse, child or parent; no principal)."
    )


class Member(MemberIn):
    member_id: str


class ReferralFieldError(ValueError):
    """A programme's referral rule broken at one field (``check_referral``): the error is
    reported at ``loc`` (e.g. ``("members", 3, "relationship")``) rather than at the referral."""

    def __init__(self, loc: tuple[str | int, ...], reason: str):
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        super().__init__(f"{path}: {reason}")
        self.loc = loc


class ProtectionStatus(StrEnum):
    """The sponsor's status in the destination country (family reunification)."""

    REFUGEE = "refugee"
    SUBSIDIARY_PROTECTION = "subsidiary_protection"
    RESETTLED = "resettled"
    HUMANITARIAN = "humanitarian"


class Sponsor(ShowsRules):
    """The person in the destination country a family joins: they hold protection status
    there.  Named by the referral of a programme whose members join a sponsor."""

    model_config = ConfigDict(extra="forbid")

    full_name: Name = Field(examples=["Yusuf Haddad"])
    date_of_birth: DateOfBirth | None = Field(
        default=None, description="Required when a parent joins: parents join a sponsor who is a minor.")
    protection_status: ProtectionStatus
    residence_permit: Line(min_length=3, max_length=64) = Field(  # type: ignore[valid-type]
        description="Reference of the sponsor's residence permit.", examples=["DE-BER-AT-2025-118402"])
    city: Line(max_length=200) = Field(description="Where the sponsor lives.", examples=["Berlin"])  # type: ignore[valid-type]
    contact: Line(max_length=200) = Field(  # type: ignore[valid-type]
        description="How to reach the sponsor: phone or e-mail.", examples=["+49 30 1234567"])


_EXTERNAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{2,63}$")


class Referral(ShowsRules):
    """What a referral carries: enough to open a case.  Shared by API and workflow."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "programme": "resettlement",
                    "office": "IST",
                    "priority": "normal",
                    "destination_country": "NO",
                    "external_referral_id": "UNHCR-TUR-2026-004211",
                    "members": [
                        {
                            "full_name": "Amina Haddad",
                            "date_of_birth": "1988-03-14",
                            "sex": "female",
                            "nationality": "SY",
                            "relationship": "principal",
                        },
                        {
                            "full_name": "Omar Haddad",
                            "date_of_birth": "2014-07-02",
                            "sex": "male",
                            "nationality": "SY",
                            "relationship": "child",
                        },
                    ],
                },
                {
                    "programme": "avrr",
                    "office": "IST",
                    "priority": "normal",
                    "origin_country": "IQ",
                    "external_referral_id": "IOM-TUR-AVRR-2026-0142",
                    "members": [
                        {
                            "full_name": "Karwan Aziz",
                            "date_of_birth": "1991-02-17",
                            "sex": "male",
                            "nationality": "IQ",
                            "relationship": "principal",
                        }
                    ],
                },
                {
                    "programme": "family_reunification",
                    "office": "IST",
                    "priority": "normal",
                    "destination_country": "DE",
                    "external_referral_id": "IOM-FAP-2026-0097",
                    "sponsor": {
                        "full_name": "Yusuf Haddad",
                        "protection_status": "subsidiary_protection",
                        "residence_permit": "DE-BER-AT-2025-118402",
                        "city": "Berlin",
                        "contact": "+49 30 1234567",
                    },
                    "members": [
                        {
                            "full_name": "Lina Haddad",
                            "date_of_birth": "1990-04-02",
                            "sex": "female",
                            "nationality": "SY",
                            "relationship": "spouse",
                        },
                        {
                            "full_name": "Sami Haddad",
                            "date_of_birth": "2016-09-21",
                            "sex": "male",
                            "nationality": "SY",
                            "relationship": "child",
                        },
                    ],
                },
            ]
        },
    )

    programme: ProgrammeName = "resettlement"
    office: Office
    priority: Priority = Priority.NORMAL
    destination_country: Country | None = Field(
        default=None, description=f"Resettlement country, {COUNTRY_HELP}. Required for resettlement."
    )
    origin_country: Country | None = Field(
        default=None, description=f"Country of return for AVRR, {COUNTRY_HELP}. Required for AVRR."
    )
    external_referral_id: Annotated[str, Rule("3-64 characters: letters, digits and . _ : / - (starting with a "
                                              "letter or digit).", pattern=_EXTERNAL_ID.pattern)] = Field(
        description="The referral's id in the sending system (e.g. UNHCR proGres); the same id "
        "always gives the same case.",
        examples=["UNHCR-TUR-2026-004211"],
    )
    sponsor: Sponsor | None = Field(
        default=None, validate_default=True,
        description="The sponsor the members join. Required for a programme whose members join a sponsor "
        "(family_reunification), and only there.")
    members: list[MemberIn] = Field(min_length=1, max_length=30)

    @field_validator("external_referral_id")
    @classmethod
    def _external_id(cls, value: str) -> str:
        if not _EXTERNAL_ID.match(value):
            raise ValueError(
                "must be 3-64 characters: letters, digits and . _ : / - (starting with a letter or digit)"
            )
        return value

    @field_validator("sponsor")
    @classmethod
    def _sponsor_where_members_join_one(cls, sponsor: Sponsor | None, info: ValidationInfo) -> Sponsor | None:
        joins = _members_join_sponsor(info)
        if joins and sponsor is None:
            raise ValueError(f"required for {info.data['programme']}: the members join a sponsor")
        if joins is False and sponsor is not None:
            raise ValueError(f"not for {info.data['programme']}: only programmes whose members join a sponsor "
                             "name one")
        return sponsor

    @field_validator("members")
    @classmethod
    def _one_principal(cls, members: list[MemberIn], info: ValidationInfo) -> list[MemberIn]:
        if _members_join_sponsor(info):
            return members  # they relate to the sponsor: the programme's check_referral has the rules
        principals = sum(1 for m in members if m.relationship == Relationship.PRINCIPAL)
        if principals != 1:
            raise ValueError(f"exactly one member must have relationship 'principal' (found {principals})")
        return members

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        # The sponsor rule, in the schema: required where the members join a sponsor, else absent.
        from domain.programmes.registry import programmes

        json_schema = super().__get_pydantic_json_schema__(schema, handler)
        joining = [p.name for p in programmes() if p.members_join_sponsor]
        if joining:
            handler.resolve_ref_schema(json_schema)["allOf"] = [{
                "if": {"properties": {"programme": {"enum": joining}}, "required": ["programme"]},
                "then": {"required": ["sponsor"]},
                "else": {"properties": {"sponsor": {"type": "null"}}}}]
        return json_schema

    @model_serializer(mode="wrap")
    def _without_absent_sponsor(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A referral without a sponsor serializes (and fingerprints) as before sponsors existed.
        data = handler(self)
        if self.sponsor is None:
            data.pop("sponsor", None)
        return data

    @model_validator(mode="after")
    def _programme_fields(self) -> Referral:
        from domain.programmes.registry import definition_of

        try:
            definition_of(self.programme).check_referral(self)
        except ReferralFieldError as refused:  # a programme's rule, reported at its field
            raise ValidationError.from_exception_data("Referral", [InitErrorDetails(
                type=PydanticCustomError("programme_rule", "{reason}", {"reason": str(refused)}),
                loc=refused.loc, input=self.model_dump(mode="json"))]) from None
        return self


def _members_join_sponsor(info: ValidationInfo) -> bool | None:
    """Whether the referral's programme has its members join a sponsor (None: unknown programme)."""
    from domain.programmes.registry import names, definition_of

    programme = info.data.get("programme")
    if programme not in names():
        return None
    return definition_of(programme).members_join_sponsor


def __getattr__(name: str) -> Any:
    # Compatibility: ``Programme`` (the registered programmes as one enum) and STAGE_LABELS
    # come from the programme registry.
    if name in ("Programme", "STAGE_LABELS", "RESETTLEMENT_STAGES", "AVRR_STAGES"):
        import domain.programmes as registry

        return getattr(registry, name)
    raise AttributeError(name)
