"""A case's own booking is on a day the case can travel (explore9 F7): every member's visa or
travel document and medical clearance still valid on the day of travel, as a group movement's
manifest requires (rules ``travel_document`` and ``medical_clearance``).  Otherwise the flight
was booked, nothing was open to undo it until the fit-to-travel checks opened 72 hours before,
and the document's expiry sent the case back to the visa stage first."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from domain.forms import BookMovementForm, form_json_schema
from domain.model import Stage
from tests.support.browser import signed_in
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.pages import Page
from tests.support.stack import Stack


def _booking(case: dict[str, Any]) -> dict[str, Any]:
    [task] = [t for t in case["open_tasks"] if t["task_type"] == "book_movement"]
    return task


async def test_a_booking_after_the_visa_ends_is_refused_and_changes_nothing(http: httpx.AsyncClient,
                                                                             driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=2, destination_country="NO")), until=Stage.MOVEMENT)
    valid = {m["member_id"]: m for m in case["members"]}
    visa_ends = min(m["visa_valid_until"] for m in valid.values() if m.get("visa_valid_until"))
    task = _booking(case)
    headers = await driver.login("emre")
    await http.post(f"/api/v1/tasks/{task['task_id']}/claim", headers=headers)
    late = datetime.fromisoformat(visa_ends).replace(hour=10, tzinfo=UTC) + timedelta(days=1)
    form = {"flight_number": "TK1751", "departure_at": late.isoformat(), "departure_airport": "IST",
            "arrival_airport": "OSL"}
    refused = await http.post(f"/api/v1/tasks/{task['task_id']}/complete", json={"form": form}, headers=headers)
    assert refused.status_code == 422, refused.text
    [detail] = refused.json()["error"]["details"]
    assert detail["field"] == "departure_at" and "visa or travel document is valid until" in detail["reason"], detail
    assert detail["allowed"] == f"a departure on or before {visa_ends}"
    after = (await http.get(f"/api/v1/cases/{case['case_id']}", headers=headers)).json()
    assert after["version"] == case["version"] and _booking(after)["status"] == "open"
    on_the_last_day = {**form, "departure_at": (late - timedelta(days=1)).isoformat()}
    booked = await http.post(f"/api/v1/tasks/{task['task_id']}/complete", json={"form": on_the_last_day},
                             headers=headers)
    assert booked.status_code == 200, booked.text


def test_the_booking_form_says_it() -> None:
    description = form_json_schema(BookMovementForm)["properties"]["departure_at"]["description"]
    assert "visa or travel document and medical clearance are still valid" in description


async def test_a_case_s_own_booking_can_be_cancelled_and_booked_again(http: httpx.AsyncClient,
                                                                       driver: CaseDriver) -> None:
    """explore9 F7/F21: a flight booked more than 72 hours ahead left no task open, and nobody
    could undo a wrong booking; a movement officer cancels it and the case books again."""
    case = await driver.advance(await driver.refer(referral(size=1, destination_country="NO")), until=Stage.MOVEMENT)
    task = _booking(case)
    in_five_days = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)
    booked = await driver.complete(task, "IST", form={"flight_number": "TK1751", "departure_at": in_five_days.isoformat(),
                                                      "departure_airport": "IST", "arrival_airport": "OSL"})
    assert booked["open_tasks"] == [] and booked["key_dates"]["departure_at"] is not None
    path = f"/api/v1/cases/{case['case_id']}/cancel-booking"
    denied = await http.post(path, json={"reason": "Wrong day."}, headers=await driver.login("ayse"))
    assert denied.status_code == 403, denied.text  # caseworkers do not book flights
    emre = await driver.login("emre")
    cancelled = await http.post(path, json={"reason": "Booked for the wrong day."}, headers=emre)
    assert cancelled.status_code == 200, cancelled.text
    after = cancelled.json()
    assert after["key_dates"]["departure_at"] is None and [t["task_type"] for t in after["open_tasks"]] == ["book_movement"]
    again = await http.post(path, json={"reason": "Twice."}, headers=emre)
    assert again.status_code in (409, 422) and "no booking to cancel" in again.json()["error"]["message"], again.text
    events = (await http.get(f"/api/v1/cases/{case['case_id']}/events", headers=emre)).json()
    assert [e["type"] for e in events].count("BookingCancelled") == 1


async def test_the_case_page_cancels_a_booking_for_a_movement_officer(stack: Stack, driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=1, destination_country="NO")), until=Stage.MOVEMENT)
    in_five_days = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)
    await driver.complete(_booking(case), "IST", form={"flight_number": "TK1751", "departure_at": in_five_days.isoformat(),
                                                       "departure_airport": "IST", "arrival_airport": "OSL"})
    async with signed_in(stack, "ayse") as ayse:  # a caseworker books no flights: no form
        assert "cancel_booking-form" not in (await ayse.get(f"/ui/cases/{case['case_id']}")).text
    async with signed_in(stack, "emre") as emre:
        html = (await emre.get(f"/ui/cases/{case['case_id']}")).text
        page = Page(html)
        page.one("form", id="cancel_booking-form")
        form_html = html[html.index('id="cancel_booking-form"'):]
        submission = re.search(r'name="submission" value="([^"]+)"', form_html).group(1)  # type: ignore[union-attr]
        done = await emre.post(f"/ui/cases/{case['case_id']}/actions/cancel_booking", data={
            "csrf_token": page.csrf, "submission": submission, "text": "The family's travel document ends first."})
        assert done.status_code == 200 and done.url.path == f"/ui/cases/{case['case_id']}", done.text
        after = Page(done.text)
        assert not after.find("form", id="cancel_booking-form")
    detail = (await driver.client.get(f"/api/v1/cases/{case['case_id']}", headers=await driver.login("emre"))).json()
    assert [t["task_type"] for t in detail["open_tasks"]] == ["book_movement"]


async def test_an_arrival_is_dated_in_the_arrival_airport_s_calendar(http: httpx.AsyncClient,
                                                                      driver: CaseDriver) -> None:
    """explore11 F9: a flight east arrived 'the day before it left' (the workflow's bound is the
    earliest calendar, UTC-12); the API judges the day on the arrival airport's clock."""
    case = await driver.advance(await driver.refer(referral(size=1, destination_country="AU")), until=Stage.ARRIVAL)
    assert case["key_dates"]["departed_at"] is not None
    [task] = [t for t in case["open_tasks"] if t["task_type"] == "confirm_arrival"]
    departed = datetime.fromisoformat(case["key_dates"]["departed_at"])
    day_before = (departed.astimezone(UTC) - timedelta(days=1)).date().isoformat()
    headers = await driver.login("ayse")
    await http.post(f"/api/v1/tasks/{task['task_id']}/claim", headers=headers)
    refused = await http.post(f"/api/v1/tasks/{task['task_id']}/complete", headers=headers, json={"form": {
        "arrived_on": day_before, "place": "Sydney", "receiving_partner": "Settlement Services International"}})
    assert refused.status_code == 422, refused.text
    [detail] = refused.json()["error"]["details"]
    assert detail["field"] == "arrived_on" and "Australia/" in detail["reason"], detail
