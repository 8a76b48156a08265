"""Splitting a family: some members leave a case for a case of their own.

A family travels together (a movement adds whole cases), so when part of it cannot (one
member not fit to travel, a visa refused for one, a family that separates) the caseworker
splits it explicitly, with a reason.  Two decisions, one per case:

* the original case decides ``SplitCase``: it cancels the moved members' open per-member
  tasks (and their escalations), records ``CaseSplit`` (who left, to which case, why; the
  actor is the event's) and goes on with the members who stay (``advance``: the stage may
  now be done, e.g. when only the member who left held it);
* the new case decides ``OpenSplitCase``, which the original's workflow sends once
  ``CaseSplit`` is recorded (``split_opening``, from the original's state just before the
  split): ``CaseSplitFrom`` (the moved members with their per-member records, the
  programme's data for them, and the family's programme, office, priority, destination and
  stage), the stage entered, then the open tasks it carries on with: the moved members'
  per-member tasks and the stage's case-level tasks (both cases need those), each due as it
  was; then ``advance``.

A supervisor review follows its cause (``DecisionContext.split_review_follows``): a review
opened for members' own outcomes (a visa or travel document refused, a member not cleared, a
relationship not eligible: ``review_causes``) is cancelled in the original when every such
member moved (and no outcome of the case's own holds it there), so the original goes on by
itself, and the new case carries it; when none of them moved, the new case does not carry it.
A review whose cause is the case's (an interview rejected, an exit permission refused) stays
with both, as every case-level task does.

The new case's id is derived, ``<case_id>-S<n>`` (the n-th split of this case), so every
retry of the opening reaches the same workflow; the opening decides nothing for a case that
already exists from the same split.

Rules (the refusals name the field): the members exist and are named once, at least one
stays and one moves, the principal stays, the new principal is one of those who move and an
adult when one of them is; the case is not closed, not on hold, not booked on a flight and
not departed (a booking is cancelled, or the case taken off its movement, first).  A case
on an open movement's manifest is refused by the API (the manifest is the movement's, not
the case's).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from datetime import date
from typing import Any

from domain import events as ev
from domain.engine.commands import OpenSplitCase, SplitCase
from domain.engine.context import DecisionContext, in_force
from domain.engine.draft import Draft, reject
from domain.engine.flow import advance, cancel_escalations_of
from domain.errors import CommandRejected, RejectionCode
from domain.model import CaseStatus, Relationship, Stage
from domain.offices import DEFAULT_TIME_ZONE
from domain.programmes.registry import definition_of
from domain.state import CaseState, TaskState
from domain.tasks import EngineTask

ADULT_AGE = 18


def new_case_id(state: CaseState) -> str:
    """The id of the next case split off ``state``: derived, so a retried split finds it."""
    return f"{state.case_id}-S{len(state.split_into) + 1}"


def _age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _field(field: str, reason: str, message: str) -> CommandRejected:
    return reject(RejectionCode.INVALID_FORM, message, [{"field": field, "reason": reason, "type": "split_rule"}])


def check_split(state: CaseState, command: SplitCase, ctx: DecisionContext) -> None:
    """Refuse a split the case cannot make, naming the field and the rule."""
    if state.status == CaseStatus.ON_HOLD:
        raise reject(RejectionCode.CASE_ON_HOLD,
                     f"case {state.case_id} is on hold ({state.hold_reason}); a supervisor must resume it before "
                     "the family is split")
    if state.departed_at is not None:
        raise reject(RejectionCode.WRONG_STAGE, f"case {state.case_id} has departed: a family that travelled "
                     "together is not split", [{"field": "case_id", "reason": "departed"}])
    if state.movement is not None:
        raise reject(RejectionCode.WRONG_STAGE,
                     f"case {state.case_id} is booked on flight {state.movement.flight_number}: cancel the booking "
                     "(or take the case off its movement) before splitting the family",
                     [{"field": "case_id", "reason": "booked on a flight"}])
    ids = command.member_ids
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise _field("member_ids", "named more than once", f"member_ids names {', '.join(repeated)} more than once")
    unknown = [i for i in ids if state.member(i) is None]
    if unknown:
        raise _field("member_ids", "not a member of this case",
                     f"case {state.case_id} has no member {', '.join(unknown)} (its members: "
                     f"{', '.join(m.member_id for m in state.members)})")
    if len(ids) >= len(state.members):
        raise _field("member_ids", "at least one member must stay",
                     "member_ids names every member of the case: at least one member stays with it (a split moves "
                     "part of the family)")
    principal = state.principal
    if principal.member_id in ids:
        raise _field("member_ids", "the principal stays with the case",
                     f"{principal.member_id} ({principal.full_name}) is the case's principal and stays with it; move "
                     "the others instead")
    if command.principal_member_id not in ids:
        raise _field("principal_member_id", "must be one of the members who move",
                     f"principal_member_id {command.principal_member_id} is not among member_ids")
    today = ctx.today(state.office_time_zone)
    moved = [m for m in state.members if m.member_id in ids]
    named = next(m for m in moved if m.member_id == command.principal_member_id)
    adults = [m.member_id for m in moved if _age_on(m.date_of_birth, today) >= ADULT_AGE]
    if adults and named.member_id not in adults:
        raise _field("principal_member_id", "must be an adult when an adult moves",
                     f"{named.member_id} is under {ADULT_AGE}; the new case's principal is an adult who moves "
                     f"({', '.join(adults)})")


def decide_split(draft: Draft, command: SplitCase) -> None:
    state = draft.s
    check_split(state, command, draft.ctx)
    before = state.model_copy(deep=True)
    target = new_case_id(state)
    moved = set(command.member_ids)
    for task in [t for t in state.open_tasks if t.member_id in moved]:
        if draft.s.tasks[task.task_id].status != "open":
            continue
        draft.emit(ev.TaskCancelled(task_id=task.task_id, reason=f"moved to case {target}: {command.reason}"))
        cancel_escalations_of(draft, task.task_id, f"its task moved to case {target}")
    split = ev.CaseSplit(member_ids=[m.member_id for m in state.members if m.member_id in moved], new_case_id=target,
                         new_principal_member_id=command.principal_member_id, reason=command.reason)
    # The new case must accept what this one records: judged now, so that a split is never
    # recorded whose other half cannot open.
    trial = dataclasses.replace(draft.ctx, new_event_id=lambda: "split-trial")
    decide_open_split(None, split_opening(before, split, review_follows=draft.ctx.split_review_follows), trial)
    draft.emit(split)
    for review in _open_reviews(before):
        causes = review_causes(before, review.stage)
        if causes and causes <= moved and in_force(draft.ctx.split_review_follows):
            names = ", ".join(m.full_name for m in before.members if m.member_id in causes)
            reason = f"what it decides moved to case {target} ({names}): {command.reason}"
            draft.emit(ev.TaskCancelled(task_id=review.task_id, reason=reason))
            cancel_escalations_of(draft, review.task_id, f"its review moved to case {target}")
    advance(draft)


def _open_reviews(state: CaseState) -> list[TaskState]:
    return [t for t in state.open_tasks if t.task_type == EngineTask.REVIEW_OUTCOME and t.member_id is None]


def _part(state: CaseState, keep: set[str]) -> CaseState:
    """``state`` with only the ``keep`` members (and their records)."""
    part = state.model_copy(deep=True)
    drop_members(part, {m.member_id for m in state.members} - keep)
    return part


def review_causes(state: CaseState, stage: Stage) -> set[str]:
    """The members whose own outcome a supervisor review open in ``stage`` decides: a visa or
    travel document refused (visa stage), a member not cleared (health), or what the
    programme holds the stage for on that member alone (a relationship not eligible).  Empty
    when the cause is the case's, not a member's (an interview rejected)."""
    programme = definition_of(state.programme)
    if _held_by_the_case(state, stage):
        return {m.member_id for m in state.members}  # the case's own outcome: every member shares it
    causes = set()
    for m in state.members:
        progress = state.progress[m.member_id]
        if stage == Stage.VISA:
            own = progress.visa == "refused"
        elif stage == Stage.HEALTH:
            own = progress.health == "not_cleared"
        else:
            own = programme.holds(_part(state, {m.member_id}), stage)
        if own:
            causes.add(m.member_id)
    return causes


def _held_by_the_case(state: CaseState, stage: Stage) -> bool:
    """The programme holds ``stage`` for the case itself, whoever its members are (an exit
    permission refused, an eligibility not met): judged on the case without its members."""
    return definition_of(state.programme).holds(_part(state, set()), stage)


def _for_members(data: dict[str, Any], keep: set[str], family: set[str]) -> dict[str, Any]:
    """The programme's data with only the ``keep`` members' entries in its per-member maps
    (a map whose keys are member ids of the family, e.g. a medical escort need per member)."""
    out = {}
    for name, value in data.items():
        if isinstance(value, dict) and value and set(value) <= family:
            value = {k: v for k, v in value.items() if k in keep}
        out[name] = value
    return out


def drop_members(state: CaseState, gone: set[str]) -> None:
    """Fold ``CaseSplit``: the members who left take their records with them."""
    family = {m.member_id for m in state.members}
    state.members = [m for m in state.members if m.member_id not in gone]
    for member_id in gone:
        state.progress.pop(member_id, None)
    if state.programme_data is not None:
        kept = _for_members(state.programme_data.model_dump(), family - gone, family)
        state.programme_data = type(state.programme_data).model_validate(kept)


def split_opening(before: CaseState, split: ev.CaseSplit,
                  review_follows: bool | Callable[[], bool] = True) -> OpenSplitCase:
    """What the new case opens with, from the original case just before ``split``: a review
    whose cause stayed (none of its members moved) is not carried, under ``review_follows``
    (the original's ``DecisionContext.split_review_follows``, asked only when it matters)."""
    moved = set(split.member_ids)
    stays = {r.task_id for r in _open_reviews(before)
             if (causes := review_causes(before, r.stage)) and not causes & moved}
    if stays and not in_force(review_follows):
        stays = set()
    family = {m.member_id for m in before.members}
    sponsor = definition_of(before.programme).members_join_sponsor
    members = []
    for m in before.members:
        if m.member_id not in moved:
            continue
        if m.member_id == split.new_principal_member_id and not sponsor:
            m = m.model_copy(update={"relationship": Relationship.PRINCIPAL})
        members.append(m)
    # The new principal first (a family joining a sponsor has none: the first member stands for it).
    members.sort(key=lambda m: m.member_id != split.new_principal_member_id)
    number = split.new_case_id.rsplit("-S", 1)[1]
    data = before.programme_data.model_dump(mode="json") if before.programme_data is not None else None
    opening = ev.CaseSplitFrom(
        case_id=split.new_case_id, from_case_id=before.case_id, reason=split.reason, programme=before.programme,
        office=before.office,
        office_time_zone=before.office_time_zone if before.office_time_zone != DEFAULT_TIME_ZONE else None,
        priority=before.priority, destination_country=before.destination_country,
        origin_country=before.origin_country, external_referral_id=f"{before.external_referral_id}#S{number}",
        referral_fingerprint=hashlib.sha256(f"split:{before.case_id}:{split.new_case_id}".encode()).hexdigest()[:32],
        arrival_confirmation_days=before.arrival_confirmation_days, members=members,
        progress={m.member_id: before.progress[m.member_id].model_dump(mode="json") for m in members},
        programme_data=_for_members(data, moved, family) if data is not None else None,
        stage=before.stage, services=before.services)
    tasks = [ev.CarriedTask(task_type=t.task_type, stage=t.stage, member_id=t.member_id, due_at=t.due_at,
                            assignee=t.assignee)
             for t in before.open_tasks
             if t.task_type != EngineTask.RESOLVE_ESCALATION and t.task_id not in stays
             and (t.member_id in moved or (t.member_id is None and t.stage == before.stage))]
    return OpenSplitCase(opening=opening, tasks=tasks)


def decide_open_split(state: CaseState | None, command: OpenSplitCase, ctx: DecisionContext) -> list[ev.RecordedEvent]:
    opening = ev.CaseSplitFrom.model_validate(command.opening) if not isinstance(
        command.opening, ev.CaseSplitFrom) else command.opening
    if state is not None:
        if state.split_from == opening.from_case_id:
            return []  # the same split's opening again: the case exists
        raise reject(RejectionCode.REFERRAL_CONFLICT,
                     f"case {state.case_id} already exists and was not split off case {opening.from_case_id}")
    draft = Draft(None, ctx, opening.case_id)
    draft.emit(opening)
    draft.emit(ev.StageEntered(stage=opening.stage, previous_stage=None))
    for carried in command.tasks:
        task = carried if isinstance(carried, ev.CarriedTask) else ev.CarriedTask.model_validate(carried)
        task_id = f"{opening.case_id}-T{draft.s.task_counter + 1:02d}"
        draft.emit(ev.TaskOpened(task_id=task_id, task_type=task.task_type, stage=task.stage,
                                 member_id=task.member_id, due_at=task.due_at))
        if task.assignee:
            draft.emit(ev.TaskReassigned(task_id=task_id, assignee=task.assignee,
                                         reason=f"carried over from case {opening.from_case_id}"))
    advance(draft)
    return draft.recorded
