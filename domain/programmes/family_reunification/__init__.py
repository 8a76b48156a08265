"""Family reunification (IOM's Family Assistance Programme): family members abroad join a
sponsor who holds protection status in the destination country (e.g. Germany).

The application (each relationship's eligibility: a spouse, a child under 18, a parent of a
sponsor under 18), document collection (a checklist per member), the embassy appointment
(booked only when every checklist is complete; a missed one is booked again), the visa per
member, the travel, and the arrival the sponsor or the partner confirms.  A child turning 18
before their visa decision is flagged to the supervisor on the case's clock.

Everything the programme decides for itself is in this folder; ``PROGRAMME`` is what the
registry (``domain.programmes``) knows of it.  Its cases run on the generic workflow.
"""

from __future__ import annotations

from domain.programmes import exit_permission, travel
from domain.programmes.definition import ProgrammeDefinition
from domain.programmes.family_reunification.flow import (
    STAGE_LABELS,
    STAGES,
    check,
    check_referral,
    deadlines,
    follow_up,
    holds,
    next_step,
    referral_terms,
    review_closure_reason,
    review_decisions,
    tick,
)
from domain.programmes.family_reunification.state import FamilyReunificationData, apply, read_model_data, start
from domain.programmes.family_reunification.tasks import TASK_SPECS, FamilyTask
from domain.programmes.registry import GENERIC_WORKFLOW_TYPE

PROGRAMME = ProgrammeDefinition(
    name="family_reunification",
    title="Family reunification",
    workflow_type=GENERIC_WORKFLOW_TYPE,
    stages=STAGES,
    stage_labels=STAGE_LABELS,
    task_specs=TASK_SPECS,
    next_step=next_step,
    holds=holds,
    completion_reason="arrived",
    review_decisions=review_decisions,
    review_closure_reason=review_closure_reason,
    start=start,
    data_model=FamilyReunificationData,
    referral_terms=referral_terms,
    check_referral=check_referral,
    members_join_sponsor=True,
    check=check,
    follow_up=follow_up,
    apply=apply,
    deadlines=deadlines,
    tick=tick,
    actions={"cancel_booking": exit_permission.cancel_booking},
    read_model_data=read_model_data,
    review_openers=travel.review_openers(FamilyTask.RECORD_FAMILY_VISA),
)
TASK_TYPES = (FamilyTask, travel.TravelTask, exit_permission.ExitPermissionTask)
