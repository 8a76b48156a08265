"""Durable clocks, driven by Temporal's time-skipping test server: months pass in moments.

The worker is the real one (workflows + the recording activity on the test session's
PostgreSQL); only the Temporal server is the time-skipping one.  Commands go to the
workflows as Updates through the Temporal client, and what the clock did is read back
from the read model, as the API would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.testing import WorkflowEnvironment

from demo.driver import example_form
from domain.case import CaseAction, HoldCase, ResumeCase
from domain.identity import case_id_for
from domain.model import Actor, Referral
from domain.records import CaseActionRequest, CaseWorkflowInput, CompleteTaskRequest, ReferCaseRequest
from tests.factories import referral
from workflows.resettlement_case import ResettlementCaseWorkflow

SUPERVISOR = Actor(id="fatma", role="supervisor", offices=("IST",))
WORKER = {"caseworker": "ayse", "medical_officer": "selin", "movement_officer": "emre", "supervisor": "fatma"}


class Case:
    """A case on the time-skipping server, worked through Updates like the API does."""

    def __init__(self, env: WorkflowEnvironment, handle: WorkflowHandle, pool: Any):
        self.env, self.handle, self.pool = env, handle, pool
        self.case_id = handle.id

    @classmethod
    async def refer(cls, clock: tuple[WorkflowEnvironment, str], pool: Any, **overrides: Any) -> Case:
        env, task_queue = clock
        body = Referral.model_validate(referral(**overrides))
        case_id = case_id_for(body.external_referral_id)
        handle = await env.client.start_workflow(
            ResettlementCaseWorkflow.run, CaseWorkflowInput(case_id=case_id), id=case_id, task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
        await handle.execute_update(ResettlementCaseWorkflow.refer,
                                    ReferCaseRequest(referral=body, actor=Actor(id="ayse", role="caseworker")))
        return cls(env, handle, pool)

    async def open_tasks(self) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT task_id, task_type, role, member_id, due_at, overdue, escalated_task_id "
                                    "FROM tasks WHERE case_id = $1 AND status = 'open' ORDER BY task_id", self.case_id)
        return [dict(r) for r in rows]

    async def row(self) -> dict[str, Any]:
        async with self.pool.acquire() as conn:
            return dict(await conn.fetchrow("SELECT stage, status, version, closure_reason FROM cases WHERE case_id = $1",
                                            self.case_id))

    async def event_types(self) -> list[str]:
        async with self.pool.acquire() as conn:
            return [r["event_type"] for r in await conn.fetch(
                "SELECT event_type FROM case_events WHERE case_id = $1 ORDER BY seq", self.case_id)]

    async def complete(self, task: dict[str, Any], form: dict[str, Any] | None = None) -> None:
        today = (await self.env.get_current_time()).date()
        await self.handle.execute_update(
            ResettlementCaseWorkflow.complete_task,
            CompleteTaskRequest(task_id=task["task_id"], form=form or example_form(task, today),
                                actor=Actor(id=WORKER[task["role"]], role=task["role"])))

    async def act(self, action: CaseAction) -> None:
        await self.handle.execute_update(ResettlementCaseWorkflow.act, CaseActionRequest(action=action, actor=SUPERVISOR))

    async def work_until(self, stage: str, forms: dict[str, Callable[[datetime], dict[str, Any]]] | None = None) -> None:
        """Complete open tasks (with the given forms by task type) until the case is in ``stage``."""
        while (await self.row())["stage"] != stage:
            task = (await self.open_tasks())[0]
            now = await self.env.get_current_time()
            make = (forms or {}).get(task["task_type"])
            await self.complete(task, make(now) if make else None)

    async def skip(self, duration: timedelta, until: Callable[[], Awaitable[bool]]) -> None:
        """Let time pass on the server, then wait (real time) for the worker to have acted."""
        await self.env.sleep(duration)
        for _ in range(200):
            if await until():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"the clock did not act after {duration}")


def _days(n: int) -> Callable[[datetime], str]:
    return lambda now: (now + timedelta(days=n)).date().isoformat()


async def test_a_medical_clearance_expiring_after_6_months_sends_the_case_back_to_health(clock, stack) -> None:
    case = await Case.refer(clock, stack.pool, size=2)
    await case.work_until("visa", forms={
        "assess_health": lambda now: {"assessment_date": now.date().isoformat(), "outcome": "cleared",
                                      "clearance_valid_until": _days(182)(now)},
    })
    visa_tasks = await case.open_tasks()
    await case.complete(visa_tasks[0], {"outcome": "issued", "visa_number": "NO-1", "issued_on": _days(0)(
        await case.env.get_current_time()), "valid_until": _days(400)(await case.env.get_current_time())})

    async def back_in_health() -> bool:
        return (await case.row())["stage"] == "health"

    await case.skip(timedelta(days=190), back_in_health)
    events = await case.event_types()
    assert "MedicalClearanceExpired" in events
    tasks = await case.open_tasks()
    assert sorted(t["task_type"] for t in tasks if t["task_type"] != "resolve_escalation") == ["assess_health"] * 2
    cancelled_visa = [e for e in events if e == "TaskCancelled"]
    assert cancelled_visa  # the second member's open visa task was cancelled on the way back
    # The case goes forward again once both are re-assessed; the issued visa still counts.
    await case.work_until("visa", forms={"resolve_escalation": lambda now: {"action_taken": "Noted."}})
    open_types = {t["task_type"] for t in await case.open_tasks()}
    assert open_types == {"record_visa"}  # only the member whose visa was never issued


async def test_an_sla_breach_escalates_to_the_office_supervisor(clock, stack) -> None:
    case = await Case.refer(clock, stack.pool, priority="emergency")
    [verify] = await case.open_tasks()

    async def escalated() -> bool:
        return any(t["task_type"] == "resolve_escalation" for t in await case.open_tasks())

    await case.skip(timedelta(hours=25), escalated)  # emergency referral SLA: 24 h
    tasks = {t["task_type"]: t for t in await case.open_tasks()}
    assert tasks["verify_referral"]["overdue"] is True
    escalation = tasks["resolve_escalation"]
    assert escalation["role"] == "supervisor" and escalation["escalated_task_id"] == verify["task_id"]
    assert "TaskOverdue" in await case.event_types()

    # The supervisor gives more time: the task is no longer overdue and has a new due date.
    now = await case.env.get_current_time()
    await case.complete(escalation, {"action_taken": "Documents are with the embassy courier.",
                                     "new_due_date": _days(3)(now)})
    [task] = await case.open_tasks()
    assert task["overdue"] is False and task["due_at"].date().isoformat() == _days(4)(now)


async def test_an_arrival_confirmation_that_never_comes_escalates(clock, stack) -> None:
    case = await Case.refer(clock, stack.pool, size=1)
    await case.work_until("arrival")
    [confirm] = await case.open_tasks()
    assert confirm["task_type"] == "confirm_arrival"

    async def escalated() -> bool:
        return any(t["task_type"] == "resolve_escalation" for t in await case.open_tasks())

    await case.skip(timedelta(days=4), escalated)  # 3 days to confirm, by default
    tasks = {t["task_type"]: t for t in await case.open_tasks()}
    assert tasks["resolve_escalation"]["escalated_task_id"] == confirm["task_id"]
    # The confirmation arriving late closes the escalation with it.
    await case.complete(tasks["confirm_arrival"])
    row = await case.row()
    assert (row["status"], row["closure_reason"]) == ("closed", "arrived")
    assert await case.open_tasks() == []


async def test_a_hold_pauses_the_sla_clock_and_resume_gives_the_time_left(clock, stack) -> None:
    case = await Case.refer(clock, stack.pool, priority="emergency")
    [verify] = await case.open_tasks()
    await case.skip(timedelta(hours=12), lambda: _true())
    await case.act(HoldCase(reason="Family asked for time to decide."))
    await case.env.sleep(timedelta(days=10))  # far past the 24 h SLA, but on hold
    await asyncio.sleep(0.3)
    [still] = await case.open_tasks()
    assert still["overdue"] is False and "TaskOverdue" not in await case.event_types()

    await case.act(ResumeCase(reason="Family decided to continue."))
    [resumed] = await case.open_tasks()
    shift = resumed["due_at"] - verify["due_at"]
    assert timedelta(days=10) <= shift < timedelta(days=10, hours=1)  # moved by the time on hold

    async def escalated() -> bool:
        return any(t["task_type"] == "resolve_escalation" for t in await case.open_tasks())

    await case.skip(timedelta(hours=13), escalated)  # the 12 h it had left, and a bit
    assert "TaskOverdue" in await case.event_types()


async def _true() -> bool:
    return True
