"""Response models of the API (requests reuse the domain models: ``Referral``, the forms)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from domain.model import CaseStatus, Priority, Programme, Stage
from domain.tasks import TaskType

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next page; null on the last page."
    )


class MemberView(BaseModel):
    member_id: str
    full_name: str
    date_of_birth: date
    sex: str
    nationality: str
    relationship: str
    health_status: str = Field(description="pending / cleared (for AVRR: fit to travel) / treatment_required / "
                                           "not_cleared / expired")
    clearance_valid_until: date | None
    follow_up_needed: bool | None = Field(description="Medical follow-up on arrival; null if you may not read "
                                                     "health details.")
    orientation_status: str
    visa_status: str = Field(description="The visa (resettlement) or the travel document from the consulate of "
                                         "origin (AVRR): pending / issued / refused / expired.")
    visa_valid_until: date | None


class TaskView(BaseModel):
    task_id: str
    case_id: str
    task_type: TaskType
    title: str
    stage: Stage
    stage_label: str
    role: str = Field(description="The role that works this task.")
    member_id: str | None
    member_name: str | None
    office: str
    priority: Priority
    status: str
    opened_at: datetime
    due_at: datetime
    overdue: bool = Field(description="Past its SLA due date; an escalation task is open for the supervisor.")
    escalated_task_id: str | None = Field(default=None, description="For an escalation: the overdue task.")
    claimed_by: str | None
    claimed_at: datetime | None
    completed_at: datetime | None
    completed_by: str | None
    programme: Programme | None = Field(default=None, description="The programme of the task's case.")


class TaskDetail(TaskView):
    form_schema: dict[str, Any] = Field(description="JSON Schema of the completion form (POST .../complete).")


class KeyDates(BaseModel):
    referred_at: datetime
    stage_entered_at: datetime
    next_due_at: datetime | None
    departure_at: datetime | None
    departed_at: datetime | None
    arrived_on: date | None
    closed_at: datetime | None
    held_at: datetime | None = None


class CaseSummary(BaseModel):
    case_id: str
    external_referral_id: str
    programme: Programme
    office: str
    priority: Priority
    stage: Stage
    stage_label: str
    status: CaseStatus
    closure_reason: str | None
    principal_name: str
    member_count: int
    destination_country: str | None
    origin_country: str | None
    referred_at: datetime
    updated_at: datetime
    next_due_at: datetime | None


class ReintegrationItemView(BaseModel):
    item_number: int
    kind: str = Field(description="economic / social / psychosocial")
    description: str
    amount: Decimal | None
    currency: str | None
    delivered_on: date | None = Field(description="Null until the assistance is delivered.")


class MonitoringVisitView(BaseModel):
    visit_number: int
    months_after_arrival: int
    opens_at: datetime = Field(description="When the visit's task opens (on the case's clock).")
    visited_on: date | None
    reintegration_score: float | None = Field(description="0 (not reintegrated) to 1 (sustainably reintegrated).")


class AvrrView(BaseModel):
    """What an AVRR case shows beyond the shared stages."""

    consent_status: str = Field(description="pending / given / reconfirmed (before departure) / withdrawn")
    consent_given_on: date | None
    consent_reconfirmed_on: date | None
    eligibility: str = Field(description="pending / eligible / not_eligible")
    escort_required: bool = Field(description="The return travels with an escort (vulnerability or medical).")
    escort_arranged: bool
    exit_permission: str = Field(description="pending / granted / refused (host authority)")
    reintegration_plan_agreed_on: date | None
    reintegration_plan: list[ReintegrationItemView]
    monitoring_visits: list[MonitoringVisitView]


class CaseDetail(CaseSummary):
    version: int = Field(description="Number of events recorded for this case.")
    hold_reason: str | None = None
    key_dates: KeyDates
    members: list[MemberView]
    open_tasks: list[TaskView]
    avrr: AvrrView | None = Field(default=None, description="AVRR cases only (null for resettlement).")


class ActorView(BaseModel):
    kind: str
    id: str
    role: str | None


class EventView(BaseModel):
    seq: int
    event_id: str
    type: str
    occurred_at: datetime
    recorded_at: datetime
    actor: ActorView
    data: dict[str, Any]


class ClaimResult(BaseModel):
    task_id: str
    claimed_by: str
    claimed_at: datetime


class CompleteTaskBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"form": {"interview_date": "2026-11-20", "outcome": "accepted"}}]},
    )
    form: dict[str, Any] = Field(description="The task's form; its JSON Schema is in GET /tasks/{task_id}.")


class ServiceHealth(BaseModel):
    status: str = Field(description="ok when every dependency answers, degraded otherwise")
    temporal: bool
    database: bool
