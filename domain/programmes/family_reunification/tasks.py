"""Family reunification's tasks: its own, the journey's shared ones (with its arrival form)
and the engine's."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from enum import StrEnum

from domain.model import Role, Stage
from domain.programmes import exit_permission
from domain.programmes.common import ENGINE_TASK_SPECS
from domain.programmes.family_reunification import forms
from domain.programmes.family_reunification.state import data
from domain.programmes.travel import travel_specs
from domain.state import CaseState
from domain.tasks import EngineTask, TaskSpec


class FamilyTask(StrEnum):
    ASSESS_RELATIONSHIP = "assess_relationship"
    RECORD_DOCUMENTS = "record_documents"
    COMPLETE_DOCUMENTS = "complete_documents"
    BOOK_EMBASSY_APPOINTMENT = "book_embassy_appointment"
    RECORD_APPOINTMENT_OUTCOME = "record_appointment_outcome"
    RECORD_FAMILY_VISA = "record_family_visa"
    REVIEW_AGE_OUT = "review_age_out"


def _outcome_due(state: CaseState, _: datetime) -> datetime | None:
    """The outcome is due the day after the appointment."""
    appointment = data(state).appointment
    return appointment.at + timedelta(days=1) if appointment else None


_OWN = (
    TaskSpec(FamilyTask.ASSESS_RELATIONSHIP, Stage.REFERRAL, "Assess the relationship to the sponsor",
             Role.CASEWORKER, True, forms.AssessRelationshipForm),
    TaskSpec(FamilyTask.RECORD_DOCUMENTS, Stage.DOCUMENTS, "Record the document checklist",
             Role.CASEWORKER, True, forms.RecordDocumentsForm),
    # Opened, once every checklist is recorded, for a member whose checklist is incomplete: in
    # the appointment stage (whose booking waits for it), beside the flow.
    TaskSpec(FamilyTask.COMPLETE_DOCUMENTS, Stage.EMBASSY_APPOINTMENT, "Complete the missing documents",
             Role.CASEWORKER, True, forms.RecordDocumentsForm, beside_flow=True),
    TaskSpec(FamilyTask.BOOK_EMBASSY_APPOINTMENT, Stage.EMBASSY_APPOINTMENT, "Book the embassy appointment",
             Role.CASEWORKER, False, forms.BookEmbassyAppointmentForm),
    TaskSpec(FamilyTask.RECORD_APPOINTMENT_OUTCOME, Stage.EMBASSY_APPOINTMENT, "Record the embassy appointment",
             Role.CASEWORKER, False, forms.RecordAppointmentOutcomeForm, due=_outcome_due),
    TaskSpec(FamilyTask.RECORD_FAMILY_VISA, Stage.VISA, "Record the visa decision",
             Role.CASEWORKER, True, forms.RecordFamilyVisaForm),
    TaskSpec(FamilyTask.REVIEW_AGE_OUT, None, "A child turned 18 before the visa decision: decide",
             Role.SUPERVISOR, True, forms.ReviewAgeOutForm, escalates=False, beside_flow=True),
    # Only where the host state the family leaves requires one (domain/programmes/exit_permission.py).
    exit_permission.TASK_SPEC,
)

# The supervisor's review offers this programme's decisions only (its form schema is what the
# API serves for the task): reassess, reapply or close, never resubmit.
_REVIEW = dataclasses.replace(ENGINE_TASK_SPECS[EngineTask.REVIEW_OUTCOME], form=forms.FamilyReviewOutcomeForm)

TASK_SPECS: dict[str, TaskSpec] = {s.task_type: s for s in _OWN} | travel_specs(
    arrival_form=forms.FamilyConfirmArrivalForm) | ENGINE_TASK_SPECS | {EngineTask.REVIEW_OUTCOME: _REVIEW}
