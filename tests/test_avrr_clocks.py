"""AVRR's clocks on Temporal's time-skipping test server: monitoring visits months after
the return, the 72-hour fit-to-travel window before a booked return, a travel document
expiring before departure.  The worker and PostgreSQL are the real ones; what the clock
did is read back from the read model, as the API would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from demo.driver import example_form
from domain.case import CaseAction, HoldCase, ResumeCase
from domain.identity import case_id_for
from domain.model import Actor, Referral
from domain.records import CaseActionRequest, CaseWorkflowInput, CompleteTaskRequest, ReferCaseRequest
from temporal_client import data_converter
from tests.factories import referral
from worker import WORKFLOWS
from workflows.avrr_case import AvrrCaseWorkflow

WORKER = {"caseworker": "ayse", "medical_officer": "selin", "movement_officer": "emre", "supervisor": "fatma"}
SUPERVISOR = Actor(id="fatma", role="supervisor", offices=("IST",))


class AvrrCase:
    """An AVRR case on the time-skipping server, worked through Updates like the API does."""

    def __init__(self, env: WorkflowEnvironment, handle: WorkflowHandle, pool: Any):
        self.env, self.handle, self.pool = env, handle, pool
        self.case_id = handle.id

    @classmethod
    async def refer(cls, clock: tuple[WorkflowEnvironment, str], pool: Any,
                    monitoring_months: list[int] | None = None, size: int = 1) -> AvrrCase:
        env, task_queue = clock
        body = Referral.model_validate(referral(size=size, programme="avrr", destination_country=None,
                                                origin_country="PK"))
        case_id = case_id_for(body.external_referral_id)
        handle = await env.client.start_workflow(
            AvrrCaseWorkflow.run, CaseWorkflowInput(case_id=case_id), id=case_id, task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
        await handle.execute_update(AvrrCaseWorkflow.refer, ReferCaseRequest(
            referral=body, actor=Actor(id="ayse", role="caseworker"), monitoring_months=monitoring_months))
        return cls(env, handle, pool)

    async def open_tasks(self) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT task_id, task_type, role, member_id, opened_at, due_at, overdue "
                                    "FROM tasks WHERE case_id = $1 AND status = 'open' ORDER BY task_id", self.case_id)
        return [dict(r) | {"programme": "avrr"} for r in rows]

    async def row(self) -> dict[str, Any]:
        async with self.pool.acquire() as conn:
            return dict(await conn.fetchrow("SELECT stage, status, closure_reason, priority FROM cases "
                                            "WHERE case_id = $1", self.case_id))

    async def visits(self) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            return [dict(r) for r in await conn.fetch(
                "SELECT visit_number, months_after_arrival, opens_at, task_id, visited_on, "
                "reintegration_score::float8 AS score FROM monitoring_visits WHERE case_id = $1 ORDER BY visit_number",
                self.case_id)]

    async def event_types(self) -> list[str]:
        async with self.pool.acquire() as conn:
            return [r["event_type"] for r in await conn.fetch(
                "SELECT event_type FROM case_events WHERE case_id = $1 ORDER BY seq", self.case_id)]

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def complete(self, task: dict[str, Any], form: dict[str, Any] | None = None) -> None:
        await self.handle.execute_update(AvrrCaseWorkflow.complete_task, CompleteTaskRequest(
            task_id=task["task_id"], form=form or example_form(task, (await self.now()).date()),
            actor=Actor(id=WORKER[task["role"]], role=task["role"])))

    async def act(self, action: CaseAction) -> None:
        await self.handle.execute_update(AvrrCaseWorkflow.act, CaseActionRequest(action=action, actor=SUPERVISOR))

    async def work_until(self, stage: str, forms: dict[str, Callable[[datetime], dict[str, Any]]] | None = None) -> None:
        while (await self.row())["stage"] != stage:
            task = next(t for t in await self.open_tasks() if t["task_type"] != "resolve_escalation")
            make = (forms or {}).get(task["task_type"])
            await self.complete(task, make(await self.now()) if make else None)

    async def skip(self, duration: timedelta, until: Callable[[], Awaitable[bool]]) -> None:
        """Let time pass on the server, then wait (real time) for the worker to have acted."""
        await self.env.sleep(duration)
        for _ in range(200):
            if await until():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"the clock did not act after {duration}")


def _on(now: datetime) -> str:
    return now.date().isoformat()


async def test_monitoring_visits_open_months_after_the_return_and_the_last_one_closes_the_case(clock, stack) -> None:
    case = await AvrrCase.refer(clock, stack.pool)
    await case.work_until("reintegration")
    arrived = (await case.now()).date()
    plan = next(t for t in await case.open_tasks() if t["task_type"] == "record_reintegration_plan")
    await case.complete(plan)  # two items
    for number in (1, 2):
        task = next(t for t in await case.open_tasks() if t["task_type"] == "record_assistance_delivery")
        await case.complete(task, {"item_number": number, "delivered_on": _on(await case.now())})
    # The plan is delivered; the supervisor keeps the monitoring going.
    close = next(t for t in await case.open_tasks() if t["task_type"] == "close_reintegration")
    await case.complete(close, {"decision": "continue_monitoring", "reason": "See how the business holds up."})
    assert await case.open_tasks() == []
    visits = await case.visits()
    assert [(v["visit_number"], v["months_after_arrival"], v["task_id"]) for v in visits] == [
        (1, 3, None), (2, 6, None), (3, 12, None)]

    scores = iter([0.41, 0.58, 0.72])
    for number in (1, 2, 3):
        opens_at = visits[number - 1]["opens_at"]

        async def visit_open() -> bool:
            return any(t["task_type"] == "record_monitoring_visit" for t in await case.open_tasks())

        await case.env.sleep(opens_at - await case.now() - timedelta(hours=1))
        await asyncio.sleep(0.3)
        assert not await visit_open(), "a visit must not open before its day"
        await case.skip(timedelta(hours=2), visit_open)
        [task] = await case.open_tasks()
        assert task["opened_at"] >= opens_at and task["due_at"] - task["opened_at"] == timedelta(days=30)
        await case.complete(task, {"visited_on": _on(await case.now()), "method": "in_person",
                                   "reintegration_score": next(scores)})
    row = await case.row()
    assert (row["status"], row["closure_reason"]) == ("closed", "monitoring_completed")
    visits = await case.visits()
    assert [v["score"] for v in visits] == [0.41, 0.58, 0.72]
    assert (visits[2]["opens_at"].date() - arrived).days in (365, 366)  # a year after arrival
    assert [v["visited_on"] for v in visits] == [v["opens_at"].date() for v in visits]
    assert (await case.event_types()).count("MonitoringVisitRecorded") == 3

    # The history, timers included, replays against the current workflow code.
    history = await case.handle.fetch_history()
    await Replayer(workflows=WORKFLOWS, data_converter=data_converter(stack.settings)).replay_workflow(history)


async def test_monitoring_intervals_come_with_the_referral_and_a_hold_delays_the_visit(clock, stack) -> None:
    case = await AvrrCase.refer(clock, stack.pool, monitoring_months=[1, 2])
    await case.work_until("reintegration")
    visits = await case.visits()
    assert [v["months_after_arrival"] for v in visits] == [1, 2]
    plan = next(t for t in await case.open_tasks() if t["task_type"] == "record_reintegration_plan")
    await case.complete(plan)
    await case.act(HoldCase(reason="Partner office closed for a month."))
    await case.env.sleep(visits[0]["opens_at"] - await case.now() + timedelta(days=2))
    await asyncio.sleep(0.3)
    assert not [t for t in await case.open_tasks() if t["task_type"] == "record_monitoring_visit"]

    async def visit_open() -> bool:
        return any(t["task_type"] == "record_monitoring_visit" for t in await case.open_tasks())

    await case.act(ResumeCase(reason="Office reopened."))
    await case.skip(timedelta(minutes=1), visit_open)  # the visit the hold held back opens on resuming
    # The delivery task opened by the plan is still open beside the visit: the flow goes on.
    assert {t["task_type"] for t in await case.open_tasks()} >= {"record_assistance_delivery",
                                                                 "record_monitoring_visit"}


async def test_fit_to_travel_checks_open_72_hours_before_the_booked_return(clock, stack) -> None:
    case = await AvrrCase.refer(clock, stack.pool, size=2)
    await case.work_until("movement")
    book = next(t for t in await case.open_tasks() if t["task_type"] == "book_movement")
    departure = (await case.now()) + timedelta(days=10)
    await case.complete(book, {"flight_number": "PK712", "departure_at": departure.isoformat(),
                               "departure_airport": "IST", "arrival_airport": "LHE"})
    assert "FitToTravelChecksScheduled" in await case.event_types()
    assert [t["task_type"] for t in await case.open_tasks()] == []

    async def checks_open() -> bool:
        return [t["task_type"] for t in await case.open_tasks()] == ["check_fit_to_travel"] * 2

    await case.skip(timedelta(days=7, hours=1), checks_open)  # 10 days - 72 h
    for task in await case.open_tasks():
        await case.complete(task, {"checked_at": (await case.now()).isoformat(), "outcome": "fit"})
    assert [t["task_type"] for t in await case.open_tasks()] == ["reconfirm_consent"]


async def test_a_travel_document_expiring_before_departure_sends_the_case_back(clock, stack) -> None:
    case = await AvrrCase.refer(clock, stack.pool, size=2)
    short = lambda now: {"outcome": "issued", "document_type": "emergency_travel_document",  # noqa: E731
                         "document_number": "PK-ETD-1", "issuing_consulate": "Consulate General of Pakistan, Istanbul",
                         "issued_on": _on(now), "valid_until": _on(now + timedelta(days=20))}
    await case.work_until("movement", forms={"record_travel_document": short})

    async def back_in_visa() -> bool:
        return (await case.row())["stage"] == "visa"

    await case.skip(timedelta(days=22), back_in_visa)
    events = await case.event_types()
    assert "TravelDocumentExpired" in events and "VisaExpired" not in events
    open_types = sorted(t["task_type"] for t in await case.open_tasks() if t["task_type"] != "resolve_escalation")
    assert open_types == ["record_travel_document"] * 2

