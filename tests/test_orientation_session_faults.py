"""An orientation session's attendance fanned out with the worker SIGKILLed half-way (issue 15):
every attendee's orientation is recorded on their case exactly once, on a deployment of real
processes (tests/support/fault_stack.py); the same attendance recorded again meanwhile and
afterwards changes nothing."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from domain.model import Stage
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.fault_stack import ProcessStack, started_process_stack
from tests.support.waiting import eventually

CASES = 8


deployment = pytest.fixture(scope="module")(started_process_stack)  # real processes, one stack per module


async def _recorded(conn: asyncpg.Connection, case_ids: list[str]) -> Counter[str]:
    rows = await conn.fetch("SELECT payload->>'member_id' AS member_id FROM case_events "
                            "WHERE case_id = ANY($1::text[]) AND event_type = 'OrientationAttended'", case_ids)
    return Counter(r["member_id"] for r in rows)


async def _ok(driver: CaseDriver, method: str, path: str, username: str = "ayse", **kwargs: Any) -> dict[str, Any]:
    for _ in range(120):  # the API answers 503 while the engine is away: the same request again
        r = await driver.client.request(method, path, headers=await driver.login(username), **kwargs)
        if r.status_code != 503:
            break
        await asyncio.sleep(0.5)
    assert r.status_code < 300, f"{method} {path} -> {r.status_code}: {r.text}"
    return r.json()


async def test_worker_killed_mid_fan_out_every_attendee_once(deployment: ProcessStack) -> None:
    conn = await asyncpg.connect(deployment.database_url)
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=60) as http:
        driver = CaseDriver(http)
        for username in ("ayse", "selin", "fatma"):
            await driver.login(username)

        async def in_orientation(size: int) -> dict[str, Any]:
            case = await driver.refer(referral(office="IST", size=size, destination_country="NO"), "ayse")
            return await driver.advance(case, until=Stage.ORIENTATION)
        cases = list(await asyncio.gather(*[in_orientation(1 + i % 4) for i in range(CASES)]))
        case_ids = [c["case_id"] for c in cases]
        members = [m["member_id"] for c in cases for m in c["members"]]
        starts = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
        session = await _ok(driver, "POST", "/api/v1/orientation-sessions", json={
            "starts_at": starts.isoformat(), "mode": "in_person", "place": "IOM Istanbul", "language": "ar",
            "destination_country": "NO", "capacity": len(members), "facilitator": "Leyla Osman", "office": "IST"})
        sid = session["session_id"]
        await _ok(driver, "POST", f"/api/v1/orientation-sessions/{sid}/participants",
                  json={"participants": [{"case_id": case_id} for case_id in case_ids]})

        form = {"attendance": [{"member_id": m, "attended": True} for m in members]}
        await _ok(driver, "POST", f"/api/v1/orientation-sessions/{sid}/attendance", json=form)
        reached: list[int] = []

        async def started() -> bool:
            reached.append(sum((await _recorded(conn, case_ids)).values()))
            return reached[-1] > 0
        await eventually(started, timeout=60, interval=0.005, what="a first OrientationAttended")
        deployment.kill_worker()
        deployment.start_worker()
        await _ok(driver, "POST", f"/api/v1/orientation-sessions/{sid}/attendance", json=form)  # sent again meanwhile

        seen: dict[str, Any] = {}

        async def done() -> bool:
            seen.update(await _ok(driver, "GET", f"/api/v1/orientation-sessions/{sid}"))
            return seen["fan_out"]["pending"] == 0
        try:
            await eventually(done, timeout=180, interval=0.3,
                             what=lambda: f"the fan-out of {sid}: {seen.get('fan_out')}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{await deployment.diagnose(sid, *case_ids)}") from None
        assert seen["fan_out"] == {"pending": 0, "applied": len(members), "not_applied": 0}, seen["fan_out"]
        assert await _recorded(conn, case_ids) == Counter({m: 1 for m in members})
        again = await _ok(driver, "POST", f"/api/v1/orientation-sessions/{sid}/attendance", json=form)
        assert again["version"] == seen["version"]
        for case_id in case_ids:
            assert (await _ok(driver, "GET", f"/api/v1/cases/{case_id}", "fatma"))["stage"] == "visa"
        assert await _recorded(conn, case_ids) == Counter({m: 1 for m in members})
        print(f"\nworker killed with {reached[-1]}/{len(members)} attendees' orientation recorded")
    await conn.close()
