"""Refugee resettlement: UNHCR referral, interview, health assessment, cultural orientation,
visa, movement and arrival in the resettlement country.

Everything resettlement decides for itself is in this folder; ``PROGRAMME`` is what the
registry (``domain.programmes``) knows of it.
"""

from __future__ import annotations

from domain.model import Stage
from domain.programmes.definition import ProgrammeDefinition
from domain.programmes.resettlement.flow import (
    STAGE_LABELS,
    STAGES,
    ResettlementTask,
    check,
    check_referral,
    deadlines,
    follow_up,
    holds,
    next_step,
    review_closure_reason,
    review_decisions,
    tick,
)
from domain.programmes import exit_permission
from domain.programmes.resettlement import orientation
from domain.programmes.resettlement.state import ResettlementData, apply, read_model_data, start
from domain.programmes.resettlement.tasks import TASK_SPECS
from domain.programmes import travel

PROGRAMME = ProgrammeDefinition(
    name="resettlement",
    title="Refugee resettlement",
    workflow_type="ResettlementCase",
    stages=STAGES,
    stage_labels=STAGE_LABELS,
    optional_stages=frozenset({Stage.HEALTH, Stage.ORIENTATION}),  # destinations may run these themselves
    task_specs=TASK_SPECS,
    next_step=next_step,
    holds=holds,
    waits=travel.waits_for_fit_to_travel,
    completion_reason="arrived",
    review_decisions=review_decisions,
    review_closure_reason=review_closure_reason,
    start=start,
    data_model=ResettlementData,
    referral_terms=lambda command: orientation.referral_terms(command) | exit_permission.referral_terms(command),
    check_referral=check_referral,
    check=check,
    follow_up=follow_up,
    apply=apply,
    deadlines=deadlines,
    tick=tick,
    actions={"cancel_booking": exit_permission.cancel_booking},
    read_model_data=read_model_data,
    review_openers=travel.review_openers(ResettlementTask.RECORD_VISA),
)
TASK_TYPES = (ResettlementTask, travel.TravelTask, exit_permission.ExitPermissionTask)
