"""Assisted voluntary return and reintegration (AVRR): counselling and informed consent,
eligibility and vulnerability, fitness to travel, pre-departure counselling, travel documents
and exit permission, the return travel, reception at origin, and reintegration (a plan, the
assistance delivered, monitoring visits on the case's clock).

Everything AVRR decides for itself is in this folder; ``PROGRAMME`` is what the registry
(``domain.programmes``) knows of it.
"""

from __future__ import annotations

from domain.programmes import travel
from domain.programmes.avrr.flow import (
    STAGE_LABELS,
    STAGES,
    check,
    check_referral,
    completion_context,
    deadlines,
    follow_up,
    holds,
    next_step,
    referral_terms,
    review_closure_reason,
    review_decisions,
    tick,
    withdraw_consent,
)
from domain.programmes.avrr.state import AvrrProgress, apply, read_model_data, start
from domain.programmes.avrr.tasks import TASK_SPECS, AvrrTask
from domain.programmes.definition import ProgrammeDefinition

PROGRAMME = ProgrammeDefinition(
    name="avrr",
    title="AVRR",
    workflow_type="AvrrCase",
    stages=STAGES,
    stage_labels=STAGE_LABELS,
    task_specs=TASK_SPECS,
    next_step=next_step,
    holds=holds,
    waits=travel.waits_for_fit_to_travel,
    completion_reason="reintegration_completed",
    review_decisions=review_decisions,
    review_closure_reason=review_closure_reason,
    start=start,
    data_model=AvrrProgress,
    referral_terms=referral_terms,
    check_referral=check_referral,
    check=check,
    completion_context=completion_context,
    follow_up=follow_up,
    apply=apply,
    deadlines=deadlines,
    tick=tick,
    actions={"withdraw_consent": withdraw_consent, "cancel_booking": travel.cancel_booking},
    read_model_data=read_model_data,
    protected_data_keys=frozenset({"vulnerabilities"}),
    review_openers=travel.review_openers(AvrrTask.RECORD_TRAVEL_DOCUMENT),
)
TASK_TYPES = (AvrrTask, travel.TravelTask)
