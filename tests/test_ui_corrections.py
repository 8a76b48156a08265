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


async def test_a_correction_is_typed_in_words_not_codes(driver: CaseDriver, stack: Stack) -> None:
    """explore9 F22: "Syria", "Female", "12/07/2014" were refused with a validator's sentence
    (twice); they are what a caseworker types.  A value no rule can read is still refused."""
    case = await driver.refer(referral(size=2))
    child = case["members"][1]
    url = f"/ui/cases/{case['case_id']}"
    async with signed_in(stack, "ayse") as ayse:
        for field, typed in (("nationality", "Iraq"), ("sex", "Female"), ("date_of_birth", "12/07/2014")):
            page = Page((await ayse.get(url)).text)
            answer = await ayse.post(f"{url}/correction", data={
                "csrf_token": page.csrf, "member_id": child["member_id"], "field": field, "value": typed,
                "reason": "Seen on the birth certificate."})
            assert "The correction is recorded" in Page(answer.text).body_text, (field, Page(answer.text).body_text)
        page = Page((await ayse.get(url)).text)
        refused = Page((await ayse.post(f"{url}/correction", data={
            "csrf_token": page.csrf, "member_id": child["member_id"], "field": "nationality", "value": "Atlantis",
            "reason": "?"})).text).body_text
        assert "ATLANTIS" in refused and refused.count("is not an ISO 3166-1 alpha-2 country code") == 1, refused
    detail = (await driver.client.get(f"/api/v1/cases/{case['case_id']}", headers=await driver.login("ayse"))).json()
    corrected = detail["members"][1]
    assert (corrected["nationality"], corrected["sex"], corrected["date_of_birth"]) == ("IQ", "female", "2014-07-12")
