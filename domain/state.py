"""Case state: what a fold of a case's events knows (``domain.engine.evolve`` builds it).

One state model for every programme: what every case has (members, stage, tasks, holds,
closure) and the skeleton of a journey that the travel building blocks share (per-member
health, orientation and visa or travel document, the booked movement, departure, arrival).
What only one programme knows lives in ``CaseState.programme_data``, a model the programme
declares (``ProgrammeDefinition.data_model``), e.g. AVRR's consent and reintegration plan.

The state travels as a Temporal payload (the continue-as-new input, the recording
activity's input) and is what the projection writes, so a field may be added with a
default but never renamed; an older shape is upcast on read (``_upcast``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, model_validator

from domain.destination_services import CaseServices
from domain.model import CaseStatus, Member, Priority, ProgrammeName, Relationship, Stage
from domain.offices import DEFAULT_TIME_ZONE
from domain.tasks import TaskTypeName


class TaskState(BaseModel):
    task_id: str
    task_type: TaskTypeName
    stage: Stage
    member_id: str | None = None
    status: Literal["open", "completed", "cancelled"] = "open"
    opened_at: datetime
    due_at: datetime
    overdue: bool = False
    assignee: str | None = None
    escalated_task_id: str | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None


class MemberProgress(BaseModel):
    """Per-person readiness: the case moves when every member is ready.

    For AVRR the same fields carry AVRR's meaning: ``health`` is the fitness to travel
    ("cleared" = fit) and ``visa`` the travel document from the consulate of origin."""

    health: Literal["pending", "cleared", "treatment_required", "not_cleared", "expired"] = "pending"
    clearance_valid_until: date | None = None
    follow_up_needed: bool = False
    orientation: Literal["pending", "attended"] = "pending"
    visa: Literal["pending", "issued", "refused", "expired"] = "pending"
    visa_valid_until: date | None = None
    fit_to_travel_at: datetime | None = None


class Movement(BaseModel):
    flight_number: str
    departure_at: datetime
    departure_airport: str
    arrival_airport: str


class CaseState(BaseModel):
    model_config = ConfigDict(validate_assignment=False)

    case_id: str
    programme: ProgrammeName
    office: str
    office_time_zone: str = DEFAULT_TIME_ZONE
    priority: Priority
    destination_country: str | None
    origin_country: str | None
    external_referral_id: str
    referral_fingerprint: str
    arrival_confirmation_days: int = 3
    members: list[Member]
    progress: dict[str, MemberProgress]
    stage: Stage = Stage.REFERRAL
    status: CaseStatus = CaseStatus.ACTIVE
    closure_reason: str | None = None
    tasks: dict[str, TaskState] = Field(default_factory=dict)
    task_counter: int = 0
    version: int = 0
    referred_at: datetime
    stage_entered_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    held_at: datetime | None = None
    hold_reason: str | None = None
    movement: Movement | None = None
    fit_to_travel_opens_at: datetime | None = None
    departed_at: datetime | None = None
    arrived_on: date | None = None
    arrival_place: str | None = None
    programme_data: SerializeAsAny[BaseModel] | None = None
    # The destination's profile as the case recorded it at referral (None: every stage applies).
    services: CaseServices | None = None
    # Splitting a family (``domain.engine.split``): the case this one was split off, and the
    # cases split off this one, in order (the next is ``<case_id>-S<len + 1>``).
    split_from: str | None = None
    split_into: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _upcast(cls, data: Any) -> Any:
        """Read every shape this state has had; the programme's data as its own model.

        Before programmes were plug-ins, AVRR's data was ``avrr`` and resettlement's
        ``referral_verified`` / ``interview`` were fields of the state itself."""
        if not isinstance(data, dict):
            return data
        from domain.programmes.registry import definition_of

        programme = definition_of(str(data.get("programme")))
        raw = data.get("programme_data")
        if raw is None:
            legacy = {k: data[k] for k in ("referral_verified", "interview") if k in data}
            raw = data.get("avrr") if data.get("avrr") is not None else (legacy or None)
        if programme.data_model is not None and not isinstance(raw, programme.data_model):
            raw = programme.data_model.model_validate(raw or {})
        return {k: v for k, v in data.items() if k not in ("avrr", "referral_verified", "interview")} | {
            "programme_data": raw}

    @property
    def open_tasks(self) -> list[TaskState]:
        return [t for t in self.tasks.values() if t.status == "open"]

    @property
    def principal(self) -> Member:
        # A family joining a sponsor has no principal among its members: the first one named.
        return next((m for m in self.members if m.relationship == Relationship.PRINCIPAL), self.members[0])

    def member(self, member_id: str) -> Member | None:
        return next((m for m in self.members if m.member_id == member_id), None)

    def data(self, model: type[Any]) -> Any:
        """The programme's own state, as the model the programme declared."""
        assert isinstance(self.programme_data, model), f"case {self.case_id} has no {model.__name__}"
        return self.programme_data
