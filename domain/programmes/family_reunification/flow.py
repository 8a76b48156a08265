"""Family reunification's stages, eligibility rules, next-step rules, case rules, branches
and the age-out clock (a child turning 18 before the visa decision)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

from domain import events as ev
from domain.engine import flow
from domain.engine.context import DecisionContext
from domain.engine.draft import Draft, invalid, reject
from domain.errors import RejectionCode
from domain.model import EDGE_TODAY, CaseStatus, ReferralFieldError, Relationship, Stage
from domain.offices import time_zone
from domain.programmes import exit_permission, travel
from domain.programmes.definition import Step
from domain.programmes.family_reunification import events as fr_ev
from domain.programmes.family_reunification.state import ADULT_AGE, age_on, data
from domain.programmes.family_reunification.tasks import FamilyTask
from domain.state import CaseState, TaskState

STAGES: tuple[Stage, ...] = (Stage.REFERRAL, Stage.DOCUMENTS, Stage.EMBASSY_APPOINTMENT, Stage.VISA,
                             Stage.MOVEMENT, Stage.ARRIVAL, Stage.CLOSED)

STAGE_LABELS: dict[Stage, str] = {
    Stage.REFERRAL: "Application",
    Stage.DOCUMENTS: "Document collection",
    Stage.EMBASSY_APPOINTMENT: "Embassy appointment",
    Stage.VISA: "Visa",
    Stage.MOVEMENT: "Travel to the sponsor",
    Stage.ARRIVAL: "Arrival with the sponsor",
    Stage.CLOSED: "Closed",
}

CLOSURE_REASONS = ("arrived", "withdrawn", "relationship_not_eligible", "visa_refused", "minor_aged_out")
"""Why a family reunification case closes (``CaseClosed.reason``)."""

ELIGIBLE = {
    Relationship.SPOUSE: "a spouse, 18 or older (one spouse)",
    Relationship.CHILD: "a child under 18",
    Relationship.PARENT: "a parent of a sponsor under 18",
}
"""The rule per relationship to the sponsor (the referral is refused otherwise)."""

_ELIGIBLE_TEXT = "; ".join(f"{r.value}: {rule}" for r, rule in ELIGIBLE.items())


def check_referral(referral: Any) -> None:
    """Who may join the sponsor.  The age rules are judged on the day the API receives the
    referral (a referral replayed in the workflow is not judged again)."""
    if referral.destination_country is None:
        raise ReferralFieldError(("destination_country",), "required for family_reunification: the sponsor's country")
    if referral.origin_country is not None:
        raise ReferralFieldError(("origin_country",), "not for family_reunification: the members travel to "
                                                      "destination_country")
    today = EDGE_TODAY.get()
    sponsor_born = referral.sponsor.date_of_birth
    spouses = 0
    for i, member in enumerate(referral.members):
        relationship = ("members", i, "relationship")
        if member.relationship not in ELIGIBLE:
            raise ReferralFieldError(relationship, f"'{member.relationship.value}' is not eligible for family "
                                     f"reunification (members relate to the sponsor); eligible: {_ELIGIBLE_TEXT}")
        spouses += member.relationship == Relationship.SPOUSE
        if spouses > 1:
            raise ReferralFieldError(relationship, "only one spouse may join the sponsor")
        if member.relationship == Relationship.PARENT and sponsor_born is None:
            raise ReferralFieldError(("sponsor", "date_of_birth"),
                                     "required when a parent joins: parents join a sponsor under 18")
        if today is None:
            continue
        age, born = age_on(member.date_of_birth, today), ("members", i, "date_of_birth")
        if member.relationship == Relationship.CHILD and age >= ADULT_AGE:
            raise ReferralFieldError(born, f"a child joins the sponsor while under 18 ({age} today)")
        if member.relationship == Relationship.SPOUSE and age < ADULT_AGE:
            raise ReferralFieldError(born, f"a spouse joins the sponsor from 18 ({age} today)")
        if member.relationship == Relationship.PARENT and age_on(sponsor_born, today) >= ADULT_AGE:
            raise ReferralFieldError(relationship, f"a parent joins a sponsor under 18 (the sponsor is "
                                                   f"{age_on(sponsor_born, today)} today)")


def referral_terms(command: Any) -> dict[str, Any]:
    """The sponsor, as the referral named them, is recorded with the case; and the host
    state's exit permission, where the office requires one."""
    return {"sponsor": command.referral.sponsor.model_dump(mode="json")} | exit_permission.referral_terms(command)


def _no_fit_checks(ctx: DecisionContext) -> DecisionContext:
    """No health stage: the journey runs without the fit-to-travel checks (a member found not
    fit would go back to a health stage this programme does not have)."""
    return replace(ctx, fit_to_travel_checks=False)


def next_step(state: CaseState, stage: Stage, ctx: DecisionContext) -> Step:
    review = travel.refusal_review(stage, ctx, travel.document_refused(state))
    if review is not None:
        return review
    f = data(state)
    if stage == Stage.REFERRAL:  # each relationship's eligibility
        members = [m for m, file in f.members.items() if file.eligibility == "pending"]
        return (FamilyTask.ASSESS_RELATIONSHIP, list(members)) if members else None
    if stage == Stage.DOCUMENTS:  # each member's checklist, once; what is missing follows beside
        members = [m for m, file in f.members.items() if not file.checklist_recorded]
        return (FamilyTask.RECORD_DOCUMENTS, list(members)) if members else None
    if stage == Stage.EMBASSY_APPOINTMENT:
        if f.appointment is None:
            return FamilyTask.BOOK_EMBASSY_APPOINTMENT, [None]
        return (FamilyTask.RECORD_APPOINTMENT_OUTCOME, [None]) if f.appointment.outcome == "booked" else None
    if stage == Stage.VISA:
        members = travel.pending(state, "visa", "pending", "expired")
        return (FamilyTask.RECORD_FAMILY_VISA, members) if members else None
    if stage == Stage.MOVEMENT:
        # The host state's exit permission, where it requires one, opens beside the flow (as
        # for resettlement): the booking opens with it.
        return (exit_permission.step(state, f.exit_permission_required, f.exit_permission, ctx)
                or travel.movement_step(state, _no_fit_checks(ctx)))
    if stage == Stage.ARRIVAL:
        return travel.arrival_step(state)
    return None


def holds(state: CaseState, stage: Stage) -> bool:
    """A relationship found not eligible, or a refused visa, waits for the supervisor's review;
    a child's age-out, flagged by the clock, holds the case in its stage until they decide."""
    files = data(state).members.values()
    if any(file.age_out == "flagged" for file in files):
        return True
    if stage == Stage.REFERRAL:
        return any(file.eligibility == "not_eligible" for file in files)
    return stage == Stage.VISA and travel.document_refused(state)


def review_decisions(state: CaseState) -> tuple[str, ...]:
    return ("reapply", "close") if state.stage == Stage.VISA else ("reassess", "close")


def review_closure_reason(state: CaseState) -> str:
    return "visa_refused" if state.stage == Stage.VISA else "relationship_not_eligible"


def missing_documents(state: CaseState) -> dict[str, list[str]]:
    """What each member still lacks, by member id (members with nothing missing left out)."""
    return {m: file.missing for m, file in data(state).members.items() if file.missing}


def check(state: CaseState, task: TaskState, form: Any, ctx: DecisionContext) -> None:
    """The rules that need the case: no appointment before the documents are complete; no
    departure without the host state's exit permission, where it requires one."""
    if task.task_type == travel.TravelTask.RECORD_DEPARTURE and form.outcome == "departed":
        f = data(state)
        exit_permission.check_departure(state, f.exit_permission_required, f.exit_permission, form.departed_at,
                                        ctx.office_day_ends)
    travel.check(state, task, form, _no_fit_checks(ctx))
    t = task.task_type
    if t == FamilyTask.BOOK_EMBASSY_APPOINTMENT:
        missing = missing_documents(state)
        if missing:
            names = {m.member_id: m.full_name for m in state.members}
            listed = "; ".join(f"{names[m]}: {', '.join(items)}" for m, items in missing.items())
            raise reject(RejectionCode.INVALID_FORM,
                         f"the embassy appointment cannot be booked until every member's document checklist is "
                         f"complete; missing: {listed}",
                         [{"field": f"documents.{m}.{item}", "reason": f"not received for {names[m]}",
                           "type": "case_rule"} for m, items in missing.items() for item in items])
        if ctx.admission_rules and form.appointment_at < ctx.now:
            raise invalid(t, "appointment_at", "must be in the future: book an appointment that has not passed")
    appointment = data(state).appointment
    if t == FamilyTask.RECORD_APPOINTMENT_OUTCOME and form.outcome == "attended" and appointment is not None:
        day = appointment.at.astimezone(time_zone(state.office_time_zone)).date()
        if form.attended_on < day:
            raise invalid(t, "attended_on", f"must not be before the appointment ({day.isoformat()})")


def follow_up(draft: Draft, task: TaskState, form: Any) -> None:
    """The branches: a relationship not eligible or a visa refused goes to the supervisor;
    missing documents open a task to complete them; a child's age-out review may close."""
    t = task.task_type
    if t == FamilyTask.ASSESS_RELATIONSHIP and form.outcome == "not_eligible":
        flow.open_review(draft)
    elif t in (FamilyTask.RECORD_DOCUMENTS, FamilyTask.COMPLETE_DOCUMENTS):
        _ask_for_missing_documents(draft)
    elif t == FamilyTask.RECORD_FAMILY_VISA and form.outcome == "refused":
        flow.cancel_for_refusal(draft, FamilyTask.RECORD_FAMILY_VISA, "a visa of the family was refused")
        flow.open_review(draft)
    elif t == FamilyTask.REVIEW_AGE_OUT and form.decision == "close":
        flow.close(draft, "minor_aged_out")
    elif t == FamilyTask.REVIEW_AGE_OUT:
        _ask_for_missing_documents(draft)  # the flag held the case in document collection
    # a missed appointment left none booked: the flow opens the booking again


def _ask_for_missing_documents(draft: Draft) -> None:
    """Once every member's checklist is recorded, each member still missing an item gets a
    task to complete it (opened in the appointment stage, which booking waits in)."""
    f = data(draft.s)
    held = any(file.age_out == "flagged" for file in f.members.values())
    if draft.s.stage not in (Stage.DOCUMENTS, Stage.EMBASSY_APPOINTMENT) or (held and draft.s.stage == Stage.DOCUMENTS):
        return  # a flag holds the case in document collection: the tasks open when it moves on
    if not all(file.checklist_recorded for file in f.members.values()):
        return
    open_for = {t.member_id for t in draft.s.open_tasks if t.task_type == FamilyTask.COMPLETE_DOCUMENTS}
    for member_id in missing_documents(draft.s):
        if member_id not in open_for:
            flow.open_task(draft, FamilyTask.COMPLETE_DOCUMENTS, member_id=member_id)


# --- the age-out clock -------------------------------------------------------------------------


def _turning_adult(state: CaseState, office_day_starts: flow.DayEnds) -> list[tuple[str, date, datetime]]:
    """Children whose visa is not decided yet, not flagged yet: each one's 18th birthday, and
    the moment it starts in the office's time zone (in UTC for a case decided before
    ``office_day_starts``)."""
    return [(m, file.turns_adult_on, flow.day_start(state, file.turns_adult_on, office_day_starts))
            for m, file in data(state).members.items()
            if file.turns_adult_on is not None and file.age_out == "none"
            and state.progress[m].visa in ("pending", "expired")]


def deadlines(state: CaseState, office_day_ends: flow.DayEnds, office_day_starts: flow.DayEnds = True) -> list[datetime]:
    f = data(state)
    moments = travel.deadlines(state, office_day_ends) + exit_permission.deadlines(
        state, f.exit_permission_required, f.exit_permission, office_day_ends)
    if state.status == CaseStatus.ACTIVE:  # a held case flags nobody; resume catches up
        moments += [at for _, _, at in _turning_adult(state, office_day_starts)]
    return moments


def tick(draft: Draft) -> None:
    travel.tick(draft, document_expired=ev.VisaExpired, document_expiry_reason="a visa expired before departure")
    f = data(draft.s)
    exit_permission.tick(draft, f.exit_permission_required, f.exit_permission)
    if draft.s.status != CaseStatus.ACTIVE:
        return
    for member_id, birthday, at in _turning_adult(draft.s, draft.ctx.office_day_starts):
        if at <= draft.ctx.now:
            draft.emit(fr_ev.MinorTurnedEighteen(member_id=member_id, birthday=birthday))
            flow.open_task(draft, FamilyTask.REVIEW_AGE_OUT, member_id=member_id)
