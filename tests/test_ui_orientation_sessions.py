"""Scheduling an orientation session from the UI, as a caseworker finds it: the form on the
sessions list is generated from the API's own model (the office's zone and offset chosen,
the language and destination from lists of names), a refusal comes back with what was typed
and the error next to its field, and the same form sent twice schedules one session.  Over
real HTTP like a browser; what was scheduled is read back through the JSON API."""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.support.browser import signed_in
from tests.support.driver import CaseDriver
from tests.support.pages import Page
from tests.support.stack import Stack
from tests.test_orientation_sessions import _ok
from tests.test_ui_referral import _posted

ISTANBUL = ZoneInfo("Europe/Istanbul")


def _typed(facilitator: str, starts: datetime, **overrides: str) -> dict[str, str]:
    return {"starts_at": starts.strftime("%Y-%m-%dT%H:%M"), "starts_at__tz": "+03:00", "time_zone": "Europe/Istanbul",
            "duration_minutes": "120", "mode": "in_person", "place": "IOM Istanbul, training room 2", "language": "ar",
            "destination_country": "NO", "capacity": "12", "facilitator": facilitator, "office": "IST"} | overrides


async def _sessions_of(driver: CaseDriver, facilitator: str) -> list[dict]:
    listed = await _ok(driver, "GET", "/api/v1/orientation-sessions", params={"limit": 200})
    return [s for s in listed["items"] if s["facilitator"] == facilitator]


async def test_a_caseworker_schedules_a_session_from_the_form_once(stack: Stack, driver: CaseDriver) -> None:
    facilitator = "Leyla " + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(8)).title()
    starts = (datetime.now(ISTANBUL) + timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    async with signed_in(stack, "ayse") as ayse:
        page = Page((await ayse.get("/ui/orientation-sessions")).text)
        assert "through the API" not in page.body_text
        assert ("Europe/Istanbul", True) in page.options("field-time_zone")  # the office's zone
        assert not page.find("select", id="field-starts_at-tz")  # the zone's wall clock: no offset to pick
        assert ("NO", False) in page.options("field-destination_country")  # countries from a list of names
        assert page.field("duration_minutes")["value"] == "180"  # the model's default

        refused = await ayse.post("/ui/orientation-sessions", data=_posted(page) | _typed(facilitator, starts, capacity="0"))
        assert refused.status_code == 422
        shown = Page(refused.text)
        assert shown.field_error("capacity") and shown.field("capacity").get("aria-invalid") == "true"
        assert shown.field("facilitator")["value"] == facilitator and ("ar", True) in shown.options("field-language")
        assert await _sessions_of(driver, facilitator) == []

        sent = _posted(shown) | _typed(facilitator, starts)
        first, second = await asyncio.gather(ayse.post("/ui/orientation-sessions", data=sent),
                                             ayse.post("/ui/orientation-sessions", data=sent))
        assert {r.url.path for r in (first, second)} == {first.url.path}
        assert first.url.path.startswith("/ui/orientation-sessions/OS-"), first.text
        assert "Session scheduled" in Page(first.text).body_text
    [session] = await _sessions_of(driver, facilitator)
    assert first.url.path == f"/ui/orientation-sessions/{session['session_id']}"
    assert datetime.fromisoformat(session["starts_at"]) == starts
    assert (session["capacity"], session["language"], session["destination_country"], session["time_zone"]) == (
        12, "ar", "NO", "Europe/Istanbul")


def test_a_time_typed_in_a_zone_takes_that_zones_offset_on_that_day() -> None:
    """A July flight from Oslo typed in December is at +02:00 (summer time), not today's +01:00."""
    from api.ui.schema_form import _local_datetime

    assert _local_datetime("2027-07-10T10:00", "Europe/Oslo") == "2027-07-10T10:00:00+02:00"
    assert _local_datetime("2027-01-10T10:00", "Europe/Oslo") == "2027-01-10T10:00:00+01:00"
    assert _local_datetime("2027-07-10T10:00", "") == "2027-07-10T10:00"  # no zone: the model names the field
