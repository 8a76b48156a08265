"""Dates and clocks as the UI says them: how far a due date is, in calendar days of the office;
a deadline that ends a day read as that day's end, not the next day's 00:00; a new movement's
arrival and transit times read in their airport's zone (as its departure is); a split's
refusal said with the people's names in the page's language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from api.ui.formatting import due_in, fmt_due
from api.ui.i18n import use_language
from api.ui.movements import _airport_time
from api.ui.rendering import templates
from tests.support.browser import signed_in
from tests.support.driver import CaseDriver
from tests.support.pages import Page
from tests.support.stack import Stack
from tests.test_case_split import CASEWORKER, _in_health
from tests.test_ui_movements import OFFICER, _departs, _flight, _local, _movements_of, _ok, _typed
from tests.test_ui_referral import _posted

IST = "Europe/Istanbul"
ISTANBUL, TORONTO, STOCKHOLM = ZoneInfo(IST), ZoneInfo("America/Toronto"), ZoneInfo("Europe/Stockholm")


def _at(text: str, zone: ZoneInfo = ISTANBUL) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def test_due_in_counts_calendar_days_in_the_offices_zone() -> None:
    viewed = _at("2026-12-04T12:45")
    assert due_in(_at("2026-12-07T12:30"), viewed, IST) == "due in 3 days"  # the 7th, read on the 4th
    opened = _at("2026-12-04T09:00")
    assert due_in(opened + timedelta(days=14), opened + timedelta(minutes=1), IST) == "due in 14 days"
    assert due_in(_at("2026-12-04T23:59"), viewed, IST) == "due today"
    assert due_in(_at("2026-12-05T00:30"), viewed, IST) == "due tomorrow"
    # the day is the office's: 22:00 UTC on the 4th is already the 5th in Istanbul
    assert due_in(datetime(2026, 12, 4, 22, 0, tzinfo=UTC), viewed, IST) == "due tomorrow"
    assert due_in(datetime(2026, 12, 4, 22, 0, tzinfo=UTC), viewed) == "due today"  # in UTC without a zone
    # a deadline at the end of the 10th (11 Dec 00:00 there) is due on the 10th
    end_of_10th = datetime(2026, 12, 10, 21, 0, tzinfo=UTC)
    assert due_in(end_of_10th, _at("2026-12-10T09:00"), IST) == "due today"
    assert due_in(end_of_10th, _at("2026-12-09T09:00"), IST) == "due tomorrow"
    assert due_in(end_of_10th, _at("2026-12-07T23:00"), IST) == "due in 3 days"
    # overdue as it was
    assert due_in(viewed - timedelta(hours=5), viewed, IST) == "overdue by 5 h"
    assert due_in(viewed - timedelta(days=2, hours=1), viewed, IST) == "overdue by 2 days"
    assert due_in(viewed - timedelta(minutes=5), viewed, IST) == "overdue"
    try:
        use_language("fr")
        assert due_in(_at("2026-12-07T12:30"), viewed, IST) == "échéance dans 3 jours"
        assert due_in(_at("2026-12-05T08:00"), viewed, IST) == "échéance demain"
        use_language("tr")
        assert due_in(_at("2026-12-04T18:00"), viewed, IST) == "son gün bugün"
    finally:
        use_language("en")


def test_a_deadline_at_local_midnight_reads_as_the_end_of_the_day_before() -> None:
    end_of_10th = datetime(2026, 12, 10, 21, 0, tzinfo=UTC)  # 11 Dec 00:00 in Istanbul
    assert fmt_due(end_of_10th, IST) == "10 Dec 2026, end of day (Istanbul)"
    assert fmt_due(end_of_10th.isoformat(), IST) == "10 Dec 2026, end of day (Istanbul)"  # as a history records it
    assert fmt_due(end_of_10th) == "10 Dec 2026, 21:00 UTC"  # not midnight in UTC: the time
    assert fmt_due(datetime(2026, 12, 11, tzinfo=UTC)) == "10 Dec 2026, end of day UTC"
    assert fmt_due(_at("2026-12-07T12:30"), IST) == "7 Dec 2026, 12:30 (Istanbul)"
    assert fmt_due(None) == "" and fmt_due("") == ""
    try:
        use_language("fr")
        assert fmt_due(end_of_10th, IST) == "10 déc. 2026, fin de journée (Istanbul)"
    finally:
        use_language("en")


def test_the_due_of_every_page_says_end_of_day() -> None:
    """The macros the inbox, the dashboard, the task page and the case pages use."""
    env = templates.env
    due = datetime(2036, 12, 10, 21, 0, tzinfo=UTC)
    task = SimpleNamespace(due_at=due, office_time_zone=IST, overdue=False)
    shown = env.from_string('{% import "_macros.html" as m %}{{ m.due(task) }}').render(task=task)
    assert ">10 Dec 2036, end of day (Istanbul)</time>" in shown
    assert 'datetime="2036-12-11T00:00:00+03:00"' in shown  # the exact instant stays in the attribute
    assert "due in " in shown and "days" in shown
    when = env.from_string('{% import "_macros.html" as m %}{{ m.when(v, "due", zone=z) }}').render(v=due, z=IST)
    assert ">10 Dec 2036, end of day (Istanbul)</time>" in when


def test_an_airport_time_is_read_in_its_zone() -> None:
    assert _airport_time("2026-12-10T14:00", "yyz", "2026-12-10T14:00+03:00") == "2026-12-10T14:00:00-05:00"
    assert _airport_time("2027-07-10T14:00", "YYZ", "2027-07-10T14:00+03:00") == "2027-07-10T14:00:00-04:00"
    assert _airport_time("2026-12-10T14:00", "QQQ", "2026-12-10T14:00+03:00") == "2026-12-10T14:00+03:00"  # no zone
    assert _airport_time("not a time", "YYZ", "not a time+03:00") == "not a time+03:00"


async def test_arrival_and_transit_times_are_read_in_their_airports_zone(stack: Stack, driver: CaseDriver) -> None:
    flight, departs = _flight(), _departs()
    # IST -> ARN -> YYZ: the arrival at 14:00 in Toronto the next day, the transit in Stockholm's clock
    arrives = (departs + timedelta(days=1)).astimezone(TORONTO).replace(hour=14, minute=0)
    lands, leaves = departs + timedelta(hours=3), departs + timedelta(hours=5)
    async with signed_in(stack, OFFICER) as emre:
        page = Page((await emre.get("/ui/movements")).text)
        assert "arrival airport's local time, read in its time zone" in Page.text(
            page.one("p", id="field-arrival_at-help"))
        # the Istanbul officer's offset beside each time, as the browser preselected it: ignored
        typed = _typed(flight, departs, arrival_airport="yyz", arrival_at=_local(arrives, TORONTO),
                       arrival_at__tz="+03:00", **{
                           "transit-0-airport": "ARN",
                           "transit-0-arrives_at": _local(lands, STOCKHOLM), "transit-0-arrives_at__tz": "+03:00",
                           "transit-0-departs_at": _local(leaves, STOCKHOLM), "transit-0-departs_at__tz": "+03:00"})
        added = Page((await emre.post("/ui/movements", data=_posted(page) | {"_add": "transit"})).text)
        assert "transit airport's local time, read in its time zone" in Page.text(
            added.one("p", id="field-transit-0-arrives_at-help"))
        created = await emre.post("/ui/movements", data=_posted(page) | typed)
        assert created.status_code == 200 and created.url.path.startswith("/ui/movements/MV-"), created.text
    [movement] = await _movements_of(driver, flight)
    d = (await _ok(driver, "GET", f"/api/v1/movements/{movement['movement_id']}"))["details"]
    assert datetime.fromisoformat(d["departure_at"]) == departs
    arrival = datetime.fromisoformat(d["arrival_at"])
    assert arrival == arrives and arrival.astimezone(TORONTO).hour == 14
    assert [(t["airport"], datetime.fromisoformat(t["arrives_at"]), datetime.fromisoformat(t["departs_at"]))
            for t in d["transit"]] == [("ARN", lands, leaves)]


async def test_a_split_refusal_names_the_people_in_the_pages_language(stack: Stack, driver: CaseDriver) -> None:
    case = await _in_health(driver)
    case_id = case["case_id"]
    m1, m2, m3, _m4 = (m["member_id"] for m in case["members"])
    names = {m["member_id"]: m["full_name"] for m in case["members"]}
    async with signed_in(stack, CASEWORKER) as browser:
        page = Page((await browser.get(f"/ui/cases/{case_id}")).text)
        # the new principal does not move
        r = await browser.post(f"/ui/cases/{case_id}/split", data={
            "csrf_token": page.csrf, "member_ids": [m2], "principal_member_id": m3, "reason": "Two households."})
        assert r.status_code == 422
        said = Page.text(Page(r.text).one("p", id="split-principal_member_id-error"))
        assert said == f"{names[m3]} does not move: the new case's principal is one of those who move."
        # a minor while an adult moves
        r = await browser.post(f"/ui/cases/{case_id}/split", data={
            "csrf_token": page.csrf, "member_ids": [m2, m3], "principal_member_id": m3, "reason": "Two households."})
        said = Page.text(Page(r.text).one("p", id="split-principal_member_id-error"))
        assert said == (f"{names[m3]} is under 18: the new case's principal is an adult who moves ({names[m2]}).")
        # the principal cannot move
        r = await browser.post(f"/ui/cases/{case_id}/split", data={
            "csrf_token": page.csrf, "member_ids": [m1, m2], "principal_member_id": m2, "reason": "Two households."})
        said = Page.text(Page(r.text).one("p", id="split-member_ids-error"))
        assert said.startswith(f"{names[m1]} is this case's principal") and "C-" not in said
        # in French
        french = Page((await browser.post("/ui/language", data={"csrf_token": page.csrf, "lang": "fr",
                                                                 "next": f"/ui/cases/{case_id}"})).text)
        r = await browser.post(f"/ui/cases/{case_id}/split", data={
            "csrf_token": french.csrf, "member_ids": [m2], "principal_member_id": m3, "reason": "Deux foyers."})
        said = Page.text(Page(r.text).one("p", id="split-principal_member_id-error"))
        assert said.startswith(f"{names[m3]} ne part pas") and "principal_member_id" not in said
    # the API's answer is as it was
    headers = await driver.login(CASEWORKER)
    api = await driver.client.post(f"/api/v1/cases/{case_id}/split", headers=headers, json={
        "member_ids": [m2], "principal_member_id": m3, "reason": "Two households."})
    assert api.status_code == 422 and f"principal_member_id {m3} is not among member_ids" in api.text
