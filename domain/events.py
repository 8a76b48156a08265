"""Domain events: the past-tense facts a case is made of.

Case state is a fold of these events (``domain.case.evolve``).  They are appended to
``case_events`` as JSONB exactly as serialized here, so a field may be added (with a
default) but never renamed or removed: old rows must keep deserializing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

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
    arrival_confirmation_days: int = 3
    monitoring_months: list[int] | None = Field(
        default=None, description="AVRR: months after arrival at which the monitoring visits are due.")

    @model_serializer(mode="wrap")
    def _without_absent_avrr_terms(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A resettlement referral serializes exactly as it did before AVRR existed.
        data = handler(self)
        if self.monitoring_months is None:
            data.pop("monitoring_months", None)
        return data


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
    escalated_task_id: str | None = None


class TaskCancelled(Event):
    type: Literal["TaskCancelled"] = "TaskCancelled"
    task_id: str
    reason: str


class TaskOverdue(Event):
    """A task passed its SLA due date; an escalation task opens for the supervisor."""

    type: Literal["TaskOverdue"] = "TaskOverdue"
    task_id: str
    due_at: AwareDatetime


class TaskDueDateChanged(Event):
    type: Literal["TaskDueDateChanged"] = "TaskDueDateChanged"
    task_id: str
    due_at: AwareDatetime
    reason: str


class TaskReassigned(Event):
    type: Literal["TaskReassigned"] = "TaskReassigned"
    task_id: str
    assignee: str
    reason: str


class FitToTravelChecksScheduled(Event):
    """The checks open 72 hours before the booked departure (a durable timer)."""

    type: Literal["FitToTravelChecksScheduled"] = "FitToTravelChecksScheduled"
    open_at: AwareDatetime


class MedicalClearanceExpired(Event):
    type: Literal["MedicalClearanceExpired"] = "MedicalClearanceExpired"
    member_ids: list[str]
    expired_on: date


class VisaExpired(Event):
    type: Literal["VisaExpired"] = "VisaExpired"
    member_ids: list[str]
    expired_on: date


class CaseResubmitted(Event):
    """After a rejection or refusal: back to referral for another destination, history kept."""

    type: Literal["CaseResubmitted"] = "CaseResubmitted"
    destination_country: str
    previous_destination_country: str | None
    reason: str


class CaseHeld(Event):
    type: Literal["CaseHeld"] = "CaseHeld"
    reason: str


class CaseResumed(Event):
    """SLA clocks resume with the time they had left: open tasks' due dates move by the hold."""

    type: Literal["CaseResumed"] = "CaseResumed"
    reason: str
    held_since: AwareDatetime


class CaseWithdrawn(Event):
    type: Literal["CaseWithdrawn"] = "CaseWithdrawn"
    reason: str


class NoteAdded(Event):
    type: Literal["NoteAdded"] = "NoteAdded"
    text: str


class MemberDataCorrected(Event):
    """A correction is a new fact; the referral as first recorded is never rewritten."""

    type: Literal["MemberDataCorrected"] = "MemberDataCorrected"
    member_id: str
    changes: dict[str, Any]
    previous: dict[str, Any]
    reason: str


ClosureReason = Literal[
    "arrived", "withdrawn", "not_accepted", "visa_refused", "medically_not_cleared",
    # AVRR
    "consent_withdrawn", "not_eligible", "travel_document_refused", "exit_permission_refused",
    "reintegration_completed", "monitoring_completed",
]
CLOSURE_REASONS: tuple[str, ...] = ClosureReason.__args__  # type: ignore[attr-defined]


class CaseClosed(Event):
    type: Literal["CaseClosed"] = "CaseClosed"
    reason: ClosureReason
    stage: Stage


# --- AVRR: facts that are not task completions ----------------------------------------------


class ConsentWithdrawn(Event):
    """The migrant no longer wants to return: recorded by a caseworker, it stops the case at once."""

    type: Literal["ConsentWithdrawn"] = "ConsentWithdrawn"
    withdrawn_by: str
    withdrawn_on: date
    language: str
    reason: str


class PriorityRaised(Event):
    """Tasks opened from now on are due by the new priority's SLAs; open ones keep their dates."""

    type: Literal["PriorityRaised"] = "PriorityRaised"
    priority: Priority
    previous_priority: Priority
    reason: str


class TravelDocumentExpired(Event):
    type: Literal["TravelDocumentExpired"] = "TravelDocumentExpired"
    member_ids: list[str]
    expired_on: date


class ScheduledVisit(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    months_after_arrival: int
    opens_at: AwareDatetime


class MonitoringVisitsScheduled(Event):
    """At the confirmed arrival: when each monitoring visit's task will open (a durable timer)."""

    type: Literal["MonitoringVisitsScheduled"] = "MonitoringVisitsScheduled"
    visits: list[ScheduledVisit]


class TaskCompletion(Event):
    """Base of the events that complete a task; the form's fields travel flat beside it."""

    task_id: str
    member_id: str | None = None


class ReferralVerified(TaskCompletion, forms.VerifyReferralForm):
    model_config = Event.model_config
    type: Literal["ReferralVerified"] = "ReferralVerified"


class InterviewCompleted(TaskCompletion, forms.ConductInterviewForm):
    """Carries the outcome: accepted, deferred (follow_up_date) or rejected (rejection_reason)."""

    model_config = Event.model_config
    type: Literal["InterviewCompleted"] = "InterviewCompleted"


class HealthAssessmentRecorded(TaskCompletion, forms.AssessHealthForm):
    model_config = Event.model_config
    type: Literal["HealthAssessmentRecorded"] = "HealthAssessmentRecorded"


class TreatmentRecorded(TaskCompletion, forms.RecordTreatmentForm):
    model_config = Event.model_config
    type: Literal["TreatmentRecorded"] = "TreatmentRecorded"


class OrientationAttended(TaskCompletion, forms.RecordOrientationForm):
    model_config = Event.model_config
    type: Literal["OrientationAttended"] = "OrientationAttended"


class VisaIssued(TaskCompletion, forms.RecordVisaForm):
    model_config = Event.model_config
    type: Literal["VisaIssued"] = "VisaIssued"


class VisaRefused(TaskCompletion, forms.RecordVisaForm):
    model_config = Event.model_config
    type: Literal["VisaRefused"] = "VisaRefused"


class MovementBooked(TaskCompletion, forms.BookMovementForm):
    model_config = Event.model_config
    type: Literal["MovementBooked"] = "MovementBooked"


class FitToTravelChecked(TaskCompletion, forms.CheckFitToTravelForm):
    model_config = Event.model_config
    type: Literal["FitToTravelChecked"] = "FitToTravelChecked"


class CaseDeparted(TaskCompletion, forms.RecordDepartureForm):
    model_config = Event.model_config
    type: Literal["CaseDeparted"] = "CaseDeparted"


class MovementNoShow(TaskCompletion, forms.RecordDepartureForm):
    model_config = Event.model_config
    type: Literal["MovementNoShow"] = "MovementNoShow"


class MovementPostponed(TaskCompletion, forms.RecordDepartureForm):
    model_config = Event.model_config
    type: Literal["MovementPostponed"] = "MovementPostponed"


class ArrivalConfirmed(TaskCompletion, forms.ConfirmArrivalForm):
    model_config = Event.model_config
    type: Literal["ArrivalConfirmed"] = "ArrivalConfirmed"


class OutcomeReviewed(TaskCompletion, forms.ReviewOutcomeForm):
    model_config = Event.model_config
    type: Literal["OutcomeReviewed"] = "OutcomeReviewed"


class EscalationResolved(TaskCompletion, forms.ResolveEscalationForm):
    model_config = Event.model_config
    type: Literal["EscalationResolved"] = "EscalationResolved"


# --- AVRR completions ----------------------------------------------------------------------


class CounsellingRecorded(TaskCompletion, forms.RecordCounsellingForm):
    model_config = Event.model_config
    type: Literal["CounsellingRecorded"] = "CounsellingRecorded"


class ConsentRecorded(TaskCompletion, forms.RecordConsentForm):
    model_config = Event.model_config
    type: Literal["ConsentRecorded"] = "ConsentRecorded"


class EligibilityAssessed(TaskCompletion, forms.AssessEligibilityForm):
    model_config = Event.model_config
    type: Literal["EligibilityAssessed"] = "EligibilityAssessed"


class VulnerabilityScreened(TaskCompletion, forms.ScreenVulnerabilityForm):
    model_config = Event.model_config
    type: Literal["VulnerabilityScreened"] = "VulnerabilityScreened"


class FitToTravelAssessed(TaskCompletion, forms.AssessFitToTravelForm):
    model_config = Event.model_config
    type: Literal["FitToTravelAssessed"] = "FitToTravelAssessed"


class PredepartureCounsellingRecorded(TaskCompletion, forms.RecordPredepartureCounsellingForm):
    model_config = Event.model_config
    type: Literal["PredepartureCounsellingRecorded"] = "PredepartureCounsellingRecorded"


class TravelDocumentIssued(TaskCompletion, forms.RecordTravelDocumentForm):
    model_config = Event.model_config
    type: Literal["TravelDocumentIssued"] = "TravelDocumentIssued"


class TravelDocumentRefused(TaskCompletion, forms.RecordTravelDocumentForm):
    model_config = Event.model_config
    type: Literal["TravelDocumentRefused"] = "TravelDocumentRefused"


class ExitPermissionGranted(TaskCompletion, forms.RecordExitPermissionForm):
    model_config = Event.model_config
    type: Literal["ExitPermissionGranted"] = "ExitPermissionGranted"


class ExitPermissionRefused(TaskCompletion, forms.RecordExitPermissionForm):
    model_config = Event.model_config
    type: Literal["ExitPermissionRefused"] = "ExitPermissionRefused"


class EscortArranged(TaskCompletion, forms.ArrangeEscortForm):
    model_config = Event.model_config
    type: Literal["EscortArranged"] = "EscortArranged"


class ConsentReconfirmed(TaskCompletion, forms.ReconfirmConsentForm):
    model_config = Event.model_config
    type: Literal["ConsentReconfirmed"] = "ConsentReconfirmed"


class ReintegrationPlanRecorded(TaskCompletion, forms.RecordReintegrationPlanForm):
    model_config = Event.model_config
    type: Literal["ReintegrationPlanRecorded"] = "ReintegrationPlanRecorded"


class AssistanceDelivered(TaskCompletion, forms.RecordAssistanceDeliveryForm):
    model_config = Event.model_config
    type: Literal["AssistanceDelivered"] = "AssistanceDelivered"


class MonitoringVisitRecorded(TaskCompletion, forms.RecordMonitoringVisitForm):
    model_config = Event.model_config
    type: Literal["MonitoringVisitRecorded"] = "MonitoringVisitRecorded"
    visit_number: int = Field(default=0, description="Which scheduled visit this was (1 = the first).")


class ReintegrationClosureDecided(TaskCompletion, forms.CloseReintegrationForm):
    model_config = Event.model_config
    type: Literal["ReintegrationClosureDecided"] = "ReintegrationClosureDecided"


def completion_event(task_type: TaskType, form: forms.Form) -> type[TaskCompletion]:
    """The event that completing a task of this type with this form records."""
    outcome = getattr(form, "outcome", None)
    if task_type == TaskType.RECORD_VISA:
        return VisaIssued if outcome == "issued" else VisaRefused
    if task_type == TaskType.RECORD_DEPARTURE:
        return {"departed": CaseDeparted, "no_show": MovementNoShow, "postponed": MovementPostponed}[outcome]
    if task_type == TaskType.RECORD_TRAVEL_DOCUMENT:
        return TravelDocumentIssued if outcome == "issued" else TravelDocumentRefused
    if task_type == TaskType.RECORD_EXIT_PERMISSION:
        return ExitPermissionGranted if outcome == "granted" else ExitPermissionRefused
    return {
        TaskType.VERIFY_REFERRAL: ReferralVerified,
        TaskType.CONDUCT_INTERVIEW: InterviewCompleted,
        TaskType.ASSESS_HEALTH: HealthAssessmentRecorded,
        TaskType.RECORD_TREATMENT: TreatmentRecorded,
        TaskType.RECORD_ORIENTATION: OrientationAttended,
        TaskType.BOOK_MOVEMENT: MovementBooked,
        TaskType.CHECK_FIT_TO_TRAVEL: FitToTravelChecked,
        TaskType.CONFIRM_ARRIVAL: ArrivalConfirmed,
        TaskType.REVIEW_OUTCOME: OutcomeReviewed,
        TaskType.RESOLVE_ESCALATION: EscalationResolved,
        TaskType.RECORD_COUNSELLING: CounsellingRecorded,
        TaskType.RECORD_CONSENT: ConsentRecorded,
        TaskType.ASSESS_ELIGIBILITY: EligibilityAssessed,
        TaskType.SCREEN_VULNERABILITY: VulnerabilityScreened,
        TaskType.ASSESS_FIT_TO_TRAVEL: FitToTravelAssessed,
        TaskType.RECORD_PREDEPARTURE_COUNSELLING: PredepartureCounsellingRecorded,
        TaskType.ARRANGE_ESCORT: EscortArranged,
        TaskType.RECONFIRM_CONSENT: ConsentReconfirmed,
        TaskType.RECORD_REINTEGRATION_PLAN: ReintegrationPlanRecorded,
        TaskType.RECORD_ASSISTANCE_DELIVERY: AssistanceDelivered,
        TaskType.RECORD_MONITORING_VISIT: MonitoringVisitRecorded,
        TaskType.CLOSE_REINTEGRATION: ReintegrationClosureDecided,
    }[task_type]


DomainEvent = Annotated[
    CaseReferred
    | StageEntered
    | TaskOpened
    | TaskCancelled
    | TaskOverdue
    | TaskDueDateChanged
    | TaskReassigned
    | FitToTravelChecksScheduled
    | MedicalClearanceExpired
    | VisaExpired
    | CaseResubmitted
    | CaseHeld
    | CaseResumed
    | CaseWithdrawn
    | NoteAdded
    | MemberDataCorrected
    | CaseClosed
    | ReferralVerified
    | InterviewCompleted
    | HealthAssessmentRecorded
    | TreatmentRecorded
    | OrientationAttended
    | VisaIssued
    | VisaRefused
    | MovementBooked
    | FitToTravelChecked
    | CaseDeparted
    | MovementNoShow
    | MovementPostponed
    | ArrivalConfirmed
    | OutcomeReviewed
    | EscalationResolved
    | ConsentWithdrawn
    | PriorityRaised
    | TravelDocumentExpired
    | MonitoringVisitsScheduled
    | CounsellingRecorded
    | ConsentRecorded
    | EligibilityAssessed
    | VulnerabilityScreened
    | FitToTravelAssessed
    | PredepartureCounsellingRecorded
    | TravelDocumentIssued
    | TravelDocumentRefused
    | ExitPermissionGranted
    | ExitPermissionRefused
    | EscortArranged
    | ConsentReconfirmed
    | ReintegrationPlanRecorded
    | AssistanceDelivered
    | MonitoringVisitRecorded
    | ReintegrationClosureDecided,
    Field(discriminator="type"),
]

# Event types whose payload carries health details: shown to medical staff only.
HEALTH_EVENT_TYPES = frozenset({"HealthAssessmentRecorded", "TreatmentRecorded", "FitToTravelChecked",
                                "FitToTravelAssessed"})


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
