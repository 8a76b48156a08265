"""AVRR's clocks on Temporal's time-skipping test server: monitoring visits months after
the return, the 72-hour fit-to-travel window before a booked return, a travel document
expiring before departure.  The worker and PostgreSQL are the real ones; what the clock
did is read back from the read model, as the API would.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio.worker import Replayer

from domain.case import HoldCase, ResumeCase
from temporal_client import data_converter
from tests.support.clocks import Clock, ClockCase
from worker import WORKFLOWS


async def _refer(clock: Clock, pool: Any, monitoring_months: list[int] | None = None, size: int = 1) -> ClockCase:
    """An AVRR case: a family returning to Pakistan."""
    return await ClockCase.refer(clock, pool, monitoring_months=monitoring_months, size=size, programme="avrr",
                                 destination_country=None, origin_country="PK")


async def _visits(case: ClockCase) -> list[dict[str, Any]]:
    """The monitoring visits as the read model keeps them (``cases.programme_data``)."""
    async with case.pool.acquire() as conn:
        data = await conn.fetchval("SELECT programme_data FROM cases WHERE case_id = $1", case.case_id)
    return [v | {"opens_at": datetime.fromisoformat(v["opens_at"]), "score": v["reintegration_score"]}
            for v in data["monitoring_visits"]]


def _on(now: datetime) -> str:
    return now.date().isoformat()


async def test_monitoring_visits_open_months_after_the_return_and_the_last_one_closes_the_case(clock, stack) -> None:
    case = await _refer(clock, stack.pool)
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
    visits = await _visits(case)
    assert [(v["visit_number"], v["months_after_arrival"], v["task_id"]) for v in visits] == [
        (1, 3, None), (2, 6, None), (3, 12, None)]

    scores = iter([0.41, 0.58, 0.72])
    for number in (1, 2, 3):
        opens_at = visits[number - 1]["opens_at"]

        async def visit_open() -> bool:
            return any(t["task_type"] == "record_monitoring_visit" for t in await case.open_tasks())

        await case.let_pass(opens_at - await case.now() - timedelta(hours=1))
        assert not await visit_open(), "a visit must not open before its day"
        await case.skip(timedelta(hours=2), visit_open)
        [task] = await case.open_tasks()
        assert task["opened_at"] >= opens_at and task["due_at"] - task["opened_at"] == timedelta(days=30)
        await case.complete(task, {"visited_on": _on(await case.now()), "method": "in_person",
                                   "reintegration_score": next(scores)})
    row = await case.row()
    assert (row["status"], row["closure_reason"]) == ("closed", "monitoring_completed")
    visits = await _visits(case)
    assert [v["score"] for v in visits] == [0.41, 0.58, 0.72]
    assert (visits[2]["opens_at"].date() - arrived).days in (365, 366)  # a year after arrival
    assert [v["visited_on"] for v in visits] == [v["opens_at"].date().isoformat() for v in visits]
    assert (await case.event_types()).count("MonitoringVisitRecorded") == 3

    # The history, timers included, replays against the current workflow code.
    history = await case.handle.fetch_history()
    await Replayer(workflows=WORKFLOWS, data_converter=data_converter(stack.settings)).replay_workflow(history)


async def test_monitoring_intervals_come_with_the_referral_and_a_hold_delays_the_visit(clock, stack) -> None:
    case = await _refer(clock, stack.pool, monitoring_months=[1, 2])
    await case.work_until("reintegration")
    visits = await _visits(case)
    assert [v["months_after_arrival"] for v in visits] == [1, 2]
    plan = next(t for t in await case.open_tasks() if t["task_type"] == "record_reintegration_plan")
    await case.complete(plan)
    await case.act(HoldCase(reason="Partner office closed for a month."))
    await case.let_pass(visits[0]["opens_at"] - await case.now() + timedelta(days=2))
    assert not [t for t in await case.open_tasks() if t["task_type"] == "record_monitoring_visit"]

    async def visit_open() -> bool:
        return any(t["task_type"] == "record_monitoring_visit" for t in await case.open_tasks())

    await case.act(ResumeCase(reason="Office reopened."))
    await case.skip(timedelta(minutes=1), visit_open)  # the visit the hold held back opens on resuming
    # The delivery task opened by the plan is still open beside the visit: the flow goes on.
    assert {t["task_type"] for t in await case.open_tasks()} >= {"record_assistance_delivery",
                                                                 "record_monitoring_visit"}


async def test_fit_to_travel_checks_open_72_hours_before_the_booked_return(clock, stack) -> None:
    case = await _refer(clock, stack.pool, size=2)
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
    case = await _refer(clock, stack.pool, size=2)
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

