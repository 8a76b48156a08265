"""A movement's departure zone is its departure airport's, and its departure time is written
on that clock (explore: "departure_time_zone not checked against the departure airport").

A movement from IST created with ``departure_time_zone`` America/New_York was accepted and
shown departing "02:00 (New York)"; the day-of-travel rules (visa, clearance) are judged in
that zone, so a visa valid until the 20th passed for a flight leaving Istanbul at 00:30 on
the 21st.  And ``departure_at`` ``...T10:00:00-05:00`` with Europe/Istanbul was taken
silently, 8 hours off the 10:00 meant.  At the API's edge (create and delay; the IATA table's
``tz``, ``api.airports``): a zone whose UTC offset at the departure is not the airport's zone's
then is refused at ``departure_time_zone`` (offsets compared, so an alias such as Asia/Istanbul
is the airport's clock); a ``departure_at`` with another offset than the zone's at that
instant is refused at ``departure_at`` naming the offset expected (UTC, ``Z``, is an instant
and taken as such).  An airport without a zone in the table is not judged.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from api.airports import departure_zone_refusal, local_offset_refusal, utc_offset_text
from tests.support.driver import CaseDriver
from tests.support.stack import Stack
from tests.test_movements import _call, _case_in_movement_stage, _check_fit_to_travel, _details, _fan_out_done
from tests.test_movements import _family, _ok, login_all

ISTANBUL = ZoneInfo("Europe/Istanbul")


async def test_a_zone_off_the_departure_airports_clock_is_refused_an_alias_is_not() -> None:
    leaves = datetime.fromisoformat("2026-12-20T10:00:00+03:00")
    refused = await departure_zone_refusal(leaves, "America/New_York", "IST")
    assert refused is not None and refused.status == 422
    [detail] = refused.details
    assert detail["field"] == "body.departure_time_zone" and detail["allowed"].startswith("Europe/Istanbul"), detail
    for said in ("UTC-05:00", "IST", "Europe/Istanbul", "UTC+03:00", "2026-12-20 10:00"):
        assert said in detail["reason"], detail["reason"]
    assert await departure_zone_refusal(leaves, "Asia/Istanbul", "IST") is None  # an alias: the same clock
    assert await departure_zone_refusal(leaves, "Europe/Istanbul", "ADB") is None  # Izmir: the same zone
    assert await departure_zone_refusal(leaves, "Europe/Moscow", "IST") is None  # +03:00 that day too
    assert await departure_zone_refusal(leaves, "UTC", "IST") is not None
    assert await departure_zone_refusal(leaves, "America/New_York", "ZZZ") is None  # no zone known: not judged
    # Offsets at the departure instant: Oslo is +01:00 in December, +02:00 in July.
    assert await departure_zone_refusal(datetime.fromisoformat("2026-07-01T10:00:00+02:00"), "Europe/Berlin",
                                        "OSL") is None
    assert await departure_zone_refusal(datetime.fromisoformat("2026-07-01T10:00:00+02:00"), "Europe/London",
                                        "OSL") is not None


def test_a_departure_written_with_another_offset_than_its_zones_is_refused() -> None:
    refused = local_offset_refusal(datetime.fromisoformat("2026-12-20T10:00:00-05:00"), "Europe/Istanbul")
    assert refused is not None and refused.status == 422
    [detail] = refused.details
    assert detail["field"] == "body.departure_at", detail
    assert detail["allowed"].startswith("+03:00 in Europe/Istanbul on 2026-12-20"), detail
    assert "-05:00" in detail["reason"] and "2026-12-20T18:00:00+03:00" in detail["reason"], detail["reason"]
    assert local_offset_refusal(datetime.fromisoformat("2026-12-20T10:00:00+03:00"), "Europe/Istanbul") is None
    assert local_offset_refusal(datetime.fromisoformat("2026-12-20T07:00:00+00:00"), "Europe/Istanbul") is None
    assert local_offset_refusal(datetime.fromisoformat("2026-07-01T10:00:00+01:00"), "Europe/Oslo") is not None
    assert local_offset_refusal(datetime.fromisoformat("2026-07-01T10:00:00+02:00"), "Europe/Oslo") is None
    assert [utc_offset_text(timedelta(hours=h, minutes=m)) for h, m in ((3, 0), (-5, 0), (5, 45), (-3, -30))] == [
        "+03:00", "-05:00", "+05:45", "-03:30"]


async def test_create_and_delay_refuse_a_departure_off_the_airports_clock(driver: CaseDriver, stack: Stack) -> None:
    await login_all(driver)
    leaves = (datetime.now(UTC) + timedelta(hours=30)).replace(microsecond=0, second=0).astimezone(ISTANBUL)
    body = _details(capacity=9, flight_number="XC4441", transit=[], arrival_at=None) | {
        "departure_at": leaves.isoformat()}

    async def refused(sent: dict[str, object]) -> dict[str, object]:
        r = await _call(driver, "POST", "/api/v1/movements", json=sent)
        assert r.status_code == 422, r.text
        return r.json()["error"]

    # The tester's: a flight from IST in New York's zone.
    error = await refused(body | {"departure_time_zone": "America/New_York"})
    assert [d["field"] for d in error["details"]] == ["body.departure_time_zone"], error
    assert "Europe/Istanbul" in error["details"][0]["allowed"], error
    # Istanbul's zone, the time written 8 hours off (New York's offset).
    off = leaves.replace(tzinfo=ZoneInfo("America/New_York"))
    error = await refused(body | {"departure_at": off.isoformat()})
    assert [d["field"] for d in error["details"]] == ["body.departure_at"], error
    assert error["details"][0]["allowed"].startswith("+03:00 in Europe/Istanbul on"), error
    listed = await _ok(driver, "GET", "/api/v1/movements", params={"limit": 200})
    assert "XC4441" not in [m["flight_number"] for m in listed["items"]]  # nothing created

    # An alias of the airport's zone, the time on its clock: created, as is a time written in UTC.
    created = await _ok(driver, "POST", "/api/v1/movements", json=body | {"departure_time_zone": "Asia/Istanbul"})
    assert created["details"]["departure_time_zone"] == "Asia/Istanbul"
    in_utc = await _ok(driver, "POST", "/api/v1/movements",
                       json=body | {"flight_number": "XC4442", "departure_at": leaves.astimezone(UTC).isoformat()})
    assert datetime.fromisoformat(in_utc["details"]["departure_at"]) == leaves

    # A delay: the new time with another offset than the movement's zone is refused, nothing changes.
    case = await _case_in_movement_stage(driver, _family(1))
    mid = in_utc["movement_id"]
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": case["case_id"]})
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/lock")
    locked = await _fan_out_done(driver, mid)
    await _check_fit_to_travel(driver, case["case_id"])
    later = leaves + timedelta(hours=2)
    r = await _call(driver, "POST", f"/api/v1/movements/{mid}/delay", json={
        "departure_at": later.replace(tzinfo=ZoneInfo("America/New_York")).isoformat(), "reason": "Slot moved."})
    assert r.status_code == 422, r.text
    [detail] = r.json()["error"]["details"]
    assert detail["field"] == "body.departure_at" and detail["allowed"].startswith(
        f"{utc_offset_text(later.utcoffset())} in Europe/Istanbul"), detail
    assert (await _ok(driver, "GET", f"/api/v1/movements/{mid}"))["version"] == locked["version"]
    delayed = await _ok(driver, "POST", f"/api/v1/movements/{mid}/delay",
                        json={"departure_at": later.isoformat(), "reason": "Slot moved."})
    assert datetime.fromisoformat(delayed["details"]["departure_at"]) == later

    # The rules are in the routes' descriptions.
    spec = (await driver.client.get("/openapi.json")).json()
    assert "departure airport's clock" in spec["paths"]["/api/v1/movements"]["post"]["description"]
    assert "departure_time_zone's UTC offset" in spec["paths"]["/api/v1/movements/{movement_id}/delay"]["post"][
        "description"]


async def test_the_ui_form_shows_the_zone_refused_next_to_its_field(driver: CaseDriver, stack: Stack) -> None:
    from tests.support.browser import signed_in
    from tests.support.pages import Page
    from tests.test_ui_movements import _flight, _posted, _typed

    leaves = (datetime.now(UTC) + timedelta(hours=30)).replace(microsecond=0, second=0)
    async with signed_in(stack, "emre") as emre:
        page = Page((await emre.get("/ui/movements")).text)
        flight = _flight()
        typed = _typed(flight, leaves) | {"departure_time_zone": "America/New_York"}
        shown = await emre.post("/ui/movements", data=_posted(page) | typed)
        assert shown.status_code == 422, shown.text
        assert "Europe/Istanbul" in shown.text and "The movement was not created" in shown.text
