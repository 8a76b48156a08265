"""Durable clocks on Temporal's time-skipping test server: months pass in moments.

The ``clock`` fixture (tests/conftest.py) runs the real worker (workflows and the recording
activity on the session's PostgreSQL) against the time-skipping server.  ``ClockCase`` is a
case of either programme there, worked through Updates as the API does; what the clock
did is read back from the read model, as the API would.

Time on the server moves only when a test says so: ``skip`` lets time pass and waits until
the worker has done what is expected; ``let_pass`` lets time pass and waits until the
workflow has done everything that time asks of it (so a test may then assert that
something did *not* happen).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.testing import WorkflowEnvironment

from api.commands import WORKFLOW_TYPES
from domain.case import CaseAction
from domain.identity import case_id_for
from domain.model import Actor, Referral
from domain.records import CaseActionRequest, CaseWorkflowInput, CompleteTaskRequest, ReferCaseRequest
from tests.support.factories import referral
from tests.support.forms import example_form
from tests.support.users import worker_for
from tests.support.waiting import eventually
from workflows.case_workflow import CaseWorkflow

Clock = tuple[WorkflowEnvironment, str]  # the time-skipping environment and the worker's task queue

SUPERVISOR = Actor(id="fatma", role="supervisor", offices=("IST",))
# Forms made from the server's current time, by task type.
Forms = dict[str, Callable[[datetime], dict[str, Any]]]


class ClockCase:
    """A case on the time-skipping server, worked through Updates like the API does."""

    def __init__(self, env: WorkflowEnvironment, handle: WorkflowHandle, pool: Any, office: str):
        self.env, self.handle, self.pool, self.office = env, handle, pool, office
        self.case_id = handle.id

    @classmethod
    async def refer(cls, clock: Clock, pool: Any, *, monitoring_months: list[int] | None = None,
                    **overrides: Any) -> ClockCase:
        """Refer a case (``overrides`` of ``tests.support.factories.referral``) and start its
        programme's workflow."""
        env, task_queue = clock
        body = Referral.model_validate(referral(**overrides))
        case_id = case_id_for(body.external_referral_id)
        handle = await env.client.start_workflow(
            WORKFLOW_TYPES[body.programme].run, CaseWorkflowInput(case_id=case_id),  # type: ignore[attr-defined]
            id=case_id, task_queue=task_queue, id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
        await handle.execute_update(CaseWorkflow.refer, ReferCaseRequest(
            referral=body, actor=Actor(id="ayse", role="caseworker"), monitoring_months=monitoring_months))
        return cls(env, handle, pool, body.office)

    # --- the read model -------------------------------------------------------------------

    async def open_tasks(self) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT t.task_id, t.task_type, t.role, t.member_id, t.opened_at, t.due_at, t.overdue, "
                "t.escalated_task_id, c.programme FROM tasks t JOIN cases c USING (case_id) "
                "WHERE t.case_id = $1 AND t.status = 'open' ORDER BY t.task_id", self.case_id)
        return [dict(r) for r in rows]

    async def row(self) -> dict[str, Any]:
        async with self.pool.acquire() as conn:
            return dict(await conn.fetchrow("SELECT stage, status, version, closure_reason, priority FROM cases "
                                            "WHERE case_id = $1", self.case_id))

    async def event_types(self) -> list[str]:
        async with self.pool.acquire() as conn:
            return [r["event_type"] for r in await conn.fetch(
                "SELECT event_type FROM case_events WHERE case_id = $1 ORDER BY seq", self.case_id)]

    # --- commands -------------------------------------------------------------------------

    async def now(self) -> datetime:
        """The time-skipping server's current time."""
        return await self.env.get_current_time()

    async def complete(self, task: dict[str, Any], form: dict[str, Any] | None = None) -> None:
        """Complete ``task`` as its worker, with ``form`` or its example form of today."""
        await self.handle.execute_update(CaseWorkflow.complete_task, CompleteTaskRequest(
            task_id=task["task_id"], form=form or example_form(task, (await self.now()).date()),
            actor=Actor(id=worker_for(task, self.office), role=task["role"])))

    async def act(self, action: CaseAction) -> None:
        await self.handle.execute_update(CaseWorkflow.act, CaseActionRequest(action=action, actor=SUPERVISOR))

    async def work_until(self, stage: str, forms: Forms | None = None) -> None:
        """Complete open tasks, the oldest first, until the case is in ``stage``; ``forms`` gives
        the form of a task type (from the server's time).  An escalation is worked only when
        ``forms`` says how (it needs a supervisor's decision); else it is left open."""
        forms = forms or {}
        while (row := await self.row())["stage"] != stage:
            workable = [t for t in await self.open_tasks()
                        if t["task_type"] != "resolve_escalation" or "resolve_escalation" in forms]
            assert workable, f"case {self.case_id} is stuck in {row['stage']} on the way to {stage}"
            task = workable[0]
            make = forms.get(task["task_type"])
            await self.complete(task, make(await self.now()) if make else None)

    # --- time -----------------------------------------------------------------------------

    async def skip(self, duration: timedelta, until: Callable[[], Awaitable[bool]], timeout: float = 15) -> None:
        """Let ``duration`` pass on the server, then wait (real time) until ``until()`` is true."""
        await self.env.sleep(duration)
        await eventually(until, timeout=timeout, what=f"the clock to act after {duration}")

    async def let_pass(self, duration: timedelta) -> None:
        """Let ``duration`` pass on the server and wait until the case has done all that time
        asks of it (``settled``): what has not happened by then did not happen."""
        await self.env.sleep(duration)
        await self.settled()

    async def settled(self, timeout: float = 15) -> None:
        """Wait until the workflow has caught up with the server's time, as its history shows:
        every timer due by now has fired (or was cancelled), and no workflow task or activity
        (the recording of events in the read model) is scheduled or running."""
        latest = self.env.client.get_workflow_handle(self.case_id)  # the current run, after a continue-as-new
        busy: list[str] = []

        async def caught_up() -> bool:
            busy[:] = _busy(await latest.fetch_history(), await self.now())
            return not busy

        await eventually(caught_up, timeout=timeout, what=lambda: f"case {self.case_id} to settle (still: {busy})")


_ACTIVITY_ENDS = {EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity_task_completed_event_attributes",
                  EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "activity_task_failed_event_attributes",
                  EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "activity_task_timed_out_event_attributes",
                  EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: "activity_task_canceled_event_attributes"}
_WORKFLOW_TASK = {EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED: True, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED: True,
                  EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: False, EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED: False,
                  EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT: False}

_CLOSED = {EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
           EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
           EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED}


def _busy(history: Any, now: datetime) -> list[str]:
    """What a workflow history still has to do at ``now``: due timers not fired, activities
    not ended, a workflow task not completed.  Empty: settled."""
    timers: dict[str, datetime] = {}
    activities: set[int] = set()
    workflow_task = False
    for event in history.events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_TIMER_STARTED:
            started = event.timer_started_event_attributes
            timers[started.timer_id] = event.event_time.ToDatetime(now.tzinfo) + started.start_to_fire_timeout.ToTimedelta()
        elif kind == EventType.EVENT_TYPE_TIMER_FIRED:
            timers.pop(event.timer_fired_event_attributes.timer_id, None)
        elif kind == EventType.EVENT_TYPE_TIMER_CANCELED:
            timers.pop(event.timer_canceled_event_attributes.timer_id, None)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            activities.add(event.event_id)
        elif kind in _ACTIVITY_ENDS:
            activities.discard(getattr(event, _ACTIVITY_ENDS[kind]).scheduled_event_id)
        elif kind in _WORKFLOW_TASK:
            workflow_task = _WORKFLOW_TASK[kind]
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            return ["the next run to start"]  # read again: the handle follows the latest run
        elif kind in _CLOSED:
            return []
    return ([f"timer {t} due at {at:%Y-%m-%d %H:%M:%S}" for t, at in timers.items() if at <= now]
            + [f"activity {a}" for a in sorted(activities)] + (["a workflow task"] if workflow_task else []))
