"""The supervisor's answer to an overdue task (``resolve_escalation``): how far a resolution
may move the task's due date (what it must say is a rule of its form).

Admission rules (``DecisionContext.admission_rules``): they only refuse a new completion, so
resolutions recorded before them replay as they were decided.  The served form schema
(``domain.forms.ResolveEscalationForm``) states them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.engine.context import DecisionContext
from domain.engine.draft import invalid
from domain.forms import LONGEST_DUE_EXTENSION_DAYS
from domain.offices import local_date
from domain.programmes.registry import profile_of
from domain.state import CaseState, TaskState
from domain.tasks import EngineTask

LONGEST_EXTENSION = timedelta(days=LONGEST_DUE_EXTENSION_DAYS)
"""The furthest a new due date may lie after today (in the case's office): an overdue task is
given weeks, not centuries.  A task whose spec has a ``due_limit`` (a fit-to-travel check:
the departure) may not be given a day after that limit's day."""


def check_resolution(state: CaseState, task: TaskState, form: Any, ctx: DecisionContext) -> None:
    if task.task_type != EngineTask.RESOLVE_ESCALATION:
        return
    new_due = form.new_due_date
    if new_due is None:
        return
    zone = state.office_time_zone
    latest = ctx.today(zone) + LONGEST_EXTENSION
    why = f"at most {LONGEST_EXTENSION.days} days after today ({ctx.today(zone).isoformat()})"
    escalated = state.tasks.get(task.escalated_task_id) if task.escalated_task_id else None
    if escalated is not None:
        spec = profile_of(state).spec(escalated.task_type)
        limit = spec.due_limit(state) if spec.due_limit is not None else None
        if limit is not None and limit <= ctx.now:
            raise invalid(task.task_type, "new_due_date",
                          f"the {escalated.task_type} task was for {limit.isoformat()}, which has passed: give it "
                          "no new due date (rebook the flight, and new checks open)")
        if limit is not None and local_date(limit, zone) < latest:
            latest = local_date(limit, zone)
            why = f"not after {latest.isoformat()}, the day the {escalated.task_type} task is for (its departure)"
    if new_due > latest:
        raise invalid(task.task_type, "new_due_date", f"must be {why}; got {new_due.isoformat()}")
