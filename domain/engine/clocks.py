"""The case's clock: when it next needs attention, and what a tick at that moment decides.

The engine's own clock is the SLA: an open task past its due date is marked overdue and an
escalation opens for the supervisor.  A programme adds its clocks (expiries, checks that
open before a flight, monitoring visits) through ``deadlines`` and ``tick``.  The workflow
keeps one durable timer for ``next_deadline`` and decides a ``Tick`` when it fires.
"""

from __future__ import annotations

from datetime import datetime

from domain import events as ev
from domain.engine.draft import Draft
from domain.engine.flow import DayEnds, open_task
from domain.model import CaseStatus
from domain.programmes.registry import profile_of
from domain.state import CaseState
from domain.tasks import EngineTask


def next_deadline(state: CaseState | None, office_day_ends: DayEnds = True,
                  office_day_starts: DayEnds = True) -> datetime | None:
    """When the case next needs the clock: the workflow sleeps until then, durably.
    ``office_day_ends``, ``office_day_starts``: the rules its tick decides by
    (``DecisionContext.office_day_ends`` and ``office_day_starts``)."""
    if state is None or state.status == CaseStatus.CLOSED:
        return None
    programme = profile_of(state)
    moments: list[datetime] = []
    if state.status != CaseStatus.ON_HOLD:  # SLA clocks pause on hold
        moments += [t.due_at for t in state.open_tasks if not t.overdue and programme.spec(t.task_type).escalates]
    moments += programme.deadlines(state, office_day_ends, office_day_starts)
    return min(moments) if moments else None


def decide_tick(draft: Draft) -> None:
    """The programme's clocks first (what expired, what opens now), then the SLA's."""
    if draft.s.status == CaseStatus.CLOSED:
        return
    programme = profile_of(draft.s)
    programme.tick(draft)
    if draft.s.status == CaseStatus.ACTIVE:
        now = draft.ctx.now
        for task in list(draft.s.open_tasks):
            if not task.overdue and programme.spec(task.task_type).escalates and task.due_at <= now:
                draft.emit(ev.TaskOverdue(task_id=task.task_id, due_at=task.due_at))
                open_task(draft, EngineTask.RESOLVE_ESCALATION, escalates=task.task_id)
