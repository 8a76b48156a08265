"""``Prefer: respond-async`` on ``POST /api/v1/cases``: 202 once the case's workflow has accepted
the referral, the case readable once recorded; refusals and resends as without the header."""

from __future__ import annotations

import asyncio

import httpx

from tests.support.driver import CaseDriver
from tests.support.factories import referral

ASYNC = {"Prefer": "respond-async"}


async def _recorded(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> httpx.Response:
    for _ in range(500):
        got = await http.get(url, headers=headers)
        if got.status_code == 200:
            return got
        assert got.status_code == 404
        await asyncio.sleep(0.02)
    raise AssertionError(f"{url} not recorded in 10 s")


async def test_async_referral_is_accepted_then_recorded_once_and_audited(stack, http: httpx.AsyncClient,
                                                                        driver: CaseDriver) -> None:
    body = referral()
    headers = await driver.login("ayse")
    accepted = await http.post("/api/v1/cases", json=body, headers={**headers, **ASYNC})
    assert accepted.status_code == 202, accepted.text
    answer = accepted.json()
    assert answer["status"] == "accepted" and answer["case_url"] == f"/api/v1/cases/{answer['case_id']}"
    assert accepted.headers["location"] == answer["case_url"]
    assert accepted.headers["preference-applied"] == "respond-async"

    case = (await _recorded(http, answer["case_url"], headers)).json()
    assert case["stage"] == "referral" and case["open_tasks"]
    # Sent again (with or without the header): the same case, nothing recorded twice.
    again = await http.post("/api/v1/cases", json=body, headers={**headers, **ASYNC})
    assert again.status_code == 200 and again.json()["case_id"] == answer["case_id"]
    assert again.json()["version"] == case["version"]
    async with stack.pool.acquire() as conn:
        referred = await conn.fetchval("SELECT count(*) FROM case_events WHERE case_id = $1 "
                                       "AND event_type = 'CaseReferred'", answer["case_id"])
        audit = await conn.fetch("SELECT status, outcome FROM audit_log WHERE case_id = $1 "
                                 "AND action = 'POST /api/v1/cases' ORDER BY id", answer["case_id"])
    assert referred == 1
    # the request that was answered 202 has its own audit row, written before the answer
    assert [(r["status"], r["outcome"]) for r in audit][:1] == [(202, "allowed")]


async def test_async_referral_refused_by_the_rules_is_refused_at_once(http: httpx.AsyncClient,
                                                                     driver: CaseDriver) -> None:
    headers = await driver.login("ayse")
    other_office = referral(office="IZM")  # ayse works in Istanbul
    refused = await http.post("/api/v1/cases", json=other_office, headers={**headers, **ASYNC})
    assert refused.status_code == 403
    invalid = referral()
    invalid["members"][0]["date_of_birth"] = "2999-01-01"
    bad = await http.post("/api/v1/cases", json=invalid, headers={**headers, **ASYNC})
    assert bad.status_code == 422 and "date_of_birth" in bad.text
    # nothing was started for either
    for body in (other_office, invalid):
        assert (await http.get("/api/v1/cases", params={"q": body["external_referral_id"]},
                               headers=headers)).json()["items"] == []


async def test_other_preferences_keep_the_synchronous_answer(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    headers = await driver.login("ayse")
    sync = await http.post("/api/v1/cases", json=referral(), headers={**headers, "Prefer": "return=minimal"})
    assert sync.status_code == 201 and sync.json()["version"] >= 1
    listed = await http.post("/api/v1/cases", json=referral(),
                             headers={**headers, "Prefer": "handling=lenient, RESPOND-ASYNC; wait=5"})
    assert listed.status_code == 202
