"""Destructive actions ask first (issue 17): recording a withdrawal of consent (AVRR) and a
decision that closes a case say what will happen, and nothing changes until confirmed; going
back keeps what was typed.  The case is read back through the JSON API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from domain.model import Stage
from domain.offices import local_date
from tests.support.browser import signed_in
from tests.support.driver import CaseDriver
from tests.support.factories import member, referral
from tests.support.pages import Page
from tests.support.stack import Stack


async def _case(http: httpx.AsyncClient, driver: CaseDriver, case_id: str) -> dict[str, Any]:
    return (await http.get(f"/api/v1/cases/{case_id}", headers=await driver.login("fatma"))).json()


def _hidden(page: Page, form_id: str) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in page.find("input", type="hidden") if form_id in e["within"]}


async def test_a_withdrawal_of_consent_is_confirmed_before_the_case_closes(
        stack: Stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    body = referral(programme="avrr", destination_country=None, origin_country="IQ") | {
        "members": [member("Karwan Aziz", "1991-02-17", "principal", sex="male", nationality="IQ")]}
    case = await driver.advance(await driver.refer(body), until=Stage.VISA)
    url = f"/ui/cases/{case['case_id']}/consent-withdrawal"
    today = local_date(datetime.now(UTC), "Europe/Istanbul").isoformat()  # the office's: not before the referral
    async with signed_in(stack, "ayse") as ayse:
        page = Page((await ayse.get(f"/ui/cases/{case['case_id']}")).text)
        assert any(a.get("href") == url for a in page.find("a"))
        page = Page((await ayse.get(url)).text)
        assert page.field("language")["tag"] == "select" and ("ku", False) in page.options("field-language")
        typed = {"csrf_token": page.csrf, "withdrawn_by": "Karwan Aziz", "withdrawn_on": today, "language": "ku",
                 "reason": "Found work in Istanbul; wants to stay."}
        # A day the case would refuse is said before the confirmation (explore9 F17), not after it.
        early = (local_date(datetime.now(UTC), "Europe/Istanbul") - timedelta(days=1)).isoformat()
        refused = await ayse.post(url, data=typed | {"withdrawn_on": early})
        assert refused.status_code == 422 and "must not be before the case was referred" in refused.text
        assert "cannot be undone" not in refused.text
        asked = Page((await ayse.post(url, data=typed)).text)
        what = asked.text(asked.one("section", **{"aria-labelledby": "what-happens"}))
        assert "The case closes at once" in what and "cannot be undone" in what and "Kurdish" in what
        assert (await _case(http, driver, case["case_id"]))["status"] == "active"  # nothing yet

        back = Page((await ayse.post(url, data=_hidden(asked, "confirm-consent") | {"_back": "yes"})).text)
        assert back.field("withdrawn_by")["value"] == "Karwan Aziz"  # what was typed is kept
        assert (await _case(http, driver, case["case_id"]))["status"] == "active"

        done = await ayse.post(url, data=_hidden(asked, "confirm-consent"))
        assert done.url.path == f"/ui/cases/{case['case_id']}"
        assert "case is closed" in Page(done.text).body_text
    after = await _case(http, driver, case["case_id"])
    assert after["status"] == "closed" and after["avrr"]["consent_status"] == "withdrawn"


async def test_a_resettlement_case_takes_no_withdrawal_of_consent(stack: Stack, driver: CaseDriver) -> None:
    case = await driver.refer(referral())
    async with signed_in(stack, "ayse") as ayse:
        page = Page((await ayse.get(f"/ui/cases/{case['case_id']}")).text)
        assert not any("consent-withdrawal" in a.get("href", "") for a in page.find("a"))
        assert (await ayse.get(f"/ui/cases/{case['case_id']}/consent-withdrawal")).status_code == 409


async def test_a_decision_that_closes_the_case_asks_first(
        stack: Stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.INTERVIEW)
    interview = next(t for t in case["open_tasks"] if t["task_type"] == "conduct_interview")
    case = await driver.complete(interview, "IST", form={
        "interview_date": datetime.now(UTC).date().isoformat(), "outcome": "rejected",
        "rejection_reason": "Exclusion clause applies."})
    review = next(t for t in case["open_tasks"] if t["task_type"] == "review_outcome")
    url = f"/ui/tasks/{review['task_id']}"
    async with signed_in(stack, "fatma") as fatma:
        page = Page((await fatma.get(url)).text)
        asked = Page((await fatma.post(url, data={"csrf_token": page.csrf, "decision": "close",
                                                  "reason": "No other option."})).text)
        assert asked.text(asked.one("h1")) == "Close this case?"
        assert "cannot be undone" in asked.body_text
        assert (await _case(http, driver, case["case_id"]))["status"] == "active"
        back = Page((await fatma.post(url, data=_hidden(asked, "confirm-close") | {"_back": "yes"})).text)
        reason = next(e for e in back.elements if e.get("name") == "reason" and "task-form" in e["within"])
        assert Page.text(reason) == "No other option."  # what was typed is kept
        done = await fatma.post(url, data=_hidden(asked, "confirm-close"))
        assert done.url.path == f"/ui/cases/{case['case_id']}"
    after = await _case(http, driver, case["case_id"])
    assert (after["status"], after["closure_reason"]) == ("closed", "not_accepted")
