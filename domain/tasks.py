"""Human tasks: which task types exist, in which stage, for whom, who works them, their form.

The order in which a stage's tasks open is decided by the case core (``domain.case``)
from the case's state, because real cases loop: a deferred interview opens another
interview, a no-show opens a rebooking, an expired clearance re-opens health assessments.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain import forms
from domain.model import Role, Stage


class TaskType(StrEnum):
    VERIFY_REFERRAL = "verify_referral"
    CONDUCT_INTERVIEW = "conduct_interview"
    ASSESS_HEALTH = "assess_health"
    RECORD_TREATMENT = "record_treatment"
    RECORD_ORIENTATION = "record_orientation"
    RECORD_VISA = "record_visa"
    BOOK_MOVEMENT = "book_movement"
    CHECK_FIT_TO_TRAVEL = "check_fit_to_travel"
    RECORD_DEPARTURE = "record_departure"
    CONFIRM_ARRIVAL = "confirm_arrival"
    REVIEW_OUTCOME = "review_outcome"
    RESOLVE_ESCALATION = "resolve_escalation"
    # AVRR
    RECORD_COUNSELLING = "record_counselling"
    RECORD_CONSENT = "record_consent"
    ASSESS_ELIGIBILITY = "assess_eligibility"
    SCREEN_VULNERABILITY = "screen_vulnerability"
    ASSESS_FIT_TO_TRAVEL = "assess_fit_to_travel"
    RECORD_PREDEPARTURE_COUNSELLING = "record_predeparture_counselling"
    RECORD_TRAVEL_DOCUMENT = "record_travel_document"
    RECORD_EXIT_PERMISSION = "record_exit_permission"
    ARRANGE_ESCORT = "arrange_escort"
    RECONFIRM_CONSENT = "reconfirm_consent"
    RECORD_REINTEGRATION_PLAN = "record_reintegration_plan"
    RECORD_ASSISTANCE_DELIVERY = "record_assistance_delivery"
    RECORD_MONITORING_VISIT = "record_monitoring_visit"
    CLOSE_REINTEGRATION = "close_reintegration"


@dataclass(frozen=True)
class TaskSpec:
    task_type: TaskType
    stage: Stage | None  # None: opened in whatever stage the case is in
    title: str
    role: Role
    per_member: bool
    form: type[forms.Form]
    escalates: bool = True  # an overdue task of this type escalates to the office supervisor
    health_data: bool = False  # its form carries health details (need-to-know)
    # Opened beside the stage's flow (by an escalation or a clock), so while it is open the
    # stage's next step may still open, and the stage may still end.
    beside_flow: bool = False


TASK_SPECS: dict[TaskType, TaskSpec] = {
    spec.task_type: spec
    for spec in (
        TaskSpec(TaskType.VERIFY_REFERRAL, Stage.REFERRAL, "Verify referral and identity documents",
                 Role.CASEWORKER, False, forms.VerifyReferralForm),
        TaskSpec(TaskType.CONDUCT_INTERVIEW, Stage.INTERVIEW, "Conduct interview",
                 Role.CASEWORKER, False, forms.ConductInterviewForm),
        TaskSpec(TaskType.ASSESS_HEALTH, Stage.HEALTH, "Record health assessment",
                 Role.MEDICAL_OFFICER, True, forms.AssessHealthForm, health_data=True),
        TaskSpec(TaskType.RECORD_TREATMENT, Stage.HEALTH, "Record treatment (medical hold)",
                 Role.MEDICAL_OFFICER, True, forms.RecordTreatmentForm, health_data=True),
        TaskSpec(TaskType.RECORD_ORIENTATION, Stage.ORIENTATION, "Record orientation attendance",
                 Role.CASEWORKER, True, forms.RecordOrientationForm),
        TaskSpec(TaskType.RECORD_VISA, Stage.VISA, "Record visa decision",
                 Role.CASEWORKER, True, forms.RecordVisaForm),
        TaskSpec(TaskType.BOOK_MOVEMENT, Stage.MOVEMENT, "Book flight",
                 Role.MOVEMENT_OFFICER, False, forms.BookMovementForm),
        TaskSpec(TaskType.CHECK_FIT_TO_TRAVEL, Stage.MOVEMENT, "Check fit to travel (72 h before departure)",
                 Role.MEDICAL_OFFICER, True, forms.CheckFitToTravelForm, health_data=True),
        TaskSpec(TaskType.RECORD_DEPARTURE, Stage.MOVEMENT, "Record departure",
                 Role.MOVEMENT_OFFICER, False, forms.RecordDepartureForm),
        TaskSpec(TaskType.CONFIRM_ARRIVAL, Stage.ARRIVAL, "Confirm arrival",
                 Role.CASEWORKER, False, forms.ConfirmArrivalForm),
        TaskSpec(TaskType.REVIEW_OUTCOME, None, "Decide after a negative outcome",
                 Role.SUPERVISOR, False, forms.ReviewOutcomeForm, escalates=False),
        TaskSpec(TaskType.RESOLVE_ESCALATION, None, "Overdue task: act on the escalation",
                 Role.SUPERVISOR, False, forms.ResolveEscalationForm, escalates=False, beside_flow=True),
        # AVRR
        TaskSpec(TaskType.RECORD_COUNSELLING, Stage.REFERRAL, "Record return counselling",
                 Role.CASEWORKER, False, forms.RecordCounsellingForm),
        TaskSpec(TaskType.RECORD_CONSENT, Stage.REFERRAL, "Record informed consent",
                 Role.CASEWORKER, False, forms.RecordConsentForm),
        TaskSpec(TaskType.ASSESS_ELIGIBILITY, Stage.INTERVIEW, "Decide eligibility",
                 Role.CASEWORKER, False, forms.AssessEligibilityForm),
        TaskSpec(TaskType.SCREEN_VULNERABILITY, Stage.INTERVIEW, "Screen vulnerability",
                 Role.CASEWORKER, False, forms.ScreenVulnerabilityForm),
        TaskSpec(TaskType.ASSESS_FIT_TO_TRAVEL, Stage.HEALTH, "Assess fitness to travel",
                 Role.MEDICAL_OFFICER, True, forms.AssessFitToTravelForm, health_data=True),
        TaskSpec(TaskType.RECORD_PREDEPARTURE_COUNSELLING, Stage.ORIENTATION, "Record pre-departure counselling",
                 Role.CASEWORKER, False, forms.RecordPredepartureCounsellingForm),
        TaskSpec(TaskType.RECORD_TRAVEL_DOCUMENT, Stage.VISA, "Record travel document",
                 Role.CASEWORKER, True, forms.RecordTravelDocumentForm),
        TaskSpec(TaskType.RECORD_EXIT_PERMISSION, Stage.VISA, "Record exit permission",
                 Role.CASEWORKER, False, forms.RecordExitPermissionForm),
        TaskSpec(TaskType.ARRANGE_ESCORT, Stage.MOVEMENT, "Arrange escort",
                 Role.MOVEMENT_OFFICER, False, forms.ArrangeEscortForm),
        TaskSpec(TaskType.RECONFIRM_CONSENT, Stage.MOVEMENT, "Reconfirm consent before departure",
                 Role.CASEWORKER, False, forms.ReconfirmConsentForm),
        TaskSpec(TaskType.RECORD_REINTEGRATION_PLAN, Stage.REINTEGRATION, "Record reintegration plan",
                 Role.CASEWORKER, False, forms.RecordReintegrationPlanForm),
        TaskSpec(TaskType.RECORD_ASSISTANCE_DELIVERY, Stage.REINTEGRATION, "Record assistance delivered",
                 Role.CASEWORKER, False, forms.RecordAssistanceDeliveryForm),
        TaskSpec(TaskType.RECORD_MONITORING_VISIT, Stage.REINTEGRATION, "Record monitoring visit",
                 Role.CASEWORKER, False, forms.RecordMonitoringVisitForm, beside_flow=True),
        TaskSpec(TaskType.CLOSE_REINTEGRATION, Stage.REINTEGRATION, "Plan delivered: close the case or keep monitoring",
                 Role.SUPERVISOR, False, forms.CloseReintegrationForm, escalates=False),
    )
}
