"""AVRR's tasks: its own, the journey's shared ones (with AVRR's arrival form) and the engine's."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from domain.programmes.avrr import forms
from domain.model import Role, Stage
from domain.programmes.common import ENGINE_TASK_SPECS
from domain.programmes.travel import travel_specs
from domain.state import CaseState
from domain.tasks import TaskSpec


class AvrrTask(StrEnum):
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


def _reconfirm_due(state: CaseState, _: datetime) -> datetime | None:
    return state.movement.departure_at if state.movement else None


_OWN = (
    TaskSpec(AvrrTask.RECORD_COUNSELLING, Stage.REFERRAL, "Record return counselling",
             Role.CASEWORKER, False, forms.RecordCounsellingForm),
    TaskSpec(AvrrTask.RECORD_CONSENT, Stage.REFERRAL, "Record informed consent",
             Role.CASEWORKER, False, forms.RecordConsentForm),
    TaskSpec(AvrrTask.ASSESS_ELIGIBILITY, Stage.INTERVIEW, "Decide eligibility",
             Role.CASEWORKER, False, forms.AssessEligibilityForm),
    TaskSpec(AvrrTask.SCREEN_VULNERABILITY, Stage.INTERVIEW, "Screen vulnerability",
             Role.CASEWORKER, False, forms.ScreenVulnerabilityForm, protection_data=True),
    TaskSpec(AvrrTask.ASSESS_FIT_TO_TRAVEL, Stage.HEALTH, "Assess fitness to travel",
             Role.MEDICAL_OFFICER, True, forms.AssessFitToTravelForm, health_data=True),
    TaskSpec(AvrrTask.RECORD_PREDEPARTURE_COUNSELLING, Stage.ORIENTATION, "Record pre-departure counselling",
             Role.CASEWORKER, False, forms.RecordPredepartureCounsellingForm),
    TaskSpec(AvrrTask.RECORD_TRAVEL_DOCUMENT, Stage.VISA, "Record travel document",
             Role.CASEWORKER, True, forms.RecordTravelDocumentForm),
    TaskSpec(AvrrTask.RECORD_EXIT_PERMISSION, Stage.VISA, "Record exit permission",
             Role.CASEWORKER, False, forms.RecordExitPermissionForm),
    TaskSpec(AvrrTask.ARRANGE_ESCORT, Stage.MOVEMENT, "Arrange escort",
             Role.MOVEMENT_OFFICER, False, forms.ArrangeEscortForm),
    TaskSpec(AvrrTask.RECONFIRM_CONSENT, Stage.MOVEMENT, "Reconfirm consent before departure",
             Role.CASEWORKER, False, forms.ReconfirmConsentForm, due=_reconfirm_due),
    TaskSpec(AvrrTask.RECORD_REINTEGRATION_PLAN, Stage.REINTEGRATION, "Record reintegration plan",
             Role.CASEWORKER, False, forms.RecordReintegrationPlanForm),
    TaskSpec(AvrrTask.RECORD_ASSISTANCE_DELIVERY, Stage.REINTEGRATION, "Record assistance delivered",
             Role.CASEWORKER, False, forms.RecordAssistanceDeliveryForm),
    TaskSpec(AvrrTask.RECORD_MONITORING_VISIT, Stage.REINTEGRATION, "Record monitoring visit",
             Role.CASEWORKER, False, forms.RecordMonitoringVisitForm, beside_flow=True),
    TaskSpec(AvrrTask.CLOSE_REINTEGRATION, Stage.REINTEGRATION, "Plan delivered: close the case or keep monitoring",
             Role.SUPERVISOR, False, forms.CloseReintegrationForm, escalates=False),
)

# AVRR's arrival names the receiving office or partner at origin (required in its form).
TASK_SPECS: dict[str, TaskSpec] = {s.task_type: s for s in _OWN} | travel_specs(
    arrival_form=forms.AvrrConfirmArrivalForm) | ENGINE_TASK_SPECS
