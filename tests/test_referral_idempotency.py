"""The same referral twice is the same case; a different referral under the same id is refused."""

from __future__ import annotations

import asyncio

import httpx

from tests.support.driver import CaseDriver
from tests.support.factories import referral


async def test_same_referral_twice_gives_the_same_case(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    body = referral()
    headers = await driver.login("ayse")
    first = await http.post("/api/v1/cases", json=body, headers=headers)
    second = await http.post("/api/v1/cases", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["case_id"] == second.json()["case_id"]
    assert second.json()["version"] == first.json()["version"]  # nothing new was recorded


async def test_concurrent_identical_referrals_open_one_case(stack, http: httpx.AsyncClient,
                                                            driver: CaseDriver) -> None:
    body = referral()
    headers = await driver.login("ayse")
    answers = await asyncio.gather(*(http.post("/api/v1/cases", json=body, headers=headers) for _ in range(5)))
    assert all(a.status_code in (200, 201) for a in answers)
    assert [a.status_code for a in answers].count(201) == 1
    assert len({a.json()["case_id"] for a in answers}) == 1
    async with stack.pool.acquire() as conn:
        rows = await conn.fetchval("SELECT count(*) FROM cases WHERE external_referral_id = $1",
                                   body["external_referral_id"])
        referred = await conn.fetchval(
            "SELECT count(*) FROM case_events WHERE case_id = $1 AND event_type = 'CaseReferred'",
            answers[0].json()["case_id"])
    assert (rows, referred) == (1, 1)


async def test_different_data_under_the_same_referral_id_is_409(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    body = referral()
    headers = await driver.login("ayse")
    first = await http.post("/api/v1/cases", json=body, headers=headers)
    changed = {**body, "priority": "emergency"}
    again = await http.post("/api/v1/cases", json=changed, headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "referral_conflict"
    assert first.json()["case_id"] in again.json()["error"]["message"]
    case = (await http.get(f"/api/v1/cases/{first.json()['case_id']}", headers=headers)).json()
    assert case["priority"] == "normal" and case["version"] == first.json()["version"]  # the first referral stands


async def test_workflow_refuses_a_conflicting_referral(stack, driver: CaseDriver) -> None:
    """Below the read model's fast path, the workflow itself tells a resend from a conflict."""
    import pytest

    from api.commands import CaseCommands
    from api.errors import ApiError
    from domain.model import Actor, Referral

    body = referral()
    await driver.refer(body)
    from api.case_ids import case_id_key

    commands = CaseCommands(stack.temporal, stack.settings.temporal_task_queue, case_id_key=case_id_key(stack.settings))
    actor = Actor(id="ayse", role="caseworker")
    same = await commands.refer(Referral.model_validate(body), actor)
    assert same.created is False
    with pytest.raises(ApiError) as conflict:
        await commands.refer(Referral.model_validate({**body, "priority": "urgent"}), actor)
    assert (conflict.value.status, conflict.value.code) == (409, "referral_conflict")
