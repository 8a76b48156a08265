"""Resettlement's stages, next-step rules, case rules and branches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain import events as ev
from domain.programmes.resettlement import events as resettlement_ev
from domain.engine import flow
from domain.engine.context import DecisionContext
from domain.engine.draft import Draft, invalid
from domain.model import ReferralFieldError, Stage
from domain.programmes import travel
from domain.programmes.definition import Step
from domain.programmes import exit_permission
from domain.programmes.resettlement import orientation
from domain.programmes.resettlement.state import data
from domain.programmes.resettlement.tasks import ResettlementTask
from domain.state import CaseState, TaskState
from domain.tasks import EngineTask

STAGES: tuple[Stage, ...] = (Stage.REFERRAL, Stage.INTERVIEW, Stage.HEALTH, Stage.ORIENTATION, Stage.VISA,
                             Stage.MOVEMENT, Stage.ARRIVAL, Stage.CLOSED)

STAGE_LABELS: dict[Stage, str] = {
    Stage.REFERRAL: "Referral",
    Stage.INTERVIEW: "Interview",
    Stage.HEALTH: "Health assessment",
    Stage.ORIENTATION: "Cultural orientation",
    Stage.VISA: "Visa",
    Stage.MOVEMENT: "Movement",
    Stage.ARRIVAL: "Arrival confirmation",
    Stage.REINTEGRATION: "Reintegration",  # not a resettlement stage; labelled so every stage has a label
    Stage.CLOSED: "Closed",
}


def check_referral(referral: Any) -> None:
    if referral.destination_country is None:
        raise ValueError("destination_country is required for resettlement")
    # Resettlement moves refugees to a third country: never to a country one of them is a
    # national of (that is return, AVRR's programme, or not a resettlement at all).
    nationals = [m.full_name for m in referral.members if m.nationality == referral.destination_country]
    if nationals:
        raise ReferralFieldError(("destination_country",), f"resettlement is to a third country; "
                                 f"{', '.join(nationals)} {'is a national' if len(nationals) == 1 else 'are nationals'} "
                                 f"of {referral.destination_country}")


def next_step(state: CaseState, stage: Stage, ctx: DecisionContext) -> Step:
    review = travel.refusal_review(stage, ctx, travel.document_refused(state))
    if review is not None:
        return review
    if stage == Stage.REFERRAL:
        return None if data(state).referral_verified else (ResettlementTask.VERIFY_REFERRAL, [None])
    if stage == Stage.INTERVIEW:
        return (ResettlementTask.CONDUCT_INTERVIEW, [None]) if data(state).interview == "pending" else None
    if stage == Stage.HEALTH:
        members = travel.pending(state, "health", "pending", "expired")
        return (ResettlementTask.ASSESS_HEALTH, members) if members else None
    if stage == Stage.ORIENTATION:
        # Only members the age rule requires (referred before it: everyone); see orientation.py.
        today = ctx.today(state.office_time_zone)
        members = [m for m in travel.pending(state, "orientation", "pending")
                   if orientation.required(state, m, data(state).orientation_min_age, today)]
        return (ResettlementTask.RECORD_ORIENTATION, members) if members else None
    if stage == Stage.VISA:
        members = travel.pending(state, "visa", "pending", "expired")
        return (ResettlementTask.RECORD_VISA, members) if members else None
    if stage == Stage.MOVEMENT:
        # The host state's exit permission, where it requires one, opens beside the flow: the
        # engine then opens the booking (or what the journey needs next) with it.
        d = data(state)
        return (exit_permission.step(state, d.exit_permission_required, d.exit_permission, ctx)
                or travel.movement_step(state, ctx))
    if stage == Stage.ARRIVAL:
        return travel.arrival_step(state)
    return None


def holds(state: CaseState, stage: Stage) -> bool:
    return travel.health_on_hold(state, stage)


def review_decisions(state: CaseState) -> tuple[str, ...]:
    if state.stage == Stage.HEALTH:
        return ("reassess", "close")
    return ("resubmit", "close")


def review_closure_reason(state: CaseState) -> str:
    return {Stage.INTERVIEW: "not_accepted", Stage.VISA: "visa_refused",
            Stage.HEALTH: "medically_not_cleared"}.get(state.stage, "not_accepted")


def check(state: CaseState, task: TaskState, form: Any, ctx: DecisionContext) -> None:
    if task.task_type == travel.TravelTask.RECORD_DEPARTURE and form.outcome == "departed":
        d = data(state)
        exit_permission.check_departure(state, d.exit_permission_required, d.exit_permission, form.departed_at,
                                        ctx.office_day_ends)
    travel.check(state, task, form, ctx)
    if (task.task_type == EngineTask.REVIEW_OUTCOME and form.decision == "resubmit"
            and form.destination_country == state.destination_country):
        raise invalid(task.task_type, "destination_country", "must differ from the current destination")
    if task.task_type == EngineTask.REVIEW_OUTCOME and form.decision == "resubmit" and ctx.admission_rules:
        # The referral's rule (``check_referral``), for the new destination: an admission rule,
        # so a resubmission recorded before it replays as decided.
        nationals = [m.full_name for m in state.members if m.nationality == form.destination_country]
        if nationals:
            raise invalid(task.task_type, "destination_country",
                          f"resettlement is to a third country; {', '.join(nationals)} "
                          f"{'is a national' if len(nationals) == 1 else 'are nationals'} of {form.destination_country}")


def follow_up(draft: Draft, task: TaskState, form: Any) -> None:
    """What a completion opens besides the normal flow: the branches."""
    state = draft.s
    t = task.task_type
    if t == ResettlementTask.CONDUCT_INTERVIEW and form.outcome == "deferred":
        flow.open_task(draft, ResettlementTask.CONDUCT_INTERVIEW, due=flow.day_end(state, form.follow_up_date,
                                                                                   draft.ctx.office_day_ends))
    elif t == ResettlementTask.CONDUCT_INTERVIEW and form.outcome == "rejected":
        flow.open_review(draft)
    elif t == ResettlementTask.ASSESS_HEALTH and form.outcome == "treatment_required":
        flow.open_task(draft, travel.TravelTask.RECORD_TREATMENT, member_id=task.member_id)
    elif t == ResettlementTask.ASSESS_HEALTH and form.outcome == "not_cleared":
        flow.open_review(draft)
    elif t == ResettlementTask.RECORD_VISA and form.outcome == "refused":
        flow.cancel_for_refusal(draft, ResettlementTask.RECORD_VISA, "a visa of the case was refused")
        flow.open_review(draft)
    elif t == EngineTask.REVIEW_OUTCOME and form.decision == "resubmit":
        draft.emit(resettlement_ev.CaseResubmitted(destination_country=form.destination_country,
                                      previous_destination_country=state.destination_country, reason=form.reason))
        flow.return_to(draft, Stage.REFERRAL, reason="resubmitted to another destination")
    else:
        # reassess: what was refused is pending again, and the flow opens it again
        travel.follow_up(draft, task, form, health_assessment=ResettlementTask.ASSESS_HEALTH)


def tick(draft: Draft) -> None:
    travel.tick(draft, document_expired=ev.VisaExpired, document_expiry_reason="a visa expired before departure")
    d = data(draft.s)
    exit_permission.tick(draft, d.exit_permission_required, d.exit_permission)


def deadlines(state: CaseState, office_day_ends: flow.DayEnds, _office_day_starts: flow.DayEnds = True) -> list[datetime]:
    d = data(state)
    return travel.deadlines(state, office_day_ends) + exit_permission.deadlines(
        state, d.exit_permission_required, d.exit_permission, office_day_ends)
