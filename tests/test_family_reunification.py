"""Family reunification (issue 15): a family abroad joins its sponsor in Germany, through the
HTTP API (the incomplete-documents gate, a missed embassy appointment booked again), a child
turning 18 before the visa decision flagged on the time-skipping server, the referral's
eligibility rules as 422s naming the field, and a task form of the programme in the UI."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from demo.cases import FAMILY_DEMO_CASES, seed_family_demo
from domain.offices import local_date
from domain.programmes.family_reunification.state import birthday
from tests.support.browser import signed_in
from tests.support.clocks import Clock, ClockCase
from tests.support.driver import CaseDriver
from tests.support.factories import member, referral
from tests.support.pages import Page
from tests.support.stack import Stack

SPONSOR = {"full_name": "Yusuf Haddad", "protection_status": "subsidiary_protection",
           "residence_permit": "DE-BER-AT-2025-118402", "city": "Berlin", "contact": "+49 30 1234567"}


def _born(today: date, years: int, days: int = 0) -> str:
    """The date of birth of someone who turns ``years`` ``days`` after ``today``."""
    return (birthday(today + timedelta(days=days), -years)).isoformat()


def family(today: date | None = None, **overrides: Any) -> dict[str, Any]:
    """A wife and two children joining Yusuf Haddad in Berlin."""
    today = today or datetime.now(UTC).date()
    members = [member("Lina Haddad", _born(today, 35), "spouse"),
               member("Sami Haddad", _born(today, 10), "child", sex="male"),
               member("Reem Haddad", _born(today, 7), "child")]
    return referral(**{"programme": "family_reunification", "destination_country": "DE", "sponsor": SPONSOR,
                       "members": members, **overrides})


def _day(n: int = 0) -> str:
    """A day counted from today in the cases' office (Istanbul), where their date rules judge."""
    return (local_date(datetime.now(UTC), "Europe/Istanbul") + timedelta(days=n)).isoformat()


def _tasks(case: dict[str, Any], task_type: str) -> list[dict[str, Any]]:
    return [t for t in case["open_tasks"] if t["task_type"] == task_type]


async def _post(http: httpx.AsyncClient, driver: CaseDriver, task: dict[str, Any], form: dict[str, Any],
                user: str = "ayse") -> httpx.Response:
    headers = await driver.login(user)
    (await http.post(f"/api/v1/tasks/{task['task_id']}/claim", headers=headers)).raise_for_status()
    return await http.post(f"/api/v1/tasks/{task['task_id']}/complete", json={"form": form}, headers=headers)


def _appointment(minutes: int = 3) -> dict[str, Any]:
    at = (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat(timespec="seconds")
    return {"appointment_at": at, "place": "German Embassy Beirut", "reference": "DE-BEY-FAP-2026-3318"}


async def test_a_family_joins_its_sponsor_in_germany_through_the_api(http: httpx.AsyncClient,
                                                                    driver: CaseDriver) -> None:
    case = await driver.refer(family())
    assert (case["programme"], case["stage"], case["stage_label"]) == ("family_reunification", "referral", "Application")
    assert case["programme_data"]["sponsor"]["city"] == "Berlin"
    members = {m["full_name"]: m["member_id"] for m in case["members"]}
    assert [t["member_id"] for t in _tasks(case, "assess_relationship")] == list(members.values())

    for task in _tasks(case, "assess_relationship"):
        case = await driver.complete(task, "IST")
    assert (case["stage"], case["stage_label"]) == ("documents", "Document collection")

    # Sami's proof of relationship is still missing when the checklists are in.
    checklists = _tasks(case, "record_documents")
    assert len(checklists) == 3
    for task in checklists:
        complete = task["member_id"] != members["Sami Haddad"]
        case = await driver.complete(task, "IST", form={"received_on": _day(), "passport": True, "civil_documents": True,
                                                        "proof_of_relationship": complete})
    assert (case["stage"], case["stage_label"]) == ("embassy_appointment", "Embassy appointment")
    [missing] = _tasks(case, "complete_documents")
    assert missing["member_id"] == members["Sami Haddad"]
    sami = next(m for m in case["programme_data"]["members"] if m["member_id"] == members["Sami Haddad"])
    assert sami["missing_documents"] == ["proof_of_relationship"]

    # The gate: no appointment while a checklist is incomplete; the answer names what is missing.
    [book] = _tasks(case, "book_embassy_appointment")
    refused = await _post(http, driver, book, _appointment())
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert "Sami Haddad: proof_of_relationship" in error["message"]
    assert [d["field"] for d in error["details"]] == [f"documents.{members['Sami Haddad']}.proof_of_relationship"]
    events = (await http.get(f"/api/v1/cases/{case['case_id']}/events", headers=await driver.login("fatma"))).json()
    assert "EmbassyAppointmentBooked" not in [e["type"] for e in events]  # refused: nothing changed

    case = await driver.complete(missing, "IST", form={"received_on": _day(), "passport": True,
                                                       "civil_documents": True, "proof_of_relationship": True})
    assert all(m["missing_documents"] == [] for m in case["programme_data"]["members"])
    case = await driver.complete(book, "IST", form=_appointment(), claim=False)
    assert case["programme_data"]["appointment"]["outcome"] == "booked"

    # The family missed it: the booking opens again, and the second one is attended.
    [outcome] = _tasks(case, "record_appointment_outcome")
    case = await driver.complete(outcome, "IST", form={"outcome": "missed",
                                                       "missed_reason": "The road from Tripoli was closed."})
    assert case["stage"] == "embassy_appointment" and case["programme_data"]["appointment"] is None
    assert case["programme_data"]["appointments_missed"] == 1
    [rebook] = _tasks(case, "book_embassy_appointment")
    case = await driver.complete(rebook, "IST", form=_appointment(minutes=4))
    [outcome] = _tasks(case, "record_appointment_outcome")
    case = await driver.complete(outcome, "IST", form={"outcome": "attended", "attended_on": _day()})

    # A visa per member, the travel, and the sponsor confirms the arrival.
    assert case["stage"] == "visa" and len(_tasks(case, "record_family_visa")) == 3
    case = await driver.advance(case)
    assert (case["status"], case["closure_reason"]) == ("closed", "arrived")
    events = [e["type"] for e in
              (await http.get(f"/api/v1/cases/{case['case_id']}/events", headers=await driver.login("fatma"))).json()]
    assert events.count("EmbassyAppointmentBooked") == 2 and events.count("FamilyVisaIssued") == 3
    assert [e for e in events if e == "EmbassyAppointmentOutcomeRecorded"] == ["EmbassyAppointmentOutcomeRecorded"] * 2
    assert {"MovementBooked", "CaseDeparted", "ArrivalConfirmed"} <= set(events)
    stages = [e for e in (await http.get(f"/api/v1/cases/{case['case_id']}/events",
                                         headers=await driver.login("fatma"))).json() if e["type"] == "StageEntered"]
    assert [s["data"]["stage"] for s in stages] == ["referral", "documents", "embassy_appointment", "visa",
                                                   "movement", "arrival"]


async def test_a_referral_without_a_sponsor_or_with_an_ineligible_relationship_is_refused(
        http: httpx.AsyncClient, driver: CaseDriver) -> None:
    headers = await driver.login("ayse")
    today = datetime.now(UTC).date()

    async def refused(body: dict[str, Any]) -> dict[str, Any]:
        r = await http.post("/api/v1/cases", json=body, headers=headers)
        assert r.status_code == 422, r.text
        return r.json()["error"]

    no_sponsor = await refused(family(sponsor=None))
    assert [d["field"] for d in no_sponsor["details"]] == ["body.sponsor"]
    assert "required for family_reunification" in no_sponsor["message"]

    sibling = family()
    sibling["members"].append(member("Omar Haddad", _born(today, 30), "sibling", sex="male"))
    error = await refused(sibling)
    assert [d["field"] for d in error["details"]] == ["body.members.3.relationship"]
    assert "members[3].relationship: 'sibling' is not eligible" in error["message"]
    assert "child: a child under 18" in error["message"]  # what is allowed

    grown = family()
    grown["members"][1]["date_of_birth"] = _born(today, 19)
    error = await refused(grown)
    assert [d["field"] for d in error["details"]] == ["body.members.1.date_of_birth"]
    assert "members[1].date_of_birth: a child joins the sponsor while under 18" in error["message"]

    parents = family(members=[member("Huda Haddad", _born(today, 45), "parent")])
    error = await refused(parents)
    assert [d["field"] for d in error["details"]] == ["body.sponsor.date_of_birth"]
    assert "required when a parent joins" in error["message"]
    adult_sponsor = family(members=[member("Huda Haddad", _born(today, 45), "parent")],
                           sponsor=SPONSOR | {"date_of_birth": _born(today, 25)})
    assert "members[0].relationship: a parent joins a sponsor under 18" in (await refused(adult_sponsor))["message"]
    principal = family(members=[member("Lina Haddad", _born(today, 35), "principal")])
    assert "'principal' is not eligible" in (await refused(principal))["message"]
    two_spouses = family()
    two_spouses["members"].append(member("Mona Haddad", _born(today, 30), "spouse"))
    assert "only one spouse" in (await refused(two_spouses))["message"]
    not_here = referral(sponsor=SPONSOR)  # resettlement names no sponsor
    assert [d["field"] for d in (await refused(not_here))["details"]] == ["body.sponsor"]

    # A minor sponsor's parents may join; nothing above was recorded.
    minor = family(members=[member("Huda Haddad", _born(today, 45), "parent")],
                   sponsor=SPONSOR | {"date_of_birth": _born(today, 16)})
    assert (await http.post("/api/v1/cases", json=minor, headers=headers)).status_code in (200, 201)

    # The schema the API serves says so.
    schemas = (await http.get("/openapi.json")).json()["components"]["schemas"]
    assert set(schemas["Sponsor"]["required"]) == {"full_name", "protection_status", "residence_permit", "city",
                                                    "contact"}
    assert "parent" in schemas["Sponsor"]["properties"]["date_of_birth"]["description"]
    [rule] = schemas["Referral"]["allOf"]
    assert rule["if"]["properties"]["programme"] == {"enum": ["family_reunification"]}
    assert rule["then"] == {"required": ["sponsor"]}


async def test_a_child_turning_18_before_the_visa_decision_is_flagged_to_the_supervisor(clock: Clock,
                                                                                         stack: Stack) -> None:
    env, _ = clock
    today = (await env.get_current_time()).date()
    members = [member("Lina Haddad", _born(today, 35), "spouse"),
               member("Sami Haddad", _born(today, 18, days=20), "child", sex="male"),  # 18 in 20 days
               member("Reem Haddad", _born(today, 18, days=10), "child")]  # 18 in 10 days, visa decided first
    case = await ClockCase.refer(clock, stack.pool, programme="family_reunification", destination_country="DE",
                                 sponsor=SPONSOR, members=members)
    await case.work_until("visa", forms={
        "book_embassy_appointment": lambda now: {"appointment_at": (now + timedelta(minutes=5)).isoformat(),
                                                 "place": "German Embassy Beirut", "reference": "DE-BEY-1"},
        "record_appointment_outcome": lambda now: {"outcome": "attended", "attended_on": now.date().isoformat()}})
    ids = {t["member_id"]: t for t in await case.open_tasks() if t["task_type"] == "record_family_visa"}
    lina, sami, reem = ids  # in the order of the referral
    for member_id in (lina, reem):
        await case.complete(ids[member_id])

    async def flagged() -> list[dict[str, Any]]:
        return [t for t in await case.open_tasks() if t["task_type"] == "review_age_out"]

    await case.let_pass(timedelta(days=19))
    assert await flagged() == []  # Reem turned 18 after her visa: no flag; Sami not yet 18
    await case.skip(timedelta(days=2), flagged)
    [review] = await flagged()
    assert (review["member_id"], review["role"]) == (sami, "supervisor")
    assert "MinorTurnedEighteen" in await case.event_types()

    # The supervisor keeps him; his visa, and the case goes on to the travel.
    await case.complete(ids[sami])
    assert (await case.row())["stage"] == "visa"  # held until the supervisor decides
    await case.complete(review, {"decision": "keep", "reason": "The application was lodged while he was a minor."})
    assert (await case.row())["stage"] == "movement"
    assert (await case.event_types()).count("MinorTurnedEighteen") == 1


async def test_the_programmes_task_forms_render_in_the_ui(stack: Stack, driver: CaseDriver) -> None:
    case = await driver.refer(family())
    for task in _tasks(case, "assess_relationship"):
        case = await driver.complete(task, "IST")
    task = _tasks(case, "record_documents")[0]
    async with signed_in(stack, "ayse") as ayse:
        page = Page((await ayse.get(f"/ui/tasks/{task['task_id']}")).text)
        for name in ("received_on", "passport", "civil_documents", "proof_of_relationship"):
            assert page.field(name) is not None, name
        done = await ayse.post(f"/ui/tasks/{task['task_id']}", data={
            "csrf_token": page.csrf, "received_on": _day(), "passport": "true", "civil_documents": "true",
            "proof_of_relationship": "true"})
        assert done.status_code == 200 and done.url.path == f"/ui/cases/{case['case_id']}", done.text
        case_page = (await ayse.get(f"/ui/cases/{case['case_id']}")).text
        assert "Document collection" in case_page
        # The people table shows only the stages the programme asks of each person (explore9
        # F8: "Health: Pending, Orientation: Pending" for stages family reunification has not).
        headings = [Page.text(th) for th in Page(case_page).find("th", scope="col")]
        assert "Visa" in headings and "Health" not in headings and "Orientation" not in headings, headings


async def test_the_demo_data_holds_families_joining_a_sponsor_in_germany(driver: CaseDriver) -> None:
    haddad, karimi = [await seed_family_demo(driver, demo) for demo in FAMILY_DEMO_CASES]
    assert (haddad["destination_country"], haddad["programme_data"]["sponsor"]["city"]) == ("DE", "Berlin")
    assert haddad["stage"] == "embassy_appointment"
    assert haddad["programme_data"]["appointment"]["place"] == "German Embassy Beirut"
    assert [t["task_type"] for t in haddad["open_tasks"]] == ["record_appointment_outcome"]
    # The Karimis wait for the father's family register: the booking is open, and refused until then.
    assert karimi["stage"] == "embassy_appointment" and karimi["programme_data"]["appointment"] is None
    assert sorted(t["task_type"] for t in karimi["open_tasks"]) == ["book_embassy_appointment", "complete_documents"]
    missing = {m["member_id"]: m["missing_documents"] for m in karimi["programme_data"]["members"]}
    father = next(m["member_id"] for m in karimi["members"] if m["full_name"] == "Mahmoud Karimi")
    assert missing[father] == ["proof_of_relationship"] and sum(map(len, missing.values())) == 1


async def test_a_correction_cannot_make_a_family_the_referral_would_refuse(http: httpx.AsyncClient,
                                                                          driver: CaseDriver) -> None:
    """Who may join the sponsor is judged at referral; a correction of a relationship or a
    date of birth is judged by the same rule (422 naming the field, nothing recorded), and a
    correction the rule allows goes through."""
    case = await driver.refer(family())
    spouse, son, _ = case["members"]
    ayse = await driver.login("ayse")

    async def correct(member: dict[str, Any], changes: dict[str, Any]) -> httpx.Response:
        return await http.post(f"/api/v1/cases/{case['case_id']}/members/{member['member_id']}/corrections",
                               json={"changes": changes, "reason": "Checked against the documents."}, headers=ayse)

    for member, changes, field in ((son, {"relationship": "sibling"}, "changes.relationship"),
                                   (son, {"relationship": "spouse"}, "changes.relationship"),
                                   (spouse, {"relationship": "principal"}, "changes.relationship"),
                                   (son, {"date_of_birth": _born(datetime.now(UTC).date(), 20)}, "changes.date_of_birth")):
        r = await correct(member, changes)
        assert r.status_code == 422, f"{changes}: {r.text}"
        assert [d["field"] for d in r.json()["error"]["details"]] == [field], r.text
    events = (await http.get(f"/api/v1/cases/{case['case_id']}/events", headers=ayse)).json()
    assert "MemberDataCorrected" not in [e["type"] for e in events]
    ok = await correct(son, {"date_of_birth": _born(datetime.now(UTC).date(), 9)})
    assert ok.status_code == 200, ok.text
