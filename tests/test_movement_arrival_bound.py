"""A movement's arrival is not dated after today in its office (explore: "arrival dated
tomorrow frozen on the movement").

The movement's workflow bounds ``arrived_on`` by tomorrow in UTC, but every case judges its
``confirm_arrival`` form's ``arrived_on`` (a ``HappenedOn``) against today in its office's
zone: an arrival dated tomorrow was recorded on the movement, refused by every case, and could
not be corrected (a second arrival is ``arrival_confirmed``).  The API refuses it before
anything is sent (``api.routes.movements.arrival_future_refusal``: the cases' own form,
judged on the office's today), 422 at ``arrived_on`` naming the day allowed and the zone; the
UI's arrival form goes through the same route.

Pure first (the tester's instant), then through the API and the UI on the real stack.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from api.routes.movements import ARRIVAL_DAY_RULE, arrival_future_refusal
from domain.movements import commands as c
from tests.support.driver import CaseDriver
from tests.support.stack import Stack
from tests.test_movements import _call, _case, _case_in_movement_stage, _check_fit_to_travel, _details, _events
from tests.test_movements import _fan_out_done, _family, _ok, login_all

ISTANBUL = ZoneInfo("Europe/Istanbul")


def _arrival(arrived_on: date) -> c.ConfirmArrival:
    return c.ConfirmArrival(arrived_on=arrived_on, place="Toronto", receiving_partner="COSTI")


def test_an_arrival_after_today_in_the_office_is_refused_as_the_cases_would() -> None:
    # The tester's: departed 09:37Z on 4 December, the arrival confirmed a minute later, dated the 5th.
    now = datetime(2026, 12, 4, 9, 38, tzinfo=UTC)
    refused = arrival_future_refusal(_arrival(date(2026, 12, 5)), "IST", now)
    assert refused is not None and (refused.status, refused.code) == (422, "invalid_command")
    [detail] = refused.details
    assert detail["field"] == "arrived_on", detail
    assert detail["allowed"] == "2026-12-04 or earlier (today in the office's zone Europe/Istanbul)", detail
    assert "must not be in the future (today is 2026-12-04)" in detail["reason"]  # the cases' own words
    assert "2026-12-05" in refused.message and "Europe/Istanbul" in refused.message, refused.message
    assert arrival_future_refusal(_arrival(date(2026, 12, 4)), "IST", now) is None
    assert arrival_future_refusal(_arrival(date(2026, 12, 3)), "IST", now) is None
    # The office's calendar, not UTC's: at 22:30Z on the 4th it is 01:30 on the 5th in Istanbul, and the
    # 5th is today there; the 6th is still refused (the workflow's "tomorrow in UTC" let it through).
    late = datetime(2026, 12, 4, 22, 30, tzinfo=UTC)
    assert arrival_future_refusal(_arrival(date(2026, 12, 5)), "IST", late) is None
    [detail] = arrival_future_refusal(_arrival(date(2026, 12, 6)), "IST", late).details  # type: ignore[union-attr]
    assert detail["allowed"].startswith("2026-12-05 or earlier"), detail


def test_the_rule_is_in_the_routes_description() -> None:
    from api.app import create_app
    from tests.support.stack import stack_settings

    schema = create_app(stack_settings()).openapi()
    arrival = schema["paths"]["/api/v1/movements/{movement_id}/arrival"]["post"]
    assert arrival["description"] == ARRIVAL_DAY_RULE and "today in the movement's office" in ARRIVAL_DAY_RULE


async def test_an_arrival_dated_tomorrow_is_refused_and_nothing_recorded_today_reaches_the_cases(
        driver: CaseDriver, stack: Stack) -> None:
    from tests.support.browser import signed_in
    from tests.support.pages import Page

    await login_all(driver)
    case = await _case_in_movement_stage(driver, _family(2))
    mid = (await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=9, hours=8, flight_number="XC4431")))[
        "movement_id"]
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": case["case_id"]})
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/lock")
    await _fan_out_done(driver, mid)
    await _check_fit_to_travel(driver, case["case_id"])
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/departure",
              json={"departed_at": datetime.now(UTC).replace(microsecond=0).isoformat()})
    departed = await _fan_out_done(driver, mid)
    assert departed["status"] == "departed"

    # Tomorrow in Istanbul (the office's zone): refused at arrived_on, naming the day allowed; nothing recorded.
    today = datetime.now(ISTANBUL).date()
    tomorrow = today + timedelta(days=1)
    arrival = {"arrived_on": tomorrow.isoformat(), "place": "Oslo", "receiving_partner": "Oslo municipality"}
    r = await _call(driver, "POST", f"/api/v1/movements/{mid}/arrival", json=arrival)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    [detail] = error["details"]
    assert detail["field"] == "arrived_on" and "Europe/Istanbul" in detail["allowed"], error
    assert detail["allowed"].startswith(f"{today.isoformat()} or earlier")
    after = await _ok(driver, "GET", f"/api/v1/movements/{mid}")
    assert (after["arrived_on"], after["version"], after["fan_out"]) == (None, departed["version"],
                                                                          departed["fan_out"])
    assert "ArrivalConfirmed" not in [e["type"] for e in await _events(driver, case["case_id"])]

    # The UI's arrival form goes through the same route: the same refusal, said on the page.
    async with signed_in(stack, "emre") as emre:
        page = Page((await emre.get(f"/ui/movements/{mid}")).text)
        refused = await emre.post(f"/ui/movements/{mid}/arrival", data={
            "csrf_token": page.csrf, "arrived_on": tomorrow.isoformat(), "place": "Oslo"})
        assert "Arrival confirmed" not in refused.text and "Europe/Istanbul" in refused.text, refused.text
    assert (await _ok(driver, "GET", f"/api/v1/movements/{mid}"))["arrived_on"] is None

    # Today (in Istanbul, never before the departure's day in Oslo): recorded on the case.
    arrival["arrived_on"] = today.isoformat()
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/arrival", json=arrival)
    arrived = await _fan_out_done(driver, mid)
    assert arrived["arrived_on"] == today.isoformat()
    assert [(e["arrival"]["outcome"], e["arrival"]["applied"]) for e in arrived["manifest"]] == [("arrived", True)], \
        arrived["manifest"]
    assert (await _case(driver, case["case_id"]))["key_dates"]["arrived_on"] == today.isoformat()
    assert [e["type"] for e in await _events(driver, case["case_id"])].count("ArrivalConfirmed") == 1


# --- a closed case on an open manifest is named before the lock (explore: "withdrawn case stays
# on an open manifest with nothing saying so until the lock is refused") -----------------------


async def test_a_case_withdrawn_on_an_open_manifest_is_named_in_the_rule_check(driver: CaseDriver,
                                                                              stack: Stack) -> None:
    await login_all(driver)
    going, leaving = [await _case_in_movement_stage(driver, _family(1)) for _ in range(2)]
    mid = (await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=9, flight_number="XC4432")))[
        "movement_id"]
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases",
              json={"case_ids": [going["case_id"], leaving["case_id"]]})
    assert (await _ok(driver, "GET", f"/api/v1/movements/{mid}"))["rule_check"] == []
    await _ok(driver, "POST", f"/api/v1/cases/{leaving['case_id']}/withdraw", "ayse",
              json={"reason": "The family decided not to travel."})
    closure = (await _case(driver, leaving["case_id"]))["closure_reason"]
    shown = await _ok(driver, "GET", f"/api/v1/movements/{mid}")
    [problem] = shown["rule_check"]
    assert (problem["case_id"], problem["rule"]) == (leaving["case_id"], "case_closed"), problem
    assert leaving["case_id"] in problem["message"] and "take it off" in problem["message"], problem
    assert not closure or closure in problem["message"], (closure, problem)
    # The lock refuses the same case for the same rule; taken off, the rule check is clear.
    r = await _call(driver, "POST", f"/api/v1/movements/{mid}/lock")
    assert r.status_code == 409 and [(d["case_id"], d["rule"]) for d in r.json()["error"]["details"]] == [
        (leaving["case_id"], "case_closed")], r.text
    removed = await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases/{leaving['case_id']}/remove",
                        json={"reason": "Case withdrawn."})
    assert removed["rule_check"] == []
