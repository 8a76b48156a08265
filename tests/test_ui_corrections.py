"""The case page's correction form refuses what is too long, as the API does, and changes
nothing (a tester's 250-character name was cut mid-word, recorded, and "The correction is
recorded" shown)."""

from __future__ import annotations

from tests.support.browser import signed_in
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.pages import Page
from tests.support.stack import Stack


async def test_a_too_long_correction_is_refused_not_cut(driver: CaseDriver, stack: Stack) -> None:
    case = await driver.refer(referral(size=2))
    child = case["members"][1]
    url = f"/ui/cases/{case['case_id']}"
    async with signed_in(stack, "ayse") as ayse:
        page = Page((await ayse.get(url)).text)
        for value, reason, said in (("Rima " + "N" * 250, "Passport spelling", "The new value is 255 characters"),
                                    ("Rima Haddad", "R" * 2500, "The reason is 2500 characters")):
            answer = await ayse.post(f"{url}/correction", data={
                "csrf_token": page.csrf, "member_id": child["member_id"], "field": "full_name", "value": value,
                "reason": reason})
            assert answer.status_code == 200 and said in Page(answer.text).body_text, Page(answer.text).body_text
            page = Page(answer.text)
    detail = (await driver.client.get(f"/api/v1/cases/{case['case_id']}", headers=await driver.login("ayse"))).json()
    assert [m["full_name"] for m in detail["members"]] == [m["full_name"] for m in case["members"]]
    assert detail["version"] == case["version"]
