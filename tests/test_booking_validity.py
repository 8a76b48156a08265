"""A case's own booking is on a day the case can travel (explore9 F7): every member's visa or
travel document and medical clearance still valid on the day of travel, as a group movement's
manifest requires (rules ``travel_document`` and ``medical_clearance``).  Otherwise the flight
was booked, nothing was open to undo it until the fit-to-travel checks opened 72 hours before,
and the document's expiry sent the case back to the visa stage first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from domain.forms import BookMovementForm, form_json_schema
from domain.model import Stage
from tests.support.driver import CaseDriver
from tests.support.factories import referral


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
