"""The audit trail: reads and changes, allowed and denied, readable by the office's supervisors only."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from tests.support.driver import CaseDriver
from tests.support.factories import referral


async def test_reads_and_changes_are_audited_allowed_and_denied(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(referral())
    case_id = case["case_id"]
    await http.get(f"/api/v1/cases/{case_id}", headers=await driver.login("ayse"))
    await http.get(f"/api/v1/cases/{case_id}/events", headers=await driver.login("mehmet"))  # other office
    await http.get(f"/api/v1/cases/{case_id}")  # no token
    await driver.complete(case["open_tasks"][0], "IST")

    trail = (await http.get("/api/v1/audit", params={"case_id": case_id}, headers=await driver.login("fatma"))).json()
    seen = {(e["actor_id"], e["action"], e["outcome"]) for e in trail}
    assert ("ayse", "POST /api/v1/cases", "allowed") in seen
    assert ("ayse", "GET /api/v1/cases/{case_id}", "allowed") in seen
    assert ("mehmet", "GET /api/v1/cases/{case_id}/events", "denied") in seen
    assert ("anonymous", "GET /api/v1/cases/{case_id}", "denied") in seen
    assert ("ayse", "POST /api/v1/tasks/{task_id}/complete", "allowed") in seen
    entry = next(e for e in trail if e["actor_id"] == "mehmet")
    assert entry["office"] == "IST" and entry["actor_role"] == "caseworker" and entry["source_ip"] == "127.0.0.1"
    assert entry["status"] == 404


async def test_only_the_offices_supervisors_read_its_trail(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(referral())
    assert (await http.get("/api/v1/audit", headers=await driver.login("ayse"))).status_code == 403
    izmir = (await http.get("/api/v1/audit", params={"case_id": case["case_id"]},
                            headers=await driver.login("ali"))).json()
    assert izmir == []  # Izmir's supervisor does not see Istanbul's case trail


async def test_audit_rows_cannot_be_changed_or_deleted(stack) -> None:
    async with stack.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM audit_log") > 0
        for statement in ("UPDATE audit_log SET actor_id = 'nobody'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute(statement)


async def test_auditing_never_starves_requests_of_connections(stack, http: httpx.AsyncClient,
                                                              driver: CaseDriver) -> None:
    """Audit rows are written after the route answered, while its connection may still be
    held: with their own pool, many more requests than connections still all finish."""
    import asyncio

    headers = await driver.login("ayse")
    answers = await asyncio.wait_for(asyncio.gather(*(
        http.get("/api/v1/tasks", headers=headers) for _ in range(stack.settings.database_pool_max * 4))), timeout=60)
    assert {a.status_code for a in answers} == {200}
