"""Response models of the API (requests reuse the domain models: ``Referral``, the forms).

Every date-time answered carries its UTC offset (``AwareDatetime``: a naive one is a defect,
refused here rather than sent as a time nobody can place).  The read model keeps UTC; a
case and a task state their office's time zone (``office_time_zone``), in which the UI
shows them and the case's date rules are judged.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.destination_services import CaseServices
from domain.model import CaseStatus, Priority, Stage
from domain.offices import DEFAULT_TIME_ZONE

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
    task_type: str = Field(description="The task type, as its programme names it (e.g. assess_health).")
    title: str
    stage: Stage
    stage_label: str
    role: str = Field(description="The role that works this task.")
    member_id: str | None
    member_name: str | None
    case_name: str | None = Field(default=None, description="The case's principal applicant (whose family it is).")
    case_size: int | None = Field(default=None, description="How many people the case holds.")
    case_on_hold: bool = Field(default=False, description="The case is on hold: the task cannot be completed now.")
    office: str
    priority: Priority
    status: str
    opened_at: AwareDatetime
    due_at: AwareDatetime
    overdue: bool = Field(description="Past its SLA due date; an escalation task is open for the supervisor.")
    escalated_task_id: str | None = Field(default=None, description="For an escalation: the overdue task.")
    claimed_by: str | None
    claimed_at: AwareDatetime | None
    completed_at: AwareDatetime | None
    completed_by: str | None
    programme: str | None = Field(default=None, description="The programme of the task's case.")
    office_time_zone: str = Field(default=DEFAULT_TIME_ZONE, description="The IANA time zone of the task's office, "
                                                                      "e.g. Europe/Istanbul: the UI shows its times in it.")


class TaskDetail(TaskView):
    form_schema: dict[str, Any] = Field(description="JSON Schema of the completion form (POST .../complete).")


class StageStep(BaseModel):
    """One stage of the case's programme, in order, as this case walks it."""

    stage: Stage
    label: str
    skipped: bool = Field(default=False, description="The destination runs this stage itself (its profile as "
                                                        "recorded at referral, see `services`): the case passes it by.")


class KeyDates(BaseModel):
    referred_at: AwareDatetime
    stage_entered_at: AwareDatetime
    next_due_at: AwareDatetime | None
    departure_at: AwareDatetime | None
    departed_at: AwareDatetime | None
    arrived_on: date | None
    closed_at: AwareDatetime | None
    held_at: AwareDatetime | None = None


class CaseSummary(BaseModel):
    case_id: str
    external_referral_id: str
    programme: str = Field(description="The case's programme (resettlement, avrr, ...).")
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
    referred_at: AwareDatetime
    updated_at: AwareDatetime
    next_due_at: AwareDatetime | None
    office_time_zone: str = Field(
        default=DEFAULT_TIME_ZONE,
        description="The IANA time zone of the case's office (ITINERA_OFFICE_TIME_ZONES), e.g. Europe/Istanbul: the UI "
                    "shows the case's date-times in it, and \"today\" and \"not in the future\" are judged in the zone "
                    "the case was referred with (UTC for cases referred before offices had zones).")


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
    opens_at: AwareDatetime = Field(description="When the visit's task opens (on the case's clock).")
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
    temporal_web_url: str | None = Field(
        default=None, description="The case's workflow in the Temporal Web UI of this deployment (operators).")
    hold_reason: str | None = None
    key_dates: KeyDates
    members: list[MemberView]
    open_tasks: list[TaskView]
    programme_data: dict[str, Any] = Field(
        default_factory=dict, description="What only the case's programme keeps, with the keys that programme documents "
                                          "(AVRR: consent, eligibility, escort, exit permission, reintegration plan, "
                                          "monitoring visits; resettlement: referral_verified, interview).")
    avrr: AvrrView | None = Field(default=None, description="AVRR cases only (null otherwise): programme_data, typed.")
    services: CaseServices | None = Field(
        default=None, description="The destination profile version the case follows, as recorded at its referral "
                                  "(null: referred without a profile, every stage applies). A later change of the "
                                  "profile does not change the case.")
    stages: list[StageStep] = Field(default_factory=list, description="The programme's stages in order, "
                                                                      "with those this case skips marked.")
    split_from: str | None = Field(default=None, description="The case this one was split off (a family split: "
                                                             "POST /api/v1/cases/{case_id}/split), or null.")
    split_into: list[str] = Field(default_factory=list, description="The cases split off this one, in order.")


class ActorView(BaseModel):
    kind: str
    id: str
    role: str | None


class EventView(BaseModel):
    seq: int
    event_id: str
    type: str
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    actor: ActorView
    data: dict[str, Any]


class ReferralAccepted(BaseModel):
    """The answer to a referral sent with ``Prefer: respond-async`` (202): the case's workflow
    holds the referral (its Update accepted, in history) and records it without the caller
    waiting; ``GET case_url`` shows the case once recorded (404 until then, typically well
    under a second)."""

    case_id: str
    status: str = Field(default="accepted", description="Always `accepted`: durably held, being recorded.")
    case_url: str


class ClaimResult(BaseModel):
    task_id: str
    claimed_by: str
    claimed_at: AwareDatetime


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
