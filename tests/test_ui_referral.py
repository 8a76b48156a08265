"""Referring a family from the UI (issue 17): the form generated from the Referral's JSON Schema,
members added and removed as rows, countries chosen by name, errors in plain words next to their
fields, and the new case's page at the end.  Driven over real HTTP like a browser; what was
referred is read back through the JSON API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.support.browser import signed_in
from tests.support.driver import CaseDriver
from tests.support.pages import Page
from tests.support.stack import Stack


def _posted(page: Page) -> dict[str, str]:
    """What the browser would send back for the form as shown: every control's current value."""
    data: dict[str, str] = {}
    for e in page.elements:
        if e["tag"] == "input" and e.get("name") and e.get("type") not in ("checkbox", "submit"):
            data[e["name"]] = e.get("value", "")
        elif e["tag"] == "select" and e.get("name"):
            chosen = [o for o in page.elements if o["tag"] == "option" and e.get("id") in o["within"] and "selected" in o]
            data[e["name"]] = chosen[0].get("value", "") if chosen else ""
    return data


async def _post(client: httpx.AsyncClient, page: Page, **values: str) -> httpx.Response:
    return await client.post("/ui/refer", data=_posted(page) | values)


async def test_a_caseworker_refers_a_family_adding_and_removing_members(
        stack: Stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    referral_id = f"UNHCR-UI-{uuid.uuid4().hex[:10].upper()}"
    async with signed_in(stack, "ayse") as ayse:
        home = Page((await ayse.get("/ui")).text)
        assert any(a.get("href") == "/ui/refer" for a in home.find("a"))
        page = Page((await ayse.get("/ui/refer")).text)
        # one member row to start with; the country is a list of names, the office one of hers
        assert page.controls("referral-form").count("members-0-full_name") == 1
        assert ("SY", False) in page.options("field-members-0-nationality")
        syria = [o for o in page.find("option") if o.get("value") == "SY" and "field-members-0-nationality" in o["within"]]
        assert Page.text(syria[0]) == "Syria"
        assert page.field("office")["tag"] == "select" and page.options("field-office") == [("IST", True)]
        assert "ISO 3166" not in page.body_text and "U+2028" not in page.body_text

        # two more rows, then the middle one removed: what was typed in the others stays
        page = Page((await _post(ayse, page, _add="members", **{
            "members-0-full_name": "Leyla Karimi", "members-0-date_of_birth": "1990-04-02",
            "members-0-sex": "female", "members-0-nationality": "AF", "members-0-relationship": "principal"})).text)
        page = Page((await _post(ayse, page, _add="members", **{"members-1-full_name": "To be removed"})).text)
        assert {n for n in page.controls("referral-form") if n.startswith("members-") and n.endswith("full_name")} == {
            "members-0-full_name", "members-1-full_name", "members-2-full_name"}
        page = Page((await _post(ayse, page, _remove="members-1", **{
            "members-2-full_name": "Omid Karimi", "members-2-date_of_birth": "2016-09-30",
            "members-2-sex": "male", "members-2-nationality": "AF", "members-2-relationship": "child"})).text)
        assert page.field("members-0-full_name")["value"] == "Leyla Karimi"
        assert page.field("members-1-full_name")["value"] == "Omid Karimi"
        assert not page.find("input", name="members-2-full_name")

        # submitted without a destination and with a date in the wrong form: plain words, next to the fields
        refused = await _post(ayse, page, external_referral_id=referral_id, programme="resettlement",
                              **{"members-1-date_of_birth": "30/09/2016", "members-1-full_name": ""})
        assert refused.status_code == 422
        page = Page(refused.text)
        errors = {name: page.field_error(name) for name in ("members-1-full_name", "members-1-date_of_birth")}
        assert errors["members-1-full_name"].endswith("Please fill this in.")
        assert "Enter a date" in errors["members-1-date_of_birth"]
        summary = page.text(page.one("div", class_="error-summary"))
        assert "Member 2: Full name" in summary
        assert "Field required" not in page.body_text and "should match pattern" not in page.body_text
        assert page.field("members-0-full_name")["value"] == "Leyla Karimi"  # nothing typed is lost

        done = await _post(ayse, page, external_referral_id=referral_id, programme="resettlement",
                           destination_country="CA", **{"members-1-full_name": "Omid Karimi",
                                                        "members-1-date_of_birth": "2016-09-30"})
        assert done.status_code == 200 and done.url.path.startswith("/ui/cases/")
        case_id = done.url.path.rsplit("/", 1)[1]
        assert "Case referred" in Page(done.text).body_text

    case: dict[str, Any] = (await http.get(f"/api/v1/cases/{case_id}", headers=await driver.login("fatma"))).json()
    assert case["external_referral_id"] == referral_id
    assert sorted((m["full_name"], m["relationship"], m["nationality"]) for m in case["members"]) == [
        ("Leyla Karimi", "principal", "AF"), ("Omid Karimi", "child", "AF")]


async def test_an_avrr_referral_needs_its_country_of_return(stack: Stack) -> None:
    async with signed_in(stack, "fatma") as fatma:
        page = Page((await fatma.get("/ui/refer")).text)
        legends = [Page.text(e) for e in page.find("legend")]
        assert "If the programme is AVRR" in legends and "If the programme is Resettlement or Family reunification" in legends
        label = Page.text(next(e for e in page.find("label") if e.get("for") == "field-origin_country"))
        assert "(required)" in label and "(optional)" not in label
        refused = await _post(fatma, page, programme="avrr", external_referral_id=f"iom-ui-{uuid.uuid4().hex[:8]}",
                              **{"members-0-full_name": "Karwan Aziz", "members-0-date_of_birth": "1991-02-17",
                                 "members-0-sex": "male", "members-0-nationality": "IQ",
                                 "members-0-relationship": "principal"})
        assert refused.status_code == 422
        assert "Origin country is required for AVRR" in Page(refused.text).body_text


async def test_a_medical_officer_may_not_refer(stack: Stack) -> None:
    async with signed_in(stack, "selin") as selin:
        assert (await selin.get("/ui/refer")).status_code == 403
        home = Page((await selin.get("/ui")).text)
        assert not any(a.get("href") == "/ui/refer" for a in home.find("a"))


async def test_a_caseworker_refers_a_family_joining_its_sponsor(stack: Stack, http: httpx.AsyncClient,
                                                                  driver: CaseDriver) -> None:
    """Family reunification's sponsor is an object: its fields are one group of the form (not
    one text box), sent only when that programme is chosen; a missing sponsor field is named
    next to it."""
    referral_id = f"FAP-UI-{uuid.uuid4().hex[:10].upper()}"
    async with signed_in(stack, "ayse") as ayse:
        page = Page((await ayse.get("/ui/refer")).text)
        controls = page.controls("referral-form")
        assert {"sponsor-0-full_name", "sponsor-0-protection_status", "sponsor-0-city"} <= set(controls)
        assert "sponsor" not in controls
        # Shown for family reunification only: without JavaScript the browser must not require
        # the sponsor's fields of a resettlement referral (ui.js requires them when chosen).
        sponsor_name = page.field("sponsor-0-full_name")
        assert "required" not in sponsor_name and "data-required" in sponsor_name
        family = {"external_referral_id": referral_id, "programme": "family_reunification",
                  "destination_country": "DE",
                  "members-0-full_name": "Lina Haddad", "members-0-date_of_birth": "1991-03-02",
                  "members-0-sex": "female", "members-0-nationality": "SY", "members-0-relationship": "spouse",
                  "sponsor-0-full_name": "Yusuf Haddad", "sponsor-0-protection_status": "refugee",
                  "sponsor-0-residence_permit": "DE-BER-AT-2025-118402", "sponsor-0-city": "Berlin"}
        refused = await _post(ayse, page, **family)
        assert refused.status_code == 422, refused.text[:2000]
        assert Page(refused.text).field_error("sponsor-0-contact")  # named next to the sponsor's field
        done = await _post(ayse, Page(refused.text), **family, **{"sponsor-0-contact": "+49 30 1234567"})
        assert done.status_code == 200 and done.url.path.startswith("/ui/cases/"), Page(done.text).body_text[:2500]
    case_id = done.url.path.rsplit("/", 1)[-1]
    case = (await http.get(f"/api/v1/cases/{case_id}", headers=await driver.login("ayse"))).json()
    assert case["programme"] == "family_reunification"
    assert case["programme_data"]["sponsor"]["full_name"] == "Yusuf Haddad"
    assert case["programme_data"]["sponsor"]["city"] == "Berlin"
