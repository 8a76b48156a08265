"""A movement's fan-out with the worker SIGKILLed half-way (issue 13): every case of the
manifest is booked once, moved once to a delayed flight, departs once and arrives once, on a
deployment of real processes (tests/support/fault_stack.py); the boarding sheet and the
arrival recorded again change nothing."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from consistency import wait_until_consistent
from store.db import connect
from temporal_client import connect_temporal
from tests.support.driver import CaseDriver
from tests.support.fault_stack import ProcessStack, started_process_stack
from tests.support.stack import stack_settings
from tests.support.waiting import eventually
from tests.test_movements import _case_in_movement_stage, _details, _family, login_all

CASES = 8


deployment = pytest.fixture(scope="module")(started_process_stack)  # real processes, one stack per module


async def _recorded(conn: asyncpg.Connection, case_ids: list[str], event_type: str) -> Counter:
    rows = await conn.fetch("SELECT case_id FROM case_events WHERE case_id = ANY($1::text[]) AND event_type = $2",
                            case_ids, event_type)
    return Counter(r["case_id"] for r in rows)


async def _kill_mid_fan_out(deployment: ProcessStack, conn: asyncpg.Connection, case_ids: list[str],
                            event_type: str) -> int:
    """SIGKILL the worker as soon as the fan-out has reached a first case, start another;
    how many cases it had reached then."""
    reached: list[int] = []

    async def started() -> bool:
        reached.append(sum((await _recorded(conn, case_ids, event_type)).values()))
        return reached[-1] > 0
    await eventually(started, timeout=60, interval=0.005, what=f"a first {event_type}")
    deployment.kill_worker()
    deployment.start_worker()
    return reached[-1]


async def _ok(driver: CaseDriver, method: str, path: str, username: str = "emre", **kwargs: Any) -> dict[str, Any]:
    for _ in range(120):  # the API answers 503 while the engine is away: the same request again
        r = await driver.client.request(method, path, headers=await driver.login(username), **kwargs)
        if r.status_code != 503:
            break
        await asyncio.sleep(0.5)
    assert r.status_code < 300, f"{method} {path} -> {r.status_code}: {r.text}"
    return r.json()


async def _fan_out_done(deployment: ProcessStack, driver: CaseDriver, movement_id: str,
                        case_ids: list[str]) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def done() -> bool:
        seen.update(await _ok(driver, "GET", f"/api/v1/movements/{movement_id}"))
        return seen["fan_out"]["pending"] == 0
    try:
        await eventually(done, timeout=180, interval=0.3,
                         what=lambda: f"the fan-out of {movement_id}: {seen.get('fan_out')}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{await deployment.diagnose(movement_id, *case_ids)}") from None
    return seen


async def test_worker_killed_mid_fan_out_every_case_once(deployment: ProcessStack) -> None:
    conn = await asyncpg.connect(deployment.database_url)
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=60) as http:
        driver = CaseDriver(http)
        await login_all(driver)
        cases = list(await asyncio.gather(*[_case_in_movement_stage(driver, _family(1 + i % 4)) for i in range(CASES)]))
        case_ids = [c["case_id"] for c in cases]
        movement = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=40, hours=6))
        mid = movement["movement_id"]
        for case_id in case_ids:
            await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": case_id})

        await _ok(driver, "POST", f"/api/v1/movements/{mid}/lock")
        at_lock = await _kill_mid_fan_out(deployment, conn, case_ids, "MovementBooked")
        locked = await _fan_out_done(deployment, driver, mid, case_ids)
        assert all(e["booking"]["applied"] for e in locked["manifest"]), locked["manifest"]
        assert await _recorded(conn, case_ids, "MovementBooked") == Counter({c: 1 for c in case_ids})

        async def check_fit_to_travel() -> None:
            for case in cases:
                detail = await _ok(driver, "GET", f"/api/v1/cases/{case['case_id']}", "fatma")
                for task in [t for t in detail["open_tasks"] if t["task_type"] == "check_fit_to_travel"]:
                    await driver.complete(task, "IST")
        await check_fit_to_travel()

        # A delay: each case's booking dropped and made again on the new time, once each.
        later = datetime.fromisoformat(locked["details"]["departure_at"]) + timedelta(hours=4)
        await _ok(driver, "POST", f"/api/v1/movements/{mid}/delay",
                  json={"departure_at": later.isoformat(), "reason": "Late inbound aircraft."})
        at_delay = await _kill_mid_fan_out(deployment, conn, case_ids, "MovementPostponed")
        delayed = await _fan_out_done(deployment, driver, mid, case_ids)
        assert all(e["delay"]["applied"] for e in delayed["manifest"]), delayed["manifest"]
        assert await _recorded(conn, case_ids, "MovementPostponed") == Counter({c: 1 for c in case_ids})
        assert await _recorded(conn, case_ids, "MovementBooked") == Counter({c: 2 for c in case_ids})
        await check_fit_to_travel()

        sheet = {"records": [{"case_id": e["case_id"], "member_id": p["member_id"], "boarded": True}
                             for e in delayed["manifest"] for p in e["members"]]}
        boarded = await _ok(driver, "POST", f"/api/v1/movements/{mid}/boarding", json=sheet)
        again = await _ok(driver, "POST", f"/api/v1/movements/{mid}/boarding", json=sheet)
        assert again["version"] == boarded["version"]  # the same sheet again changes nothing

        body = {"departed_at": datetime.now(UTC).replace(microsecond=0).isoformat()}
        await _ok(driver, "POST", f"/api/v1/movements/{mid}/departure", json=body)
        at_departure = await _kill_mid_fan_out(deployment, conn, case_ids, "CaseDeparted")
        await _ok(driver, "POST", f"/api/v1/movements/{mid}/departure", json=body)  # sent again meanwhile
        departed = await _fan_out_done(deployment, driver, mid, case_ids)
        assert [e["departure"]["outcome"] for e in departed["manifest"]] == ["departed"] * CASES
        assert all(e["departure"]["applied"] for e in departed["manifest"])
        assert await _recorded(conn, case_ids, "CaseDeparted") == Counter({c: 1 for c in case_ids})

        arrival = {"arrived_on": datetime.now(ZoneInfo("Europe/Oslo")).date().isoformat(), "place": "Oslo"}
        await _ok(driver, "POST", f"/api/v1/movements/{mid}/arrival", json=arrival)
        at_arrival = await _kill_mid_fan_out(deployment, conn, case_ids, "ArrivalConfirmed")
        await _ok(driver, "POST", f"/api/v1/movements/{mid}/arrival", json=arrival)  # sent again meanwhile
        arrived = await _fan_out_done(deployment, driver, mid, case_ids)
        assert all(e["arrival"]["applied"] for e in arrived["manifest"]), arrived["manifest"]
        assert await _recorded(conn, case_ids, "ArrivalConfirmed") == Counter({c: 1 for c in case_ids})
        assert (await _ok(driver, "POST", f"/api/v1/movements/{mid}/arrival", json=arrival))["version"] == \
            arrived["version"]
        assert await _recorded(conn, case_ids, "ArrivalConfirmed") == Counter({c: 1 for c in case_ids})
        # itinera check: every case, and the movement against its read model and its cases.
        temporal = await connect_temporal(stack_settings(temporal_address=deployment.temporal.address,
                                                         temporal_task_queue=deployment.task_queue))
        checking = await connect(deployment.database_url)  # with the store's JSON codecs
        try:
            report = await wait_until_consistent(checking, temporal, case_ids, timeout=60, movement_ids=[mid])
        finally:
            await checking.close()
        assert report.clean and report.movements_checked == 1, [str(d) for d in report.differences]
        print(f"\nworker killed with {at_lock}/{CASES} bookings, {at_delay}/{CASES} delays, {at_departure}/{CASES} "
              f"departures and {at_arrival}/{CASES} arrivals recorded")
    await conn.close()


async def test_worker_killed_mid_release_of_held_cases_drops_each_booking_once(deployment: ProcessStack) -> None:
    """Cases on hold taken off a locked manifest (with one not on hold), the worker SIGKILLed as
    soon as a first booking is dropped: each case's booking is dropped once (the held ones by
    their CancelBooking, the other by its departure task, postponed), every release applied."""
    conn = await asyncpg.connect(deployment.database_url)
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=60) as http:
        driver = CaseDriver(http)
        await login_all(driver)
        cases = list(await asyncio.gather(*[_case_in_movement_stage(driver, _family(1)) for _ in range(5)]))
        case_ids = [c["case_id"] for c in cases]
        mid = (await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=9)))["movement_id"]
        await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_ids": case_ids})
        await _ok(driver, "POST", f"/api/v1/movements/{mid}/lock")
        await _fan_out_done(deployment, driver, mid, case_ids)
        for case_id in case_ids:
            detail = await _ok(driver, "GET", f"/api/v1/cases/{case_id}", "fatma")
            for task in [t for t in detail["open_tasks"] if t["task_type"] == "check_fit_to_travel"]:
                await driver.complete(task, "IST")
        held, free = case_ids[:3], case_ids[3]
        for case_id in held:
            await _ok(driver, "POST", f"/api/v1/cases/{case_id}/hold", "fatma", json={"reason": "Security check."})

        removals = asyncio.gather(*[_ok(driver, "POST", f"/api/v1/movements/{mid}/cases/{case_id}/remove",
                                        json={"reason": "Not travelling on this flight."})
                                    for case_id in [*held, free]])
        at_release = await _kill_mid_fan_out(deployment, conn, held, "BookingCancelled")
        await removals
        released = await _fan_out_done(deployment, driver, mid, case_ids)
        assert {r["case_id"]: r["release"]["applied"] for r in released["removed"]} == {c: True for c in [*held, free]}, \
            released["removed"]
        assert await _recorded(conn, held, "BookingCancelled") == Counter({c: 1 for c in held})
        assert await _recorded(conn, [*held, free], "MovementPostponed") == Counter({free: 1})
        for case_id in held:
            detail = await _ok(driver, "GET", f"/api/v1/cases/{case_id}", "fatma")
            assert detail["key_dates"]["departure_at"] is None
            assert [t["task_type"] for t in detail["open_tasks"]] == ["book_movement"]
        print(f"\nworker killed with {at_release}/{len(held)} held cases' bookings dropped")
    await conn.close()
