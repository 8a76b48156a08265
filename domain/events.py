"""Domain events: the past-tense facts a case is made of.

Case state is a fold of these events (``domain.engine.evolve``).  They are appended to
``case_events`` as JSONB exactly as serialized here, travel inside Temporal payloads
(``RecordedEvent`` in the recording activity's input and the updates' results) and are read
back from both for as long as a case exists, so an event's JSON is a contract.

**Events own their schema.**  An event has its own plain fields: the types the stored value
needs (a date, a string, a choice among the outcomes it records) and none of the input rules
of the form it came from ("not in the future", text patterns, lengths, "required when").
Those rules judge input on the day it is entered; a stored fact is not judged again, so
tightening a form (``domain.forms``) never makes an old event unreadable.  Each form maps to
its event explicitly (``completed_by``, checked when the module loads: every field of the form
has a field of the same name on the event), and ``completion_event`` builds the event of a
validated form.

**Event types are registered** (``register_event``), so a programme plug-in adds its own
events without touching this module; ``RecordedEvent.event`` is validated by looking its
``type`` up (``event_class``) and serialized as the event's own fields.

**How an event's shape evolves** (the rule for every change to a class below):

1. A new field gets a default that means what old rows meant by its absence; old rows load
   unchanged and new rows carry the field.  Never add a required field.
2. Never rename, remove or retype a field in place, and never drop a value from a ``Literal``
   that rows may hold: stored rows and recorded Temporal histories hold the old JSON for ever.
   (Unknown fields are ignored on read, so a row written by a newer version still loads.)
3. When the meaning or shape must change anyway, **upcast on read**: give the event a
   ``@model_validator(mode="before")`` classmethod that turns the older JSON into the current
   shape (e.g. ``{"place": ...}`` into ``{"arrival_place": ...}``), with a comment naming the
   version that wrote the old shape, and a test that loads a row of the old shape.  The
   upcaster is the only place that knows old shapes; the fold and the projection see one shape.
4. Only where an upcaster cannot tell two shapes apart by their fields, add
   ``schema_version: int = 1`` (absent in old rows, so they read as 1), write the new shape
   with 2, and branch on it in the upcaster.  No event needs one today.
5. Serialize exactly what is declared: a field that must not appear in old events' JSON is
   left out by a serializer (``CaseReferred`` without AVRR terms), not by changing its type.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from domain import forms
from domain.destination_services import CaseServices
from domain.model import Actor, Member, Priority, Relationship, Sex, Stage
from domain.tasks import TaskTypeName


class Event(BaseModel):
    # Unknown fields are ignored, so a row written by a newer version (or a field dropped
    # from an event) still loads.
    model_config = ConfigDict(extra="ignore", frozen=True)


# --- the registry ---------------------------------------------------------------------------

E = TypeVar("E", bound=type[Event])
_EVENT_TYPES: dict[str, type[Event]] = {}


def _type_name(cls: type[Event]) -> str:
    field = cls.model_fields.get("type")
    name = field.default if field is not None else None
    if not isinstance(name, str):
        raise TypeError(f"{cls.__name__} must declare type: Literal['{cls.__name__}'] = '{cls.__name__}'")
    return name


def register_event(cls: E) -> E:
    """Make an event type known by its ``type``, so stored events of it load (a decorator).
    A programme plug-in registers its own events when it is imported."""
    name = _type_name(cls)
    known = _EVENT_TYPES.get(name)
    if known is not None and known is not cls:
        raise ValueError(f"event type {name!r} is already registered ({known.__module__}.{known.__qualname__})")
    _EVENT_TYPES[name] = cls
    return cls


def unregister_event(type_name: str) -> None:
    """For tests that register events of their own."""
    _EVENT_TYPES.pop(type_name, None)


def event_class(type_name: str) -> type[Event]:
    """The registered event class of a stored ``type``; KeyError if none is."""
    try:
        return _EVENT_TYPES[type_name]
    except KeyError:
        raise KeyError(f"unknown event type {type_name!r}") from None


def event_types() -> dict[str, type[Event]]:
    return dict(_EVENT_TYPES)


# --- the case --------------------------------------------------------------------------------


class RecordedMember(Member):
    """A member as the referral recorded them: the fields of ``Member``, without its input
    rules (name text rule, date of birth not in the future, known country code)."""

    model_config = ConfigDict(extra="ignore")

    full_name: str
    date_of_birth: date
    sex: Sex
    nationality: str
    relationship: Relationship
    member_id: str


@register_event
class CaseReferred(Event):
    type: Literal["CaseReferred"] = "CaseReferred"
    case_id: str
    programme: str
    office: str
    priority: Priority
    destination_country: str | None
    origin_country: str | None
    external_referral_id: str
    members: list[RecordedMember]
    referral_fingerprint: str = Field(description="Digest of the referral, to tell a resend from a conflict.")
    arrival_confirmation_days: int = 3
    monitoring_months: list[int] | None = Field(
        default=None, description="AVRR: months after arrival at which the monitoring visits are due.")
    office_time_zone: str | None = Field(
        default=None, description="The office's IANA time zone the case's date rules are judged in (absent: UTC).")
    sponsor: dict[str, Any] | None = Field(
        default=None, description="Family reunification: the sponsor the members join, as the referral named them.")
    orientation_min_age: int | None = Field(
        default=None, description="Resettlement: members this old or older must attend orientation (absent: everyone).")
    services: CaseServices | None = Field(
        default=None, description="The destination's profile in force at referral, which the case follows "
        "(absent: every stage of the programme applies).")
    exit_permission: str | None = Field(
        default=None, description="Resettlement: the exit permission the office's host state requires before "
        "departure, e.g. 'DGMM exit permission' (absent: none required).")

    @field_validator("members", mode="before")
    @classmethod
    def _as_recorded(cls, members: Any) -> Any:
        # The engine builds the event from validated ``Member``s: record their fields.
        if isinstance(members, list):
            return [m.model_dump() if isinstance(m, Member) and not isinstance(m, RecordedMember) else m
                    for m in members]
        return members

    @model_serializer(mode="wrap")
    def _without_absent_avrr_terms(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A resettlement referral serializes exactly as it did before AVRR existed.
        data = handler(self)
        if self.monitoring_months is None:
            data.pop("monitoring_months", None)
        if self.office_time_zone is None:
            data.pop("office_time_zone", None)  # as referrals were recorded before offices had zones
        if self.sponsor is None:
            data.pop("sponsor", None)  # as referrals were recorded before sponsors
        if self.orientation_min_age is None:
            data.pop("orientation_min_age", None)  # as referrals were recorded before the age rule
        if self.services is None:
            data.pop("services", None)  # as referrals were recorded before destination profiles
        if self.exit_permission is None:
            data.pop("exit_permission", None)  # as referrals were recorded before exit permissions
        return data


@register_event
class StageEntered(Event):
    type: Literal["StageEntered"] = "StageEntered"
    stage: Stage
    previous_stage: Stage | None = None


@register_event
class TaskOpened(Event):
    type: Literal["TaskOpened"] = "TaskOpened"
    task_id: str
    task_type: TaskTypeName
    stage: Stage
    member_id: str | None = None
    due_at: AwareDatetime
    escalated_task_id: str | None = None


@register_event
class TaskCancelled(Event):
    type: Literal["TaskCancelled"] = "TaskCancelled"
    task_id: str
    reason: str


@register_event
class TaskOverdue(Event):
    """A task passed its SLA due date; an escalation task opens for the supervisor."""

    type: Literal["TaskOverdue"] = "TaskOverdue"
    task_id: str
    due_at: AwareDatetime


@register_event
class TaskDueDateChanged(Event):
    type: Literal["TaskDueDateChanged"] = "TaskDueDateChanged"
    task_id: str
    due_at: AwareDatetime
    reason: str


@register_event
class TaskReassigned(Event):
    type: Literal["TaskReassigned"] = "TaskReassigned"
    task_id: str
    assignee: str
    reason: str


@register_event
class FitToTravelChecksScheduled(Event):
    """The checks open 72 hours before the booked departure (a durable timer)."""

    type: Literal["FitToTravelChecksScheduled"] = "FitToTravelChecksScheduled"
    open_at: AwareDatetime


@register_event
class MedicalClearanceExpired(Event):
    type: Literal["MedicalClearanceExpired"] = "MedicalClearanceExpired"
    member_ids: list[str]
    expired_on: date


@register_event
class VisaExpired(Event):
    type: Literal["VisaExpired"] = "VisaExpired"
    member_ids: list[str]
    expired_on: date


@register_event
class CaseHeld(Event):
    type: Literal["CaseHeld"] = "CaseHeld"
    reason: str


@register_event
class CaseResumed(Event):
    """SLA clocks resume with the time they had left: open tasks' due dates move by the hold
    (``from_opening``: each by the part of the hold it was open, for a task opened during it)."""

    type: Literal["CaseResumed"] = "CaseResumed"
    reason: str
    held_since: AwareDatetime
    from_opening: bool = False

    @model_serializer(mode="wrap")
    def _as_recorded_before(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if not self.from_opening:
            data.pop("from_opening", None)  # as resumes were recorded before the rule
        return data


@register_event
class CaseWithdrawn(Event):
    type: Literal["CaseWithdrawn"] = "CaseWithdrawn"
    reason: str


@register_event
class NoteAdded(Event):
    type: Literal["NoteAdded"] = "NoteAdded"
    text: str


@register_event
class MemberDataCorrected(Event):
    """A correction is a new fact; the referral as first recorded is never rewritten."""

    type: Literal["MemberDataCorrected"] = "MemberDataCorrected"
    member_id: str
    changes: dict[str, Any]
    previous: dict[str, Any]
    reason: str


# The closure reasons of the built-in programmes.  Kept for tests/test_core_properties.py only
# (issue 12 lists it as dead code): a plug-in programme closes for reasons of its own, so
# ``CaseClosed.reason`` is any string; remove this once that test asks the programmes.
CLOSURE_REASONS: tuple[str, ...] = (
    "arrived", "withdrawn", "not_accepted", "visa_refused", "medically_not_cleared",
    "consent_withdrawn", "not_eligible", "travel_document_refused", "exit_permission_refused",
    "reintegration_completed", "monitoring_completed",
)


@register_event
class CaseClosed(Event):
    """``reason``: arrived, withdrawn, not_accepted, visa_refused, medically_not_cleared, or a
    programme's own (AVRR: consent_withdrawn, not_eligible, travel_document_refused,
    exit_permission_refused, reintegration_completed, monitoring_completed)."""

    type: Literal["CaseClosed"] = "CaseClosed"
    reason: str
    stage: Stage




@register_event
class CaseSplit(Event):
    """Part of the family left this case for a case of its own (``new_case_id``), which
    ``CaseSplitFrom`` opens: their open per-member tasks were cancelled just before, and
    their per-member records (health, visa or travel document, orientation) went with them."""

    type: Literal["CaseSplit"] = "CaseSplit"
    member_ids: list[str]
    new_case_id: str
    new_principal_member_id: str
    reason: str


class CarriedTask(BaseModel):
    """An open task a split case opens again: the same work, for the same person, due as it was."""

    model_config = ConfigDict(frozen=True)

    task_type: TaskTypeName
    stage: Stage
    member_id: str | None = None
    due_at: AwareDatetime
    assignee: str | None = None


@register_event
class CaseSplitFrom(Event):
    """The first event of a case split off another (``from_case_id``): the case as the split
    left it, i.e. the moved members with their per-member records, the family's programme,
    office, priority, destination and stage.  The open tasks it carries on with are the
    ``TaskOpened`` events after it (``CarriedTask``)."""

    type: Literal["CaseSplitFrom"] = "CaseSplitFrom"
    case_id: str
    from_case_id: str
    reason: str
    programme: str
    office: str
    office_time_zone: str | None = None
    priority: Priority
    destination_country: str | None
    origin_country: str | None
    external_referral_id: str
    referral_fingerprint: str
    arrival_confirmation_days: int = 3
    members: list[RecordedMember]
    progress: dict[str, dict[str, Any]] = Field(
        description="Member id -> the member's records as the original case held them (MemberProgress).")
    programme_data: dict[str, Any] | None = Field(
        default=None, description="The programme's own state, with only the moved members' entries.")
    stage: Stage
    services: CaseServices | None = None

    @field_validator("members", mode="before")
    @classmethod
    def _as_recorded(cls, members: Any) -> Any:
        if isinstance(members, list):
            return [m.model_dump() if isinstance(m, Member) and not isinstance(m, RecordedMember) else m
                    for m in members]
        return members


@register_event
class PriorityRaised(Event):
    """Tasks opened from now on are due by the new priority's SLAs; open ones keep their dates."""

    type: Literal["PriorityRaised"] = "PriorityRaised"
    priority: Priority
    previous_priority: Priority
    reason: str


@register_event
class TravelDocumentExpired(Event):
    type: Literal["TravelDocumentExpired"] = "TravelDocumentExpired"
    member_ids: list[str]
    expired_on: date


# --- task completions --------------------------------------------------------------------------


class TaskCompletion(Event):
    """Base of the events that complete a task: the task, and the form's facts beside it."""

    task_id: str
    member_id: str | None = None


C = TypeVar("C", bound=type[TaskCompletion])
_COMPLETIONS: dict[type[BaseModel], tuple[type[TaskCompletion], tuple[str, ...]]] = {}
_ENGINE_FIELDS = {"type", "task_id", "member_id"}


def completed_by(*form_types: type[BaseModel], context: tuple[str, ...] = ()) -> Callable[[C], C]:
    """Declare that completing a task with any of these forms (for a ``ChoiceForm``: with one
    of its branches) records this event, field for field by name; ``context`` names what the
    engine adds from the case (``completion_event(..., **context)``).  Checked here: the
    event has a field for every field of the form, and needs nothing the form or the context
    does not give."""

    def declare(event_type: C) -> C:
        fields = set(event_type.model_fields)
        for form_type in form_types:
            lost = [n for n in form_type.model_fields if n not in fields]
            if lost:
                raise TypeError(f"{event_type.__name__} has no field for {form_type.__name__}.{', '.join(lost)}")
            given = set(form_type.model_fields) | set(context) | _ENGINE_FIELDS
            missing = [n for n, f in event_type.model_fields.items() if f.is_required() and n not in given]
            if missing:
                raise TypeError(f"{form_type.__name__} does not give {event_type.__name__}.{', '.join(missing)}")
            known = _COMPLETIONS.get(form_type)
            if known is not None and known[0] is not event_type:
                raise ValueError(f"{form_type.__name__} already completes as {known[0].__name__}")
            _COMPLETIONS[form_type] = (event_type, context)
        return event_type

    return declare


def completion_event_type(form_type: type[BaseModel]) -> type[TaskCompletion]:
    """The event a completion with this form (a branch, for a form with a choice) records."""
    declared = _COMPLETIONS.get(form_type)
    if declared is None:
        raise LookupError(f"no event is declared for {form_type.__name__}")
    return declared[0]


def completion_event(task_type: str, form: BaseModel, *, task_id: str, member_id: str | None,
                     **context: Any) -> TaskCompletion:
    """The event that completing a task of this type with this validated form records
    (``form`` as ``forms.parse_form`` returns it); ``context`` is what the event records from
    the case besides the form (e.g. ``visit_number``)."""
    if isinstance(form, forms.ChoiceForm):
        form = form.root
    declared = _COMPLETIONS.get(type(form))
    if declared is None:
        raise LookupError(f"no event is declared for completing {task_type} with {type(form).__name__}")
    event_type, names = declared
    unexpected = set(context) - set(names)
    if unexpected:
        raise TypeError(f"{event_type.__name__} records no {', '.join(sorted(unexpected))}")
    return event_type(task_id=task_id, member_id=member_id, **form.model_dump(), **context)


ReviewDecision = Literal["resubmit", "reassess", "reapply", "close"]


@register_event
@completed_by(forms.RecordTreatmentForm)
class TreatmentRecorded(TaskCompletion):
    type: Literal["TreatmentRecorded"] = "TreatmentRecorded"
    completed_on: date
    notes: str | None = None


@register_event
@completed_by(forms.BookMovementForm)
class MovementBooked(TaskCompletion):
    type: Literal["MovementBooked"] = "MovementBooked"
    flight_number: str
    departure_at: AwareDatetime
    departure_airport: str
    arrival_airport: str
    notes: str | None = None


@register_event
@completed_by(forms.CheckFitToTravelForm)
class FitToTravelChecked(TaskCompletion):
    type: Literal["FitToTravelChecked"] = "FitToTravelChecked"
    checked_at: AwareDatetime
    outcome: Literal["fit", "not_fit"]
    notes: str | None = None


class _DepartureOutcome(TaskCompletion):
    outcome: Literal["departed", "no_show", "postponed"]
    departed_at: AwareDatetime | None = None
    reason: str | None = None
    notes: str | None = None


@register_event
@completed_by(forms.DepartedForm)
class CaseDeparted(_DepartureOutcome):
    type: Literal["CaseDeparted"] = "CaseDeparted"


@register_event
@completed_by(forms.NoShowForm)
class MovementNoShow(_DepartureOutcome):
    type: Literal["MovementNoShow"] = "MovementNoShow"


@register_event
@completed_by(forms.PostponedForm)
class MovementPostponed(_DepartureOutcome):
    type: Literal["MovementPostponed"] = "MovementPostponed"


@register_event
class BookingCancelled(Event):
    """The booked flight will not carry the case (e.g. its group movement was cancelled days
    before departure): the booking is dropped and the case is back to booking."""

    type: Literal["BookingCancelled"] = "BookingCancelled"
    flight_number: str
    departure_at: AwareDatetime
    reason: str


@register_event
@completed_by(forms.ConfirmArrivalForm)
class ArrivalConfirmed(TaskCompletion):
    type: Literal["ArrivalConfirmed"] = "ArrivalConfirmed"
    arrived_on: date
    place: str
    receiving_partner: str | None = None
    notes: str | None = None


@register_event
@completed_by(forms.ReviewResubmitForm, forms.ReviewReassessForm, forms.ReviewReapplyForm, forms.ReviewCloseForm)
class OutcomeReviewed(TaskCompletion):
    type: Literal["OutcomeReviewed"] = "OutcomeReviewed"
    decision: ReviewDecision
    destination_country: str | None = None
    reason: str


@register_event
@completed_by(forms.ResolveEscalationForm)
class EscalationResolved(TaskCompletion):
    type: Literal["EscalationResolved"] = "EscalationResolved"
    action_taken: str
    new_due_date: date | None = None




def _registered_event(value: Any) -> Event:
    """An event by the registered class of its ``type`` (the path of event types registered
    after ``RecordedEvent`` was built, e.g. by a programme plug-in or a test)."""
    if isinstance(value, Event):
        if _EVENT_TYPES.get(getattr(value, "type", None)) is not type(value):  # type: ignore[arg-type]
            raise ValueError(f"{type(value).__name__} is not a registered event type")
        return value
    name = value.get("type") if isinstance(value, dict) else None
    if isinstance(name, str) and name not in _EVENT_TYPES:
        _register_programmes()
    event_type = _EVENT_TYPES.get(name) if isinstance(name, str) else None
    if event_type is None:
        raise ValueError(f"unknown event type {name!r}")
    return event_type.__pydantic_validator__.validate_python(value)  # type: ignore[no-any-return]


def _register_programmes() -> None:
    """The programmes' own event types register when their folders are imported: make sure
    they are before events are read (a process may read events before it runs a case)."""
    import domain.programmes  # noqa: F401


class _ByRegisteredType:
    """How ``RecordedEvent.event`` is validated: as the registered class of its ``type``.

    The event types registered when the schema is built are one tagged union (pydantic-core
    dispatches on ``type`` without Python, as fast as the closed union it replaces, also when
    a Temporal payload is read straight from JSON); any type registered later is found in the
    registry.  Serialized as the event's own class (duck typing, like ``SerializeAsAny``).
    An invalid event reports both attempts: ``event.known.<Type>.<field>`` and
    ``event.registered``."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        _register_programmes()
        known = core_schema.tagged_union_schema(
            {name: handler.generate_schema(cls) for name, cls in _EVENT_TYPES.items()}, discriminator="type",
            custom_error_type="event_type", custom_error_message="not an event type known when the schema was built")
        registered = core_schema.no_info_plain_validator_function(_registered_event)
        return core_schema.union_schema([(known, "known"), (registered, "registered")], mode="left_to_right",
                                        serialization=core_schema.simple_ser_schema("any"))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "object", "required": ["type"], "properties": {"type": {"enum": sorted(_EVENT_TYPES)}},
                "description": "A domain event: its type and that type's own fields."}


class RecordedEvent(BaseModel):
    """A domain event as stored: numbered within its case, with who and when.

    ``event`` is read as the registered class of its ``type`` (``event_class``) and written
    as that class's own fields: the same JSON as the closed union of event classes it
    replaces.  Built on first use, so the event types registered by then take the fast path."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    event_id: str
    case_id: str
    seq: int = Field(ge=1)
    occurred_at: datetime
    actor: Actor
    event: Annotated[Event, _ByRegisteredType()]

    @property
    def type(self) -> str:
        return self.event.type  # type: ignore[attr-defined,no-any-return]


def __getattr__(name: str) -> Any:
    # A programme's own events live in its folder (domain/programmes/<name>/events.py); reading
    # one from here still works for code written before they moved.
    from domain.programmes.avrr import events as avrr_events
    from domain.programmes.resettlement import events as resettlement_events

    for module in (resettlement_events, avrr_events):
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(name)
