"""A delayed movement counts its seats for the new day of travel.

An infant under 2 on the day of travel flies on a lap and takes no seat; a case of minors only
travels as unaccompanied minors.  Both depend on the day of travel, which a delay moves: a
baby who turns 2 between the old and the new departure takes a seat on the new one, and a
teenager who turns 18 makes the case no longer unaccompanied.  The delay itself is the
airline's fact and is never refused for it; the seats that no longer fit are named in the
movement's ``rule_check`` (case, member, rule) and the lock and the departure are refused
until the movement officer takes a case off (or, at the departure, records the family that did
not board).  Pure decide / fold tests, then one through the API on the real stack, which
records the history of the patched behaviour (``delay-recount-v1``, ``departure-seats-v1``)
for tests/test_replay.py.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from api.routes.movements import view
from domain.model import Actor, Stage
from domain.movements import commands as c
from domain.movements.decide import MovementRejected, decide, fold
from domain.movements.export import manifest_rows
from domain.movements.model import CaseFacts, FanOutResult, MemberFacts, MovementDetails, MovementState
from tests.support.driver import CaseDriver
from tests.support.factories import member, referral
from tests.support.stack import Stack
from tests.test_movements import _fan_out_done, _ok

OFFICER = Actor(id="emre", role="movement_officer")
NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
DEPARTS = datetime(2026, 12, 2, 10, tzinfo=ZoneInfo("Europe/Istanbul"))  # the day of travel: 2 December
DELAYED = DEPARTS + timedelta(days=1)  # 3 December
BABY_BORN = date(2024, 12, 3)  # 1 on 2 December 2026, 2 on 3 December: a lap, then a seat
TEEN_BORN = date(2008, 12, 3)  # 17 on 2 December 2026, 18 on 3 December


def _details(capacity: int, escorts: list[dict[str, str]] | None = None) -> MovementDetails:
    return MovementDetails.model_validate({
        "kind": "charter", "flight_number": "XC4409", "carrier": "Corendon", "departure_airport": "IST",
        "arrival_airport": "OSL", "departure_at": DEPARTS.isoformat(), "departure_time_zone": "Europe/Istanbul",
        "arrival_at": (DEPARTS + timedelta(hours=5)).isoformat(), "seat_capacity": capacity,
        "escorts": escorts if escorts is not None else [{"name": "Elif Arslan", "kind": "operational"}],
        "office": "IST"})


def _facts(case_id: str, *born: date, booked_at: datetime | None = None) -> CaseFacts:
    """A case waiting for its booking (or, ``booked_at``, booked on the flight at that time with
    its departure task open and every member checked fit to travel 10 hours before)."""
    members = [MemberFacts(member_id=f"{case_id}-M{i}", full_name=f"{case_id} person {i}", date_of_birth=b,
                           health="cleared", visa="issued", visa_valid_until=date(2027, 6, 1),
                           fit_to_travel_at=booked_at - timedelta(hours=10) if booked_at else None)
               for i, b in enumerate(born)]
    if booked_at is None:
        return CaseFacts(case_id=case_id, office="IST", programme="resettlement", stage=Stage.MOVEMENT,
                         open_tasks={"book_movement": f"{case_id}-T1"}, members=members)
    return CaseFacts(case_id=case_id, office="IST", programme="resettlement", stage=Stage.MOVEMENT,
                     open_tasks={"record_departure": f"{case_id}-T2"}, members=members, booked_flight="XC4409",
                     booked_departure_at=booked_at)


def _run(state: MovementState | None, command: Any, facts: list[CaseFacts] | None = None,
         now: datetime = NOW, **flags: bool) -> MovementState:
    return fold(decide(state, command, now, OFFICER, facts, **flags), state, "MV-9")


def _family_and_single(capacity: int) -> tuple[MovementState, list[CaseFacts]]:
    """An open movement with a parent and the baby (one seat: the baby on a lap) and one adult."""
    facts = [_facts("C-1", date(1990, 5, 1), BABY_BORN), _facts("C-2", date(1985, 2, 1))]
    state = _run(None, c.CreateMovement(details=_details(capacity)))
    state = _run(state, c.AddCase(case_ids=["C-1", "C-2"]), facts)
    assert (state.people, state.seats_taken) == (3, 2) and state.manifest[0].members[1].lap_infant
    return state, facts


def _delay(state: MovementState, facts: list[CaseFacts], **flags: bool) -> MovementState:
    return _run(state, c.DelayMovement(departure_at=DELAYED, reason="Technical fault: a spare aircraft."), facts,
                **flags)


def test_a_delay_past_a_babys_second_birthday_gives_the_baby_a_seat_and_names_the_overbooking() -> None:
    state, facts = _family_and_single(capacity=2)
    delayed = _delay(state, facts)  # the airline's fact: never refused for the seats
    event = decide(state, c.DelayMovement(departure_at=DELAYED, reason="Technical fault."), NOW, OFFICER, facts)[0]
    assert [(case, [r.member_id for r in rs]) for case, rs in event.recount.items()] == [("C-1", ["C-1-M1"])]
    baby = delayed.manifest[0].members[1]
    assert (baby.lap_infant, baby.seat_since_delay) == (False, True)
    assert (delayed.people, delayed.seats_taken) == (3, 3)

    # What the movement officer sees: the whole manifest over capacity, and who needs the seat.
    seen = view(delayed)
    assert (seen.seats_taken, seen.seats_left) == (3, -1)
    assert [(p.case_id, p.rule, p.member_id) for p in seen.rule_check] == [
        ("*", "capacity", None), ("C-1", "capacity", "C-1-M1")]
    assert "2026-12-03" in seen.rule_check[0].message and "take a case off" in seen.rule_check[0].message
    assert [row.seat for row in manifest_rows(delayed, {}) if row.kind == "passenger"] == ["seat", "seat", "seat"]

    # The lock is refused, naming the baby; adding a case counts the seats left on the new day.
    with pytest.raises(MovementRejected) as refused:
        decide(delayed, c.LockManifest(), NOW, OFFICER, facts)
    assert refused.value.code == "manifest_rules"
    assert [(d["case_id"], d["rule"], d["member_id"]) for d in refused.value.details] == [
        ("*", "capacity", None), ("C-1", "capacity", "C-1-M1")]

    # The officer takes the single traveller off: the seats fit again, and the lock goes ahead.
    fits = _run(delayed, c.RemoveCase(case_id="C-2", reason="Rebooked on the next flight: no seat after the delay."))
    assert view(fits).rule_check == [] and fits.seats_taken == 2
    assert _run(fits, c.LockManifest(), facts[:1]).status == "locked"


def test_a_delay_that_keeps_the_baby_under_two_changes_nothing_and_older_histories_keep_their_count() -> None:
    state, facts = _family_and_single(capacity=2)
    same_day = _run(state, c.DelayMovement(departure_at=DEPARTS + timedelta(hours=3), reason="Slot."), facts)
    assert same_day.manifest == state.manifest and view(same_day).rule_check == []
    # A history decided before the recount (DELAY_RECOUNT_PATCH) keeps the seats of the day the
    # cases joined: its later decisions replay as they were made.
    before = _delay(state, facts, delay_recount=False)
    assert before.manifest == state.manifest and before.seats_taken == 2


def test_a_teenager_turning_18_ends_the_unaccompanied_minor_need_but_not_what_the_officer_listed() -> None:
    facts = [_facts("C-3", TEEN_BORN, date(2014, 1, 1))]
    state = _run(None, c.CreateMovement(details=_details(5)))
    state = _run(state, c.AddCase(case_ids=["C-3"]), facts)
    assert [m.needs for m in state.manifest[0].members] == [["unaccompanied_minor"]] * 2
    state = _run(state, c.RecordNeeds(case_id="C-3", member_id="C-3-M1", needs=["wheelchair"]))
    delayed = _delay(state, facts)
    assert [(m.needs, m.case_needs) for m in delayed.manifest[0].members] == [([], []), (["wheelchair"], [])]
    assert [row.seat for row in manifest_rows(delayed, {}) if row.kind == "passenger"] == ["seat", "seat; wheelchair"]


def test_a_locked_movement_delayed_past_the_birthday_cannot_depart_until_the_seats_fit() -> None:
    state, facts = _family_and_single(capacity=2)
    state = _run(state, c.LockManifest(), facts)
    state = _run(state, c.RecordFanOut(step="booking", results=[
        FanOutResult(case_id=f.case_id, outcome="booked", applied=True) for f in facts]))
    delayed = _delay(state, facts)
    assert delayed.pending_delays == ["C-1", "C-2"] and delayed.delay_problems == []  # nobody dropped for the seats
    delayed = _run(delayed, c.RecordFanOut(step="delay", results=[
        FanOutResult(case_id=f.case_id, outcome="rebooked", applied=True) for f in facts]))
    assert [(p.case_id, p.rule, p.member_name) for p in view(delayed).rule_check] == [
        ("*", "capacity", None), ("C-1", "capacity", "C-1 person 1")]

    after = DELAYED + timedelta(minutes=20)
    booked = [_facts(f.case_id, *(m.date_of_birth for m in f.members), booked_at=DELAYED) for f in facts]
    departure = c.ConfirmDeparture(departed_at=DELAYED)
    for given in (None, booked):  # the validator (the state alone) and the handler (with the cases' facts)
        with pytest.raises(MovementRejected) as refused:
            decide(delayed, departure, after, OFFICER, given)
        assert [(d["case_id"], d["rule"], d["member_id"]) for d in refused.value.details] == [
            ("*", "capacity", None), ("C-1", "capacity", "C-1-M1")], refused.value.details
        assert "not_boarded" in refused.value.message
    # A history decided before the rule (DEPARTURE_SEATS_PATCH) departs as it did.
    assert decide(delayed, departure, after, OFFICER, booked, departure_seats=False)

    # The airline boarded the seats it had: the single traveller stayed behind.
    stayed = c.ConfirmDeparture(departed_at=DELAYED, not_boarded=[{"case_id": "C-2", "reason": "No seat left."}])
    departed = _run(delayed, stayed, booked, now=after)
    assert departed.status == "departed" and [e.boarded for e in departed.manifest] == [True, False]
    assert view(departed).rule_check == []


# --- through the API, on the real stack ---------------------------------------------------------


async def test_a_delayed_charter_through_the_api_names_the_baby_and_refuses_the_seats_and_an_early_departure(
        driver: CaseDriver, stack: Stack) -> None:
    for username in ("ayse", "selin", "deniz", "emre", "fatma"):
        await driver.login(username)
    zone = ZoneInfo("Europe/Istanbul")
    departs = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    day = departs.astimezone(zone).date()
    # The baby's second birthday is the day after the day of travel (29 February: 1 March, and
    # the flight is delayed by two days then), so it is 1 on the first day and 2 on the new one.
    birthday = day + timedelta(days=1)
    hours = 48 if (birthday.month, birthday.day) == (2, 29) else 24
    born = date(birthday.year - 2, 3, 1) if hours == 48 else birthday.replace(year=birthday.year - 2)
    family = referral(office="IST", size=2)
    family["members"][-1] = member("Baby Haddad", born.isoformat(), "child")
    cases = []
    for body in (family, referral(office="IST", size=1)):
        case = await driver.advance(await driver.refer(body, "ayse"), until=Stage.MOVEMENT)
        assert [t["task_type"] for t in case["open_tasks"]] == ["book_movement"]
        cases.append(case)
    movement = await _ok(driver, "POST", "/api/v1/movements", json={
        "kind": "charter", "flight_number": "XC4410", "carrier": "Corendon", "departure_airport": "IST",
        "arrival_airport": "OSL", "departure_at": departs.isoformat(), "departure_time_zone": "Europe/Istanbul",
        "seat_capacity": 2, "escorts": [{"name": "Elif Arslan", "kind": "operational"}], "office": "IST"})
    mid = movement["movement_id"]
    added = await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases",
                      json={"case_ids": [c_["case_id"] for c_ in cases]})
    assert (added["people"], added["seats_taken"], added["rule_check"]) == (3, 2, [])
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/lock")
    await _fan_out_done(driver, mid)

    later = departs + timedelta(hours=hours)
    delayed = await _ok(driver, "POST", f"/api/v1/movements/{mid}/delay",
                        json={"departure_at": later.isoformat(), "reason": "Crew rest after a technical fault."})
    baby = cases[0]["members"][-1]
    assert (delayed["seats_taken"], delayed["seats_left"]) == (3, -1)
    assert [(p["case_id"], p["rule"], p["member_id"]) for p in delayed["rule_check"]] == [
        ("*", "capacity", None), (cases[0]["case_id"], "capacity", baby["member_id"])]
    person = delayed["manifest"][0]["members"][-1]
    assert (person["lap_infant"], person["seat_since_delay"]) == (False, True)
    delayed = await _fan_out_done(driver, mid)
    assert [e["delay"]["applied"] for e in delayed["manifest"]] == [True, True], delayed["manifest"]

    # Every member is checked fit to travel for the new time; the departure is still refused on the seats.
    for case in cases:
        detail = await _ok(driver, "GET", f"/api/v1/cases/{case['case_id']}", "fatma")
        for task in [t for t in detail["open_tasks"] if t["task_type"] == "check_fit_to_travel"]:
            await driver.complete(task, "IST")
    departed_at = datetime.now(UTC).replace(microsecond=0)
    r = await driver.client.post(f"/api/v1/movements/{mid}/departure", headers=await driver.login("emre"),
                                 json={"departed_at": departed_at.isoformat()})
    assert r.status_code == 409, r.text
    assert [(d["case_id"], d["rule"], d["member_name"]) for d in r.json()["error"]["details"]] == [
        ("*", "capacity", None), (cases[0]["case_id"], "capacity", baby["full_name"])]

    # With the single traveller not boarded the seats fit, but the flight now leaves a day later:
    # a departure recorded now, more than 12 hours before it, is refused naming departed_at (the
    # family departing without the traveller is decided above, purely, at the new time).  The
    # airline offers no earlier flight: the movement is cancelled, both cases back to rebooking.
    r = await driver.client.post(f"/api/v1/movements/{mid}/departure", headers=await driver.login("emre"), json={
        "departed_at": departed_at.isoformat(), "not_boarded": [{"case_id": cases[1]["case_id"],
                                                                 "reason": "No seat left after the delay."}]})
    assert r.status_code == 422 and [d["field"] for d in r.json()["error"]["details"]] == ["departed_at"], r.text
    assert later.isoformat() in r.json()["error"]["message"], r.text
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cancel", json={"reason": "No aircraft until next week."})
    assert (await _fan_out_done(driver, mid))["status"] == "cancelled"
    for case in cases:
        back = await _ok(driver, "GET", f"/api/v1/cases/{case['case_id']}", "fatma")
        assert [t["task_type"] for t in back["open_tasks"]] == ["book_movement"], back["open_tasks"]
    handle = stack.temporal.get_workflow_handle(mid)
    await asyncio.wait_for(handle.result(), timeout=60)
    if os.environ.get("ITINERA_RECORD_HISTORIES"):  # replayed by tests/test_replay.py from then on
        history = await handle.fetch_history()
        path = Path(__file__).parent / "histories" / "movement_delay_recount.json"
        path.write_text(json.dumps({"workflow_id": mid, "history": json.loads(history.to_json())}, indent=1))
