"""Folding events into state: ``evolve`` one event, ``fold`` many.

The engine folds what every case has (stages, tasks, holds, corrections, closure); then the
case's programme folds its part of the same event (``ProgrammeDefinition.apply``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from domain import events as ev
from domain.model import CaseStatus, Member, Stage
from domain.offices import DEFAULT_TIME_ZONE
from domain.programmes.registry import definition_of
from domain.state import CaseState, MemberProgress, TaskState


def evolve(state: CaseState | None, recorded: ev.RecordedEvent) -> CaseState:
    """The state after one more event.  Does not modify ``state``."""
    return apply(state.model_copy(deep=True) if state is not None else None, recorded)


def fold(
    recorded: Iterable[ev.RecordedEvent], *, start: CaseState | None = None, as_of: datetime | None = None
) -> CaseState | None:
    """Case state from its events (after ``start``, which is not modified), optionally only
    the events that happened by ``as_of``: "the case as it stood on that day"."""
    state = start.model_copy(deep=True) if start is not None else None
    for r in recorded:
        if as_of is not None and r.occurred_at > as_of:
            break
        state = apply(state, r)
    return state


def apply(state: CaseState | None, recorded: ev.RecordedEvent) -> CaseState:
    """Apply one event in place (on a state the caller owns) and return it."""
    event, at = recorded.event, recorded.occurred_at
    if isinstance(event, ev.CaseReferred):
        state = _referred(event, at)
    elif isinstance(event, ev.CaseSplitFrom):
        state = _split_from(event, at)
    elif state is None:
        raise ValueError(f"event {recorded.seq} ({event.type}) precedes the case's CaseReferred")
    else:
        _apply_to_case(state, event, at, recorded.actor.id)
        definition_of(state.programme).apply(state, event, at)
    state.version = recorded.seq
    state.updated_at = at
    return state


def _referred(event: ev.CaseReferred, at: datetime) -> CaseState:
    programme = definition_of(event.programme)
    return CaseState(
        case_id=event.case_id, programme=event.programme, office=event.office, priority=event.priority,
        office_time_zone=getattr(event, "office_time_zone", None) or DEFAULT_TIME_ZONE,
        destination_country=event.destination_country, origin_country=event.origin_country,
        external_referral_id=event.external_referral_id, referral_fingerprint=event.referral_fingerprint,
        arrival_confirmation_days=event.arrival_confirmation_days, members=list(event.members),
        progress={m.member_id: MemberProgress() for m in event.members},
        referred_at=at, stage_entered_at=at, updated_at=at,
        programme_data=programme.start(event),
        services=getattr(event, "services", None),
    )


def _split_from(event: ev.CaseSplitFrom, at: datetime) -> CaseState:
    """A case split off another starts where the split left its members (``domain.engine.split``)."""
    return CaseState(
        case_id=event.case_id, programme=event.programme, office=event.office, priority=event.priority,
        office_time_zone=event.office_time_zone or DEFAULT_TIME_ZONE,
        destination_country=event.destination_country, origin_country=event.origin_country,
        external_referral_id=event.external_referral_id, referral_fingerprint=event.referral_fingerprint,
        arrival_confirmation_days=event.arrival_confirmation_days, members=list(event.members),
        progress={m.member_id: MemberProgress.model_validate(event.progress.get(m.member_id, {}))
                  for m in event.members},
        stage=event.stage, referred_at=at, stage_entered_at=at, updated_at=at,
        programme_data=event.programme_data, services=event.services, split_from=event.from_case_id,
    )


def _apply_to_case(state: CaseState, event: object, at: datetime, actor_id: str) -> None:
    if isinstance(event, ev.StageEntered):
        state.stage, state.stage_entered_at = event.stage, at
    elif isinstance(event, ev.TaskOpened):
        state.task_counter += 1
        state.tasks[event.task_id] = TaskState(
            task_id=event.task_id, task_type=event.task_type, stage=event.stage, member_id=event.member_id,
            opened_at=at, due_at=event.due_at, escalated_task_id=event.escalated_task_id,
        )
    elif isinstance(event, ev.TaskCancelled):
        state.tasks[event.task_id].status = "cancelled"
        state.tasks[event.task_id].completed_at = at
    elif isinstance(event, ev.TaskOverdue):
        state.tasks[event.task_id].overdue = True
    elif isinstance(event, ev.TaskDueDateChanged):
        task = state.tasks[event.task_id]
        task.due_at, task.overdue = event.due_at, False
    elif isinstance(event, ev.TaskReassigned):
        state.tasks[event.task_id].assignee = event.assignee
    elif isinstance(event, ev.CaseHeld):
        state.status, state.held_at, state.hold_reason = CaseStatus.ON_HOLD, at, event.reason
    elif isinstance(event, ev.CaseResumed):
        for task in state.open_tasks:
            if not task.overdue:
                since = max(event.held_since, task.opened_at) if event.from_opening else event.held_since
                task.due_at = task.due_at + (at - since)
        state.status, state.held_at, state.hold_reason = CaseStatus.ACTIVE, None, None
    elif isinstance(event, ev.MemberDataCorrected):
        member = state.member(event.member_id)
        assert member is not None
        index = state.members.index(member)
        state.members[index] = Member.model_validate({**member.model_dump(), **event.changes})
    elif isinstance(event, ev.CaseClosed):
        state.stage, state.status, state.closure_reason, state.closed_at = Stage.CLOSED, CaseStatus.CLOSED, event.reason, at
        state.held_at = None
    elif isinstance(event, ev.TaskCompletion):
        task = state.tasks[event.task_id]
        task.status, task.completed_at, task.completed_by = "completed", at, actor_id
    elif isinstance(event, ev.PriorityRaised):
        state.priority = event.priority
    elif isinstance(event, ev.CaseSplit):
        from domain.engine.split import drop_members  # split decides with the flow: imported late

        drop_members(state, set(event.member_ids))
        state.split_into.append(event.new_case_id)
    # CaseWithdrawn, NoteAdded: history only (closure follows separately); the rest is the programme's
