"""Domain events: the past-tense facts a case is made of.

Case state is a fold of these events (``domain.case.evolve``).  They are appended to
``case_events`` as JSONB exactly as serialized here, so a field may be added (with a
default) but never renamed or removed: old rows must keep deserializing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain import forms
from domain.model import Actor, Member, Priority, Programme, Stage
from domain.tasks import TaskType


class Event(BaseModel):
    # Events read back from storage must keep loading after a field is dropped from a
    # form, so unknown fields are ignored here (forms forbid them on input).
    model_config = ConfigDict(extra="ignore", frozen=True)


class CaseReferred(Event):
    type: Literal["CaseReferred"] = "CaseReferred"
    case_id: str
    programme: Programme
    office: str
    priority: Priority
    destination_country: str | None
    origin_country: str | None
    external_referral_id: str
    members: list[Member]
    referral_fingerprint: str = Field(description="Digest of the referral, to tell a resend from a conflict.")


class StageEntered(Event):
    type: Literal["StageEntered"] = "StageEntered"
    stage: Stage
    previous_stage: Stage | None = None


class TaskOpened(Event):
    type: Literal["TaskOpened"] = "TaskOpened"
    task_id: str
    task_type: TaskType
    stage: Stage
    member_id: str | None = None
    due_at: AwareDatetime


class CaseClosed(Event):
    type: Literal["CaseClosed"] = "CaseClosed"
    reason: Literal["arrived"]
    stage: Stage


class TaskCompletion(Event):
    """Base of the events that complete a task; the form's fields travel flat beside it."""

    task_id: str
    member_id: str | None = None


class ReferralVerified(TaskCompletion, forms.VerifyReferralForm):
    model_config = Event.model_config
    type: Literal["ReferralVerified"] = "ReferralVerified"


class InterviewCompleted(TaskCompletion, forms.ConductInterviewForm):
    model_config = Event.model_config
    type: Literal["InterviewCompleted"] = "InterviewCompleted"


class HealthAssessmentRecorded(TaskCompletion, forms.AssessHealthForm):
    model_config = Event.model_config
    type: Literal["HealthAssessmentRecorded"] = "HealthAssessmentRecorded"


class OrientationAttended(TaskCompletion, forms.RecordOrientationForm):
    model_config = Event.model_config
    type: Literal["OrientationAttended"] = "OrientationAttended"


class VisaIssued(TaskCompletion, forms.RecordVisaForm):
    model_config = Event.model_config
    type: Literal["VisaIssued"] = "VisaIssued"


class MovementBooked(TaskCompletion, forms.BookMovementForm):
    model_config = Event.model_config
    type: Literal["MovementBooked"] = "MovementBooked"


class CaseDeparted(TaskCompletion, forms.RecordDepartureForm):
    model_config = Event.model_config
    type: Literal["CaseDeparted"] = "CaseDeparted"


class ArrivalConfirmed(TaskCompletion, forms.ConfirmArrivalForm):
    model_config = Event.model_config
    type: Literal["ArrivalConfirmed"] = "ArrivalConfirmed"


COMPLETION_EVENTS: dict[TaskType, type[TaskCompletion]] = {
    TaskType.VERIFY_REFERRAL: ReferralVerified,
    TaskType.CONDUCT_INTERVIEW: InterviewCompleted,
    TaskType.ASSESS_HEALTH: HealthAssessmentRecorded,
    TaskType.RECORD_ORIENTATION: OrientationAttended,
    TaskType.RECORD_VISA: VisaIssued,
    TaskType.BOOK_MOVEMENT: MovementBooked,
    TaskType.RECORD_DEPARTURE: CaseDeparted,
    TaskType.CONFIRM_ARRIVAL: ArrivalConfirmed,
}

DomainEvent = Annotated[
    CaseReferred
    | StageEntered
    | TaskOpened
    | CaseClosed
    | ReferralVerified
    | InterviewCompleted
    | HealthAssessmentRecorded
    | OrientationAttended
    | VisaIssued
    | MovementBooked
    | CaseDeparted
    | ArrivalConfirmed,
    Field(discriminator="type"),
]


class RecordedEvent(BaseModel):
    """A domain event as stored: numbered within its case, with who and when."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    case_id: str
    seq: int = Field(ge=1)
    occurred_at: datetime
    actor: Actor
    event: DomainEvent

    @property
    def type(self) -> str:
        return self.event.type
