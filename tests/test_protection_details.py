"""Protection details (AVRR's vulnerability screening: a victim of trafficking, a minor alone,
medical needs) are for those who work with the person: caseworkers, medical officers and
supervisors.  A movement officer sees that a screening happened and whether the return needs
an escort, nowhere what was found (explore7 #5: the case page, its as_of view, the events, the
history and ``programme_data`` showed it all).  Through the real stack."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.browser import signed_in
from tests.support.driver import CaseDriver
from tests.support.stack import Stack
from tests.test_avrr import _day, _task, avrr_referral

SECRETS = ("victim_of_trafficking", "Escaped a trafficking ring", "Sold into forced labour")


async def _screened_case(driver: CaseDriver) -> dict[str, Any]:
    case = await driver.advance(await driver.refer(avrr_referral()), until="interview")
    case = await driver.complete(_task(case, "assess_eligibility"), "IST")
    return await driver.complete(_task(case, "screen_vulnerability"), "IST", form={
        "screened_on": _day(), "victim_of_trafficking": True, "escort_required": True,
        "other_vulnerability": "Escaped a trafficking ring", "notes": "Sold into forced labour"})


async def _reads(http: httpx.AsyncClient, driver: CaseDriver, user: str, case_id: str) -> dict[str, Any]:
    headers = await driver.login(user)
    reads = {}
    for name, path in (("case", f"/api/v1/cases/{case_id}"), ("events", f"/api/v1/cases/{case_id}/events"),
                       ("history", f"/api/v1/cases/{case_id}/history"),
                       ("as_of", f"/api/v1/cases/{case_id}?as_of=2999-01-01T00:00:00Z")):
        answer = await http.get(path, headers=headers)
        assert answer.status_code == 200, (name, answer.text)
        reads[name] = answer.json()
    return reads


async def test_a_movement_officer_sees_the_escort_not_the_vulnerabilities(stack: Stack, http: httpx.AsyncClient,
                                                                          driver: CaseDriver) -> None:
    case = await _screened_case(driver)
    case_id = case["case_id"]

    emre = await _reads(http, driver, "emre", case_id)
    assert "vulnerabilities" not in emre["case"]["programme_data"]
    assert "vulnerabilities" not in emre["as_of"]["programme_data"]
    assert emre["case"]["avrr"]["escort_required"] is True  # what the travel needs is shown
    screening = next(e for e in emre["events"] if e["type"] == "VulnerabilityScreened")
    assert set(screening["data"]) <= {"task_id", "member_id", "screened_on", "escort_required"}
    assert screening["data"]["escort_required"] is True
    raised = next(e for e in emre["events"] if e["type"] == "PriorityRaised")
    assert "reason" not in raised["data"] and raised["data"]["priority"] == "emergency"
    for name, body in emre.items():
        text = str(body)
        assert not any(secret in text for secret in SECRETS), (name, text[:2000])
    async with signed_in(stack, "emre") as page:
        shown = (await page.get(f"/ui/cases/{case_id}")).text
        assert not any(secret in shown for secret in SECRETS)
        # the notice names what is withheld and from whom (it said "Health details", explore8 #7)
        assert "Protection details are withheld" in shown
        then = (await page.get(f"/ui/cases/{case_id}?as_of=2999-01-01T00:00")).text
        assert "Screen vulnerability" in then or "VulnerabilityScreened" in then or "ulnerab" in then
        assert not any(secret in then for secret in SECRETS)

    for reader in ("ayse", "fatma"):  # the caseworker who works the return, the supervisor
        reads = await _reads(http, driver, reader, case_id)
        assert "victim_of_trafficking" in reads["case"]["programme_data"]["vulnerabilities"]
        screening = next(e for e in reads["events"] if e["type"] == "VulnerabilityScreened")
        assert screening["data"]["notes"] == "Sold into forced labour"
        assert "victim_of_trafficking" in next(e for e in reads["events"] if e["type"] == "PriorityRaised")[
            "data"]["reason"]
    async with signed_in(stack, "ayse") as page:
        assert "Sold into forced labour" in (await page.get(f"/ui/cases/{case_id}")).text
