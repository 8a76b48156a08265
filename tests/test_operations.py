"""Cases whose workflow is in trouble are listed with the error, not found in the logs."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.waiting import eventually


async def _troubles(http: httpx.AsyncClient, driver: CaseDriver, user: str = "fatma") -> list[dict]:
    r = await http.get("/api/v1/operations/troubled-cases", headers=await driver.login(user))
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_late_clock_and_a_recording_that_keeps_failing_are_listed(stack, http: httpx.AsyncClient,
                                                                          driver: CaseDriver) -> None:
    late = await driver.refer(referral(size=1))
    owner = await asyncpg.connect(stack.database_url)
    try:
        # The case's clock did not fire: its task is past due (by more than the slack) and not overdue.
        await owner.execute("UPDATE tasks SET due_at = now() - interval '1 hour' WHERE case_id = $1", late["case_id"])
        [trouble] = [t for t in await _troubles(http, driver) if t["case_id"] == late["case_id"]]
        assert trouble["kind"] == "clock_late" and "not marked overdue" in trouble["error"]
        assert [t for t in await _troubles(http, driver, "ali") if t["case_id"] == late["case_id"]] == []

        # The recording cannot write: PostgreSQL holds the case's row locked, every attempt times out.
        stuck = await driver.refer(referral(size=1))
        async with owner.transaction():
            await owner.execute("SELECT 1 FROM cases WHERE case_id = $1 FOR UPDATE", stuck["case_id"])
            note = asyncio.create_task(http.post(f"/api/v1/cases/{stuck['case_id']}/notes",
                                                 headers=await driver.login("ayse"), json={"text": "A note."}))

            async def retrying() -> bool:
                return any(t["case_id"] == stuck["case_id"] and t["kind"] == "recording_retrying"
                           for t in await _troubles(http, driver))

            await eventually(retrying, timeout=90, interval=1, what="the recording listed as retrying")
        await note  # applied once the lock is gone: delayed, not lost
        await eventually(lambda: _gone(http, driver, stuck["case_id"]), timeout=60, interval=1,
                         what="the case out of the list once it recorded")
    finally:
        await owner.close()


async def _gone(http: httpx.AsyncClient, driver: CaseDriver, case_id: str) -> bool:
    return not any(t["case_id"] == case_id for t in await _troubles(http, driver))


async def test_only_supervisors_see_the_cases_in_trouble(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    r = await http.get("/api/v1/operations/troubled-cases", headers=await driver.login("ayse"))
    assert r.status_code == 403
