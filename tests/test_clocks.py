"""Durable clocks, driven by Temporal's time-skipping test server: months pass in moments.

The worker is the real one (workflows + the recording activity on the test session's
PostgreSQL); only the Temporal server is the time-skipping one.  Commands go to the
workflows as Updates through the Temporal client, and what the clock did is read back
from the read model, as the API would.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from domain.case import HoldCase, ResumeCase
from tests.support.clocks import ClockCase


def _days(n: int) -> Callable[[datetime], str]:
    return lambda now: (now + timedelta(days=n)).date().isoformat()


async def test_a_medical_clearance_expiring_after_6_months_sends_the_case_back_to_health(clock, stack) -> None:
    case = await ClockCase.refer(clock, stack.pool, size=2)
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
    case = await ClockCase.refer(clock, stack.pool, priority="emergency")
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
    case = await ClockCase.refer(clock, stack.pool, size=1)
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
    case = await ClockCase.refer(clock, stack.pool, priority="emergency")
    [verify] = await case.open_tasks()
    await case.let_pass(timedelta(hours=12))
    await case.act(HoldCase(reason="Family asked for time to decide."))
    await case.let_pass(timedelta(days=10))  # far past the 24 h SLA, but on hold
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
