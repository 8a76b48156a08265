"""Case state: what a fold of a case's events knows (``domain.case.evolve`` builds it).

One state model for every programme: the per-member progress (health, orientation,
visa / travel document) and the movement are shared, and what only AVRR has (consent,
eligibility, escort, reintegration plan, monitoring visits) lives in ``CaseState.avrr``,
which is None for a resettlement case.  The state travels as a Temporal payload (the
continue-as-new input) and is what the projection writes, so a field may be added with a
default but never renamed.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.model import CaseStatus, Member, Priority, Programme, Relationship, Stage
from domain.tasks import TaskType


class TaskState(BaseModel):
    task_id: str
    task_type: TaskType
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


class PlanItem(BaseModel):
    """An item of the reintegration plan, numbered from 1 in the order the plan lists them."""

    number: int
    kind: Literal["economic", "social", "psychosocial"]
    description: str
    amount: Decimal | None = None
    currency: str | None = None
    delivered_on: date | None = None


class MonitoringVisit(BaseModel):
    number: int
    months_after_arrival: int
    opens_at: datetime
    task_id: str | None = None  # set when the clock opens the visit's task
    visited_on: date | None = None
    reintegration_score: float | None = None


class AvrrProgress(BaseModel):
    """What an AVRR case knows beyond the shared skeleton."""

    monitoring_months: list[int]
    counselled_on: date | None = None
    consent: Literal["pending", "given", "withdrawn"] = "pending"
    consent_given_on: date | None = None
    consent_reconfirmed_on: date | None = None  # for the booked flight; a rebooking asks again
    eligibility: Literal["pending", "eligible", "not_eligible"] = "pending"
    vulnerability_screened: bool = False
    vulnerabilities: list[str] = Field(default_factory=list)
    escort_required: bool = False
    escort_arranged: bool = False
    predeparture_counselled: bool = False
    exit_permission: Literal["pending", "granted", "refused"] = "pending"
    plan_agreed_on: date | None = None
    plan: list[PlanItem] = Field(default_factory=list)
    monitoring: list[MonitoringVisit] = Field(default_factory=list)
    closure_review: Literal["pending", "continue_monitoring"] = "pending"

    @property
    def consent_status(self) -> str:
        """pending / given / reconfirmed / withdrawn, as the API shows it."""
        if self.consent == "given" and self.consent_reconfirmed_on is not None:
            return "reconfirmed"
        return self.consent

    @property
    def plan_delivered(self) -> bool:
        return self.plan_agreed_on is not None and all(i.delivered_on for i in self.plan)


class CaseState(BaseModel):
    model_config = ConfigDict(validate_assignment=False)

    case_id: str
    programme: Programme
    office: str
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
    referral_verified: bool = False
    interview: Literal["pending", "accepted", "deferred", "rejected"] = "pending"
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
    avrr: AvrrProgress | None = None

    @property
    def open_tasks(self) -> list[TaskState]:
        return [t for t in self.tasks.values() if t.status == "open"]

    @property
    def principal(self) -> Member:
        return next(m for m in self.members if m.relationship == Relationship.PRINCIPAL)

    def member(self, member_id: str) -> Member | None:
        return next((m for m in self.members if m.member_id == member_id), None)

    @property
    def avrr_progress(self) -> AvrrProgress:
        """The AVRR part of the state, for code that runs only for AVRR cases."""
        assert self.avrr is not None, f"case {self.case_id} is not an AVRR case"
        return self.avrr
