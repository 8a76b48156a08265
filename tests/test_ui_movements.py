"""The movement pages as a new movement officer finds them: a movement created from the list's
form (its local times in the departure airport's zone, one movement however often the form is
sent, a refusal shown with everything typed kept), the cases taken off a manifest listed with
their reason and what the case answered, the lock offered once, counts in words that agree.
Driven over real HTTP like a browser; what was created is read back through the JSON API."""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from pydantic import TypeAdapter

from api.ui.movements import REASON_MAX_LENGTH
from domain.movements.model import Reason
from tests.support.browser import signed_in
from tests.support.driver import CaseDriver
from tests.support.pages import Page
from tests.support.stack import Stack
from tests.support.waiting import eventually
from tests.test_movements import OFFICER, _case_in_movement_stage, _details, _fan_out_done, _family, _ok, login_all
from tests.test_ui_referral import _posted

ISTANBUL = ZoneInfo("Europe/Istanbul")
OSLO = ZoneInfo("Europe/Oslo")
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def _local(moment: datetime, zone: ZoneInfo = ISTANBUL) -> str:
    """As a browser's datetime-local field sends it: the wall clock there, no offset (the
    form's offset select beside it says which)."""
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def _offset(moment: datetime, zone: ZoneInfo = ISTANBUL) -> str:
    return moment.astimezone(zone).strftime("%z")[:3] + ":" + moment.astimezone(zone).strftime("%z")[3:]


def _flight() -> str:
    return f"UI{secrets.randbelow(9000) + 1000}"


def _typed(flight: str, departs: datetime, **overrides: str) -> dict[str, str]:
    """What the officer types into the new-movement form."""
    return {"kind": "charter", "flight_number": flight.lower(), "charter_id": "IOM-CH-UI-1", "carrier": "Corendon",
            "departure_airport": "ist", "arrival_airport": "OSL", "departure_time_zone": "Europe/Istanbul",
            "departure_at": _local(departs), "departure_at__tz": _offset(departs),
            # the arrival in Oslo's time, the transit in Stockholm's: each on its airport's wall clock
            "arrival_at": _local(departs + timedelta(hours=6), OSLO),
            "arrival_at__tz": _offset(departs + timedelta(hours=6), OSLO), "transit-0-airport": "ARN",
            "transit-0-arrives_at": _local(departs + timedelta(hours=3), STOCKHOLM),
            "transit-0-arrives_at__tz": _offset(departs),
            "transit-0-departs_at": _local(departs + timedelta(hours=4), STOCKHOLM),
            "transit-0-departs_at__tz": _offset(departs), "seat_capacity": "9",
            "escorts-0-name": "Elif Arslan", "escorts-0-kind": "operational",
            "escorts-1-name": "Dr. Kaya", "escorts-1-kind": "medical", "office": "IST"} | overrides


async def _movements_of(driver: CaseDriver, flight: str) -> list[dict[str, Any]]:
    listed = await _ok(driver, "GET", "/api/v1/movements", params={"limit": 200})
    return [m for m in listed["items"] if m["flight_number"] == flight]


def _departs() -> datetime:
    return (datetime.now(ISTANBUL) + timedelta(hours=30)).replace(second=0, microsecond=0)


async def test_a_movement_is_created_from_the_form_once_however_often_it_is_sent(
        stack: Stack, driver: CaseDriver) -> None:
    flight, departs = _flight(), _departs()
    async with signed_in(stack, OFFICER) as emre:
        page = Page((await emre.get("/ui/movements")).text)
        assert "through the API" not in page.body_text
        assert ("Europe/Istanbul", True) in page.options("field-departure_time_zone")  # the office's zone
        assert page.field("departure_at")["type"] == "datetime-local"
        assert not page.find("select", id="field-departure_at-tz")  # the zone's wall clock: no offset to pick
        assert [v for v, _ in page.options("field-office") if v] == ["IST", "IZM"]
        # generated from the API's schema: its limits, and no empty transit/escort row to fill
        assert page.field("carrier")["maxlength"] and page.field("seat_capacity")["type"] == "number"
        assert not [e for e in page.elements if str(e.get("name", "")).startswith(("transit-", "escorts-"))]
        assert page.field("submission")["value"]
        sent = _posted(page) | _typed(flight, departs)
        # a double click: the same form twice at once, then once more
        first, second = await asyncio.gather(emre.post("/ui/movements", data=sent),
                                             emre.post("/ui/movements", data=sent))
        third = await emre.post("/ui/movements", data=sent)
        paths = {r.url.path for r in (first, second, third)}
        assert len(paths) == 1 and all(r.status_code == 200 for r in (first, second, third)), paths
        path = paths.pop()
        assert path.startswith("/ui/movements/MV-")
        created = Page(third.text)
        assert f"Movement {flight} created" in created.body_text
        assert Page.text(created.one("h1")).startswith(flight)

        # the same form sent back changed (the browser's Back after the creation): said, and a new form
        back = await emre.post("/ui/movements", data=sent | {"carrier": "Pegasus"})
        assert back.status_code == 409 and "This form already created one" in Page(back.text).body_text
        assert Page(back.text).field("submission")["value"] != sent["submission"]

        # a fresh form is a new movement, even with the same flight
        again = Page((await emre.get("/ui/movements")).text)
        assert again.field("submission")["value"] != page.field("submission")["value"]

    [movement] = await _movements_of(driver, flight)
    assert path == f"/ui/movements/{movement['movement_id']}"
    view = await _ok(driver, "GET", f"/api/v1/movements/{movement['movement_id']}")
    d = view["details"]
    assert (d["flight_number"], d["departure_airport"], d["arrival_airport"], d["office"], d["seat_capacity"]) == (
        flight, "IST", "OSL", "IST", 9)
    # the local times typed, in the departure airport's zone
    assert datetime.fromisoformat(d["departure_at"]) == departs
    assert datetime.fromisoformat(d["arrival_at"]) == departs + timedelta(hours=6)
    assert [(t["airport"], datetime.fromisoformat(t["arrives_at"])) for t in d["transit"]] == [
        ("ARN", departs + timedelta(hours=3))]
    assert d["escorts"] == [{"name": "Elif Arslan", "kind": "operational"}, {"name": "Dr. Kaya", "kind": "medical"}]
    assert view["created_by"] == OFFICER and d["charter_id"] == "IOM-CH-UI-1"


async def test_a_refused_movement_shows_why_and_keeps_what_was_typed(stack: Stack, driver: CaseDriver) -> None:
    flight, departs = _flight(), _departs()
    async with signed_in(stack, OFFICER) as emre:
        page = Page((await emre.get("/ui/movements")).text)
        token = page.field("submission")["value"]
        typed = _typed(flight, departs, seat_capacity="0")

        no_seats = await emre.post("/ui/movements", data=_posted(page) | typed)
        assert no_seats.status_code == 422 and no_seats.url.path == "/ui/movements"
        shown = Page(no_seats.text)
        assert "The movement was not created" in Page.text(shown.one(id="new-movement-problem"))
        assert "Seat capacity" in shown.body_text  # the error summary names the field
        assert shown.field_error("seat_capacity")
        assert shown.field("seat_capacity").get("aria-invalid") == "true"
        for name in ("flight_number", "carrier", "departure_at", "arrival_at", "transit-0-arrives_at",
                     "escorts-1-name", "charter_id"):
            assert shown.field(name)["value"] == typed[name], name
        assert ("Europe/Istanbul", True) in shown.options("field-departure_time_zone")
        assert (typed["arrival_at__tz"], True) in shown.options("field-arrival_at-tz")
        assert ("medical", True) in shown.options("field-escorts-1-kind")
        assert shown.field("submission")["value"] == token  # the same submission, sent again when corrected

        yesterday = departs - timedelta(days=2)
        past = {k: v for k, v in (_posted(shown) | _typed(flight, yesterday, arrival_at="")).items()
                if not k.startswith("transit-")}  # its transit point removed
        in_the_past = await emre.post("/ui/movements", data=past)
        assert in_the_past.status_code == 422, in_the_past.text
        shown = Page(in_the_past.text)
        assert "the departure is in the past" in Page.text(shown.one(id="new-movement-problem"))
        assert shown.field("departure_at")["value"] == _local(yesterday)
        assert shown.field("submission")["value"] == token

        elsewhere = await emre.post("/ui/movements", data=_posted(shown) | _typed(flight, departs, office="ANK"))
        assert elsewhere.status_code == 403 and "not one of your offices" in elsewhere.text
        assert Page(elsewhere.text).field("carrier")["value"] == "Corendon"

        assert await _movements_of(driver, flight) == []
        # corrected and sent again (the same form's token): created, once
        created = await emre.post("/ui/movements", data=_posted(shown) | _typed(flight, departs))
        assert created.url.path.startswith("/ui/movements/MV-"), created.text
    assert len(await _movements_of(driver, flight)) == 1


async def test_the_movement_page_lists_the_cases_taken_off_and_offers_the_lock_once(
        stack: Stack, driver: CaseDriver) -> None:
    await login_all(driver)
    single = await _case_in_movement_stage(driver, _family(1))
    pair = await _case_in_movement_stage(driver, _family(2))
    movement = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=2, flight_number=_flight()))
    mid = movement["movement_id"]
    url = f"/ui/movements/{mid}"
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": pair["case_id"]})
    assert await _movements_of(driver, movement["details"]["flight_number"])
    async with signed_in(stack, OFFICER) as emre:
        page = Page((await emre.get(url)).text)
        locks = [f for f in page.find("form") if f.get("action", "").endswith("/lock")]
        assert len(locks) == 1
        reasons = [e for e in page.find("input", name="reason")]
        assert reasons and all(e["maxlength"] == str(REASON_MAX_LENGTH) for e in reasons)
        assert REASON_MAX_LENGTH == TypeAdapter(Reason).json_schema()["maxLength"]  # the API's limit, not 2,000
        assert "2 people, 2 of 2 seats " in page.body_text

        taken_off = await emre.post(f"{url}/remove", data={"csrf_token": page.csrf, "case_id": pair["case_id"],
                                                           "reason": "The family asked for a later flight."})
        assert f"Case {pair['case_id']} is off the manifest." in taken_off.text
        page = Page(taken_off.text)
        removed = Page.text(page.one("table", id="removed-cases"))
        assert pair["case_id"] in removed and "The family asked for a later flight." in removed and OFFICER in removed
        assert "no booking to drop" in removed
        assert any(a.get("href") == f"/ui/cases/{pair['case_id']}" for a in page.find("a"))
        assert "0 people, 0 of 2 seats " in page.body_text

        added = await emre.post(f"{url}/add", data={"csrf_token": page.csrf, "case_id": single["case_id"]})
        assert "1 person, 1 of 2 seats " in Page(added.text).body_text
        await emre.post(f"{url}/lock", data={"csrf_token": page.csrf})
        await _fan_out_done(driver, mid)
        page = Page((await emre.get(url)).text)
        assert "Booking: 1 case reached, 0 to go." in page.body_text
        assert not [f for f in page.find("form") if f.get("action", "").endswith("/lock")]  # locked: no lock

        # off the locked manifest: the booking dropped on the case, what it answered shown
        taken_off = await emre.post(f"{url}/remove", data={"csrf_token": page.csrf, "case_id": single["case_id"],
                                                           "reason": "Medical clearance withdrawn."})
        assert "is off the manifest" in taken_off.text, taken_off.text

        seen: list[str] = []

        async def answered() -> bool:
            page = Page((await emre.get(url)).text)
            seen[:] = [Page.text(r) for r in page.find("tr") if "removed-cases" in r["within"]]
            return any(single["case_id"] in row and "dropped on the case" in row for row in seen)
        await eventually(answered, timeout=90, interval=0.3, what=lambda: f"the released case's answer: {seen}")


async def test_a_caseworker_has_no_movement_form(stack: Stack, driver: CaseDriver) -> None:
    flight = _flight()
    async with signed_in(stack, "ayse") as ayse:
        assert (await ayse.get("/ui/movements")).status_code == 403
        home = Page((await ayse.get("/ui")).text)
        refused = await ayse.post("/ui/movements", data={"csrf_token": home.csrf, "submission": "x" * 24}
                                  | _typed(flight, _departs()))
        assert refused.status_code == 403
    assert await _movements_of(driver, flight) == []


async def test_a_movement_page_of_a_movement_that_does_not_exist_is_not_found(stack: Stack) -> None:
    async with signed_in(stack, OFFICER) as emre:
        response: httpx.Response = await emre.get("/ui/movements/MV-0000000000000000")
        assert response.status_code == 404
