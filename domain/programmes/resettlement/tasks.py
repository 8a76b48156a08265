"""Resettlement's tasks: its own, the journey's shared ones and the engine's."""

from __future__ import annotations

from enum import StrEnum

from domain.programmes import exit_permission
from domain.programmes.resettlement import forms
from domain.model import Role, Stage
from domain.programmes.common import ENGINE_TASK_SPECS
from domain.programmes.travel import travel_specs
from domain.tasks import TaskSpec


class ResettlementTask(StrEnum):
    VERIFY_REFERRAL = "verify_referral"
    CONDUCT_INTERVIEW = "conduct_interview"
    ASSESS_HEALTH = "assess_health"
    RECORD_ORIENTATION = "record_orientation"
    RECORD_VISA = "record_visa"


_OWN = (
    TaskSpec(ResettlementTask.VERIFY_REFERRAL, Stage.REFERRAL, "Verify referral and identity documents",
             Role.CASEWORKER, False, forms.VerifyReferralForm),
    TaskSpec(ResettlementTask.CONDUCT_INTERVIEW, Stage.INTERVIEW, "Conduct interview",
             Role.CASEWORKER, False, forms.ConductInterviewForm),
    TaskSpec(ResettlementTask.ASSESS_HEALTH, Stage.HEALTH, "Record health assessment",
             Role.MEDICAL_OFFICER, True, forms.AssessHealthForm, health_data=True),
    TaskSpec(ResettlementTask.RECORD_ORIENTATION, Stage.ORIENTATION, "Record orientation attendance",
             Role.CASEWORKER, True, forms.RecordOrientationForm, group_fact=True),
    TaskSpec(ResettlementTask.RECORD_VISA, Stage.VISA, "Record visa decision",
             Role.CASEWORKER, True, forms.RecordVisaForm),
    # Only where the host state requires one (exit_permission.py): beside the flow, so the
    # booking opens with it.
    exit_permission.TASK_SPEC,
)

TASK_SPECS: dict[str, TaskSpec] = {s.task_type: s for s in _OWN} | travel_specs() | ENGINE_TASK_SPECS
