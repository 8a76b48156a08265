"""A supervisor reads the raw Temporal history of a case, payloads decoded; nobody else does."""

from __future__ import annotations

import httpx

from domain.model import Stage
from tests.support.driver import CaseDriver
from tests.support.factories import referral


async def test_a_supervisor_reads_the_raw_history_decoded(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.INTERVIEW)
    r = await http.get(f"/api/v1/cases/{case['case_id']}/workflow-history", headers=await driver.login("fatma"))
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["workflow_type"] == "ResettlementCase" and len(page["runs"]) == 1
    types = [e["event_type"] for e in page["events"]]
    assert types[0] == "WorkflowExecutionStarted"
    assert "WorkflowExecutionUpdateAccepted" in types and "ActivityTaskScheduled" in types
    assert [e["event_id"] for e in page["events"]] == list(range(1, len(types) + 1))
    # The refer update's input, decrypted by the payload codec: the referral as sent.
    accepted = next(e for e in page["events"] if e["event_type"] == "WorkflowExecutionUpdateAccepted")
    sent = accepted["attributes"]["acceptedRequest"]["input"]["args"]["payloads"][0]["value"]
    assert sent["referral"]["external_referral_id"] == case["external_referral_id"]
    assert sent["referral"]["members"][0]["full_name"] == "Amina Haddad"

    detail = (await http.get(f"/api/v1/cases/{case['case_id']}", headers=await driver.login("fatma"))).json()
    assert detail["temporal_web_url"].endswith(f"/workflows/{case['case_id']}")


async def test_the_raw_history_is_refused_to_a_caseworker_and_hidden_from_another_office(
        http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=1))
    r = await http.get(f"/api/v1/cases/{case['case_id']}/workflow-history", headers=await driver.login("ayse"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = await http.get(f"/api/v1/cases/{case['case_id']}/workflow-history", headers=await driver.login("ali"))
    assert r.status_code == 404
