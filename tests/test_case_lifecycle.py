"""A resettlement case from referral to closed, through the real HTTP API."""

from __future__ import annotations

import httpx

from tests.support.driver import CaseDriver
from tests.support.factories import referral


async def test_full_case_runs_from_referral_to_closed(driver: CaseDriver, http: httpx.AsyncClient) -> None:
    case = await driver.refer(referral(size=3))
    assert case["stage"] == "referral"
    assert [t["task_type"] for t in case["open_tasks"]] == ["verify_referral"]
    assert len(case["members"]) == 3

    seen_stages = [case["stage"]]
    while case["open_tasks"]:
        case = await driver.complete(case["open_tasks"][0], case["office"])
        if case["stage"] != seen_stages[-1]:
            seen_stages.append(case["stage"])

    assert seen_stages == ["referral", "interview", "health", "orientation", "visa", "movement", "arrival", "closed"]
    assert case["status"] == "closed"
    assert case["closure_reason"] == "arrived"
    assert all(m["health_status"] == "cleared" and m["visa_status"] == "issued" for m in case["members"])

    events = (await http.get(f"/api/v1/cases/{case['case_id']}/events", headers=await driver.login("ayse"))).json()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "CaseReferred" and events[-1]["type"] == "CaseClosed"
    assert {e["actor"]["id"] for e in events if e["type"] == "HealthAssessmentRecorded"} == {"selin"}
    assert case["version"] == len(events)


async def test_resettlement_to_a_country_of_nationality_is_refused(driver: CaseDriver, http: httpx.AsyncClient) -> None:
    """Resettlement is to a third country: a referral to a country a member is a national of is
    a 422 naming destination_country, and nothing is created."""
    headers = await driver.login("ayse")
    body = referral(size=2)
    body["destination_country"] = body["members"][1]["nationality"]
    r = await http.post("/api/v1/cases", json=body, headers=headers)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert [d["field"] for d in error["details"]] == ["body.destination_country"], error
    assert body["members"][1]["full_name"] in error["message"] and "third country" in error["message"]
    found = (await http.get("/api/v1/cases", params={"q": body["external_referral_id"]}, headers=headers)).json()
    assert found["items"] == []
