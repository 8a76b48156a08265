"""A movement's departure and arrival are dated where a flight can be (explore6 #9 and its
"related" note), and a session's fan-out rows name their session (the session half of #10).

- A departure recorded long before the scheduled one was accepted (a movement scheduled for
  12-06 06:39+03 departed with departed_at 12-04 01:39Z, 50 hours early).  A ``departed_at``
  more than 12 hours before the scheduled ``departure_at`` is refused by the departure Update's
  validator (``rules.early_departure_problems``; rejected Updates are not in history, so
  recorded histories replay as they ran), naming the field, the scheduled time and what to do:
  a delay only moves a flight later, so one brought forward is cancelled and created again.
- The arrival's day was bounded by the departure instant's date in UTC-12 (any zone on Earth),
  though the arrival airport's zone is known: IST -> OSL departed 2026-12-04T01:46Z is the 4th in
  Oslo, so an arrival there dated the 3rd is impossible.  The API refuses it before the arrival
  is sent (``api.airports.arrival_day_refusal``: the IATA table's ``tz``, read at the API's
  edge); the workflow's UTC-12 bound stays, for an airport without a zone.
- An orientation session's attendance reached each case with the route's template
  (``.../{session_id}/attendance``) and no session: the fan-out fills it in the activity
  (``with_session_in_audit``: ``... (OS-...)``), as a movement's fan-out does.

Pure tests first, then through the API on the real stack.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from activities.orientation_sessions import with_session_in_audit
from api.airports import arrival_day_refusal, time_zone_of
from domain.arrival_day import arrival_too_early
from domain.model import Actor
from domain.movements import commands as c
from domain.movements.model import MovementDetails
from domain.movements.rules import EARLIEST_DEPARTURE_BEFORE_SCHEDULE, early_departure_problems
from domain.records import AuditStamp
from domain.sessions.records import OrientationRequest
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.stack import Stack
from tests.test_movements import _call, _case_in_movement_stage, _check_fit_to_travel, _details, _fan_out_done, _family
from tests.test_movements import _ok, login_all
from tests.test_orientation_sessions import DESTINATION, _in_orientation, _session
from tests.test_orientation_sessions import _fan_out_done as _session_fanned_out

SCHEDULED = datetime.fromisoformat("2026-12-06T06:39:00+03:00")


def _scheduled(at: datetime = SCHEDULED) -> MovementDetails:
    return MovementDetails.model_validate(_details(capacity=3) | {"departure_at": at.isoformat(), "arrival_at": None,
                                                                  "transit": []})


# --- pure ----------------------------------------------------------------------------------------


def test_a_departure_more_than_12_hours_before_the_scheduled_one_is_named_with_what_to_do() -> None:
    details = _scheduled()
    assert EARLIEST_DEPARTURE_BEFORE_SCHEDULE == timedelta(hours=12)
    # The tester's: 50 hours early.
    [problem] = early_departure_problems(details, datetime(2026, 12, 4, 1, 39, tzinfo=UTC))
    assert (problem.field, problem.rule, problem.case_id) == ("departed_at", "departure_too_early", "*")
    assert "50 hours before the scheduled departure (2026-12-06T06:39:00+03:00)" in problem.message, problem.message
    assert "departed_at must be 2026-12-05T18:39:00+03:00 or later" in problem.message
    # What the officer can do: a delay does not bring a flight forward (it is refused there).
    assert "cancel this movement and create one with the earlier time" in problem.message
    # The bound itself: 12 hours early is a late-night departure rescheduled on the day; a second more is not.
    assert early_departure_problems(details, SCHEDULED - timedelta(hours=12)) == []
    assert early_departure_problems(details, SCHEDULED - timedelta(hours=12, seconds=1)) != []
    # Late (a delay not recorded) is for the cases' own rules (fit to travel within 72 hours), not this one.
    assert early_departure_problems(details, SCHEDULED + timedelta(hours=30)) == []
    # The same instant in another offset is the same time.
    assert early_departure_problems(details, datetime.fromisoformat("2026-12-05T20:39:00+05:00")) == []


def test_the_rules_are_in_the_schema() -> None:
    departed = c.ConfirmDeparture.model_json_schema()["properties"]["departed_at"]["description"]
    assert "not more than 12 hours before the movement's scheduled departure_at" in departed, departed
    assert "2199-12-31" in departed  # the flight time's own rule stays
    arrived = c.ConfirmArrival.model_json_schema()["properties"]["arrived_on"]["description"]
    assert "arrival airport's time zone" in arrived and "UTC-12" in arrived, arrived
    delay = c.DelayMovement.model_json_schema()["properties"]["departure_at"]["description"]
    assert "later than the current one" in delay  # why the message does not offer a delay


async def test_an_arrival_before_the_departures_day_at_the_arrival_airport_is_refused() -> None:
    departed = datetime(2026, 12, 4, 1, 46, tzinfo=UTC)  # Istanbul 04:46, Oslo 02:46 on the 4th
    assert time_zone_of("OSL") == ZoneInfo("Europe/Oslo") and time_zone_of("ZZZ") is None
    # UTC-12 (any zone on Earth) let the 3rd through; Oslo's calendar does not.
    assert arrival_too_early(date(2026, 12, 3), departed) is None
    refused = await arrival_day_refusal(date(2026, 12, 3), departed, "OSL")
    assert refused is not None and (refused.status, refused.code) == (422, "invalid_command")
    [detail] = refused.details
    assert detail["field"] == "arrived_on" and detail["allowed"] == "2026-12-04 or later (in Europe/Oslo)", detail
    for said in ("2026-12-03", "2026-12-04 02:46", "OSL", "Europe/Oslo"):  # the departure on Oslo's clock
        assert said in refused.message, refused.message
    assert await arrival_day_refusal(date(2026, 12, 4), departed, "OSL") is None
    # Flying west, the day before is right: New York is still on the 3rd (20:46).
    assert await arrival_day_refusal(date(2026, 12, 3), departed, "JFK") is None
    assert await arrival_day_refusal(date(2026, 12, 2), departed, "JFK") is not None
    # No zone known (no such airport here): the workflow's UTC-12 bound judges it.
    assert await arrival_day_refusal(date(2026, 12, 3), departed, "ZZZ") is None
    assert await arrival_day_refusal(date(2026, 12, 3), None, "OSL") is None


def test_a_session_fan_out_request_names_its_session_in_the_cases_audit_row() -> None:
    request = OrientationRequest(session_id="OS-0123456789ABCDEF", case_id="C-1", member_id="C-1-M1", update_id="u",
                                 session_date=date(2026, 12, 4), language="ar", facilitator="Leyla Osman",
                                 actor=Actor.system(),
                                 audit=AuditStamp(action="POST /api/v1/orientation-sessions/{session_id}/attendance"))
    stamped = with_session_in_audit(request)
    assert stamped.audit is not None
    assert stamped.audit.action == "POST /api/v1/orientation-sessions/{session_id}/attendance (OS-0123456789ABCDEF)"
    assert with_session_in_audit(stamped).audit == stamped.audit  # a retry's (or a split's re-sent) request: once
    assert request.audit is not None and "(OS-" not in request.audit.action  # the workflow's own untouched
    assert with_session_in_audit(request.model_copy(update={"audit": None})).audit is None


# --- through the API -----------------------------------------------------------------------------


async def test_a_departure_half_a_day_early_and_an_arrival_before_its_day_in_oslo_are_refused(
        driver: CaseDriver, stack: Stack) -> None:
    await login_all(driver)
    case = await _case_in_movement_stage(driver, _family(2))
    movement = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=9, hours=8))
    mid = movement["movement_id"]
    scheduled = datetime.fromisoformat(movement["details"]["departure_at"])
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": case["case_id"]})
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/lock")
    await _fan_out_done(driver, mid)
    await _check_fit_to_travel(driver, case["case_id"])
    locked = await _ok(driver, "GET", f"/api/v1/movements/{mid}")

    # 13 hours before the scheduled time (five hours ago): refused, naming the field, the time and what to do.
    early = (scheduled - timedelta(hours=13)).isoformat()
    r = await _call(driver, "POST", f"/api/v1/movements/{mid}/departure", json={"departed_at": early})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_command" and [(d["field"], d["rule"]) for d in error["details"]] == [
        ("departed_at", "departure_too_early")], error
    assert scheduled.isoformat() in error["message"] and "cancel this movement" in error["message"], error
    after = await _ok(driver, "GET", f"/api/v1/movements/{mid}")
    assert (after["status"], after["version"]) == ("locked", locked["version"])  # nothing recorded
    assert (await _ok(driver, "GET", f"/api/v1/cases/{case['case_id']}", "fatma"))["key_dates"]["departed_at"] is None

    # Now (eight hours early: a flight brought forward on the day) it departs.
    departed_at = datetime.now(UTC).replace(microsecond=0)
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/departure", json={"departed_at": departed_at.isoformat()})
    assert (await _fan_out_done(driver, mid))["status"] == "departed"
    await stack.temporal.get_workflow_handle(mid).result()

    # The arrival: the day before the departure's own day in Oslo is refused at the API, naming the
    # departure instant and the zone; the workflow and the case are not reached.
    oslo_day = departed_at.astimezone(ZoneInfo("Europe/Oslo")).date()
    r = await _call(driver, "POST", f"/api/v1/movements/{mid}/arrival",
                    json={"arrived_on": (oslo_day - timedelta(days=1)).isoformat(), "place": "Oslo"})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert [d["field"] for d in error["details"]] == ["arrived_on"], error
    on_oslo_clock = f"{departed_at.astimezone(ZoneInfo('Europe/Oslo')):%Y-%m-%d %H:%M}"
    assert on_oslo_clock in error["message"] and "Europe/Oslo" in error["message"], error
    assert (await _ok(driver, "GET", f"/api/v1/movements/{mid}"))["arrived_on"] is None
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/arrival", json={"arrived_on": oslo_day.isoformat(),
                                                                       "place": "Oslo"})
    arrived = await _fan_out_done(driver, mid)
    assert arrived["arrived_on"] == oslo_day.isoformat()
    assert [e["arrival"]["applied"] for e in arrived["manifest"]] == [True], arrived["manifest"]


async def _trail(driver: CaseDriver, case_id: str) -> list[str]:
    r = await driver.client.get("/api/v1/audit", params={"case_id": case_id, "limit": 200},
                                headers=await driver.login("fatma"))
    assert r.status_code == 200, r.text
    return [e["action"] for e in r.json()]


async def test_a_sessions_attendance_rows_in_the_cases_trail_name_the_session(driver: CaseDriver,
                                                                              stack: Stack) -> None:
    await login_all(driver)
    case = await _in_orientation(driver, referral(office="IST", size=1, destination_country=DESTINATION))
    case_id, member_id = case["case_id"], case["members"][0]["member_id"]
    sid = (await _ok(driver, "POST", "/api/v1/orientation-sessions", "ayse",
                     json=_session(capacity=4)))["session_id"]
    await _ok(driver, "POST", f"/api/v1/orientation-sessions/{sid}/participants", "ayse",
              json={"participants": [{"case_id": case_id}]})
    await _ok(driver, "POST", f"/api/v1/orientation-sessions/{sid}/attendance", "ayse",
              json={"attendance": [{"member_id": member_id, "attended": True}]})
    await _session_fanned_out(driver, sid)
    rows = [a for a in await _trail(driver, case_id) if a.startswith("POST /api/v1/orientation-sessions/")]
    assert all(a.endswith(f"({sid})") for a in rows), rows  # none with the template alone
    # The fan-out's own row (no address: the worker writes it), not only the answer's.
    fan_out = await stack.pool.fetch("SELECT action, actor_id FROM audit_log WHERE case_id = $1 AND source_ip IS NULL "
                                     "AND action LIKE 'POST /api/v1/orientation-sessions/%'", case_id)
    assert [(r["action"], r["actor_id"]) for r in fan_out] == [
        (f"POST /api/v1/orientation-sessions/{{session_id}}/attendance ({sid})", "ayse")], fan_out
