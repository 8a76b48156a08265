"""A family split with the worker SIGKILLed as soon as the original case has recorded its
``CaseSplit`` (issue 13), on a deployment of real processes (tests/support/fault_stack.py):
the new case appears exactly once, with its members and one ``CaseSplitFrom``, and the client
retrying with the same Idempotency-Key gets the one answer.  Several families, so that kills
land on both sides of the new case's start; how many landed before it is printed."""

from __future__ import annotations

import asyncio
from typing import Any

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
from tests.test_case_split import _family_of_four

FAMILIES = 4


deployment = pytest.fixture(scope="module")(started_process_stack)  # real processes, one stack per module


async def _split_retrying(driver: CaseDriver, case_id: str, body: dict[str, Any], key: str) -> httpx.Response:
    """The client every integration should be: the same request, same key, again after a 503."""
    for _ in range(240):
        try:
            r = await driver.client.post(f"/api/v1/cases/{case_id}/split", json=body,
                                         headers=await driver.login("ayse") | {"Idempotency-Key": key})
        except httpx.TransportError:
            await asyncio.sleep(0.5)
            continue
        if r.status_code != 503:
            return r
        await asyncio.sleep(0.5)
    raise AssertionError(f"the split of {case_id} never answered")


async def _count(conn: asyncpg.Connection, case_id: str, event_type: str) -> int:
    return await conn.fetchval("SELECT count(*) FROM case_events WHERE case_id = $1 AND event_type = $2",
                               case_id, event_type)


async def test_worker_killed_after_the_split_is_recorded_one_new_case(deployment: ProcessStack) -> None:
    conn = await connect(deployment.database_url)
    temporal = await connect_temporal(stack_settings(temporal_address=deployment.temporal.address,
                                                     temporal_task_queue=deployment.task_queue))
    before_start = 0
    try:
        async with httpx.AsyncClient(base_url=deployment.base_url, timeout=60) as http:
            driver = CaseDriver(http)
            for family in range(FAMILIES):
                case = await driver.refer(_family_of_four())
                case_id = case["case_id"]
                m4 = case["members"][3]["member_id"]
                body = {"member_ids": [m4], "principal_member_id": m4, "reason": f"Fault test {family}."}
                sending = asyncio.create_task(_split_retrying(driver, case_id, body, f"fault-split-{case_id}"))

                async def recorded() -> bool:
                    return await _count(conn, case_id, "CaseSplit") > 0
                await eventually(recorded, timeout=60, interval=0.002, what=f"the CaseSplit of {case_id}")
                opened = await _count(conn, f"{case_id}-S1", "CaseSplitFrom")
                deployment.kill_worker()
                before_start += opened == 0
                deployment.start_worker()
                r = await sending
                assert r.status_code == 200, r.text
                assert r.json()["new_case"]["case_id"] == f"{case_id}-S1"
                assert [m["member_id"] for m in r.json()["new_case"]["members"]] == [m4]
                assert await _count(conn, case_id, "CaseSplit") == 1
                assert await _count(conn, f"{case_id}-S1", "CaseSplitFrom") == 1
                assert await conn.fetchval("SELECT count(*) FROM cases WHERE case_id LIKE $1", f"{case_id}-S%") == 1
                again = await _split_retrying(driver, case_id, body, f"fault-split-{case_id}")
                assert again.json()["new_case"]["case_id"] == f"{case_id}-S1"
                assert again.json()["case"]["version"] == r.json()["case"]["version"]
                report = await wait_until_consistent(conn, temporal, [case_id, f"{case_id}-S1"], timeout=60)
                assert report.clean, [str(d) for d in report.differences]
    finally:
        await conn.close()
    print(f"\n{before_start}/{FAMILIES} kills landed after CaseSplit and before the new case's CaseSplitFrom")
