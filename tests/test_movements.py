"""Group movements (issue 13) through the API, on the real stack: a charter of several
multi-member cases locked (every case booked on its flight by the fan-out), departed (every
case's departure recorded exactly once, a family that did not board back to rebooking), a
repeated confirmation that changes nothing, manifest rules named at add and at lock,
office scoping, and a cancellation fanned out."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.model import Stage
from domain.movements import commands as c
from domain.movements.decide import MovementRejected, decide, fold
from domain.movements.model import CaseFacts, MemberFacts, MovementDetails
from tests.support.driver import CaseDriver
from tests.support.factories import member, referral
from tests.support.stack import Stack
from tests.support.waiting import eventually

OFFICER = "emre"  # movement officer, IST and IZM


def _details(capacity: int, *, hours: float = 30, office: str = "IST", **overrides: Any) -> dict[str, Any]:
    departs = (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0)
    body = {"kind": "charter", "flight_number": "XC4401", "charter_id": "IOM-CH-2026-17", "carrier": "Corendon",
            "departure_airport": "IST", "arrival_airport": "OSL", "departure_at": departs.isoformat(),
            "departure_time_zone": "Europe/Istanbul",
            "transit": [{"airport": "ARN", "arrives_at": (departs + timedelta(hours=3)).isoformat(),
                         "departs_at": (departs + timedelta(hours=4)).isoformat()}],
            "arrival_at": (departs + timedelta(hours=6)).isoformat(),
            "seat_capacity": capacity, "escorts": [{"name": "Elif Arslan", "kind": "operational"},
                                                   {"name": "Dr. Kaya", "kind": "medical"}],
            "office": office}
    return body | overrides


def _family(size: int, *, infant: bool = False, office: str = "IST") -> dict[str, Any]:
    body = referral(office=office, size=size)
    if infant:  # the youngest is under 2 on the day of travel: on a lap, no seat
        born = (date.today() - timedelta(days=200)).isoformat()
        body["members"][-1] = member("Baby Haddad", born, "child")
    return body


async def _case_in_movement_stage(driver: CaseDriver, body: dict[str, Any], username: str = "ayse") -> dict[str, Any]:
    case = await driver.refer(body, username)
    case = await driver.advance(case, until=Stage.MOVEMENT)
    assert case["stage"] == "movement" and [t["task_type"] for t in case["open_tasks"]] == ["book_movement"]
    return case


async def login_all(driver: CaseDriver) -> None:
    """One login per account, before cases are worked in parallel (the login throttle)."""
    for username in ("ayse", "selin", "deniz", "emre", "fatma"):
        await driver.login(username)


async def _call(driver: CaseDriver, method: str, path: str, username: str = OFFICER, **kwargs: Any) -> Any:
    return await driver.client.request(method, path, headers=await driver.login(username), **kwargs)


async def _ok(driver: CaseDriver, method: str, path: str, username: str = OFFICER, **kwargs: Any) -> dict[str, Any]:
    r = await _call(driver, method, path, username, **kwargs)
    assert r.status_code < 300, f"{method} {path} -> {r.status_code}: {r.text}"
    return r.json()


async def _fan_out_done(driver: CaseDriver, movement_id: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def done() -> bool:
        seen.update(await _ok(driver, "GET", f"/api/v1/movements/{movement_id}"))
        return seen["fan_out"]["pending"] == 0
    await eventually(done, timeout=90, interval=0.2, what=lambda: f"the fan-out of {movement_id}: {seen.get('fan_out')}")
    return seen


async def _events(driver: CaseDriver, case_id: str) -> list[dict[str, Any]]:
    return await _ok(driver, "GET", f"/api/v1/cases/{case_id}/events", "fatma")


async def _case(driver: CaseDriver, case_id: str) -> dict[str, Any]:
    return await _ok(driver, "GET", f"/api/v1/cases/{case_id}", "fatma")


async def test_a_charter_departs_every_case_recorded_exactly_once(driver: CaseDriver, stack: Stack) -> None:
    sizes = [2, 3, 1, 4, 2, 3, 5, 2, 3, 1]  # 26 people in 10 families; the first has an infant on a lap
    await login_all(driver)
    cases = []
    for batch in range(0, len(sizes), 5):  # a few at a time: two cores are shared
        cases += await asyncio.gather(*[_case_in_movement_stage(driver, _family(n, infant=(i == 0)))
                                        for i, n in enumerate(sizes[batch:batch + 5], start=batch)])
    people = sum(sizes)
    movement = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=people - 1, hours=8))
    movement_id = movement["movement_id"]
    assert movement["status"] == "open" and movement["people"] == 0
    for case in cases[:5]:  # one at a time, then the rest at once
        movement = await _ok(driver, "POST", f"/api/v1/movements/{movement_id}/cases", json={"case_id": case["case_id"]})
    movement = await _ok(driver, "POST", f"/api/v1/movements/{movement_id}/cases",
                         json={"case_ids": [case["case_id"] for case in cases[5:]]})
    assert [e["case_id"] for e in movement["manifest"]] == [case["case_id"] for case in cases]
    assert (movement["people"], movement["seats_taken"], movement["seats_left"]) == (people, people - 1, 0)
    assert movement["manifest"][0]["members"][-1]["lap_infant"] is True

    # The same case added again changes nothing; a case on this open movement is not free for another.
    again = await _ok(driver, "POST", f"/api/v1/movements/{movement_id}/cases", json={"case_id": cases[0]["case_id"]})
    assert again["version"] == movement["version"]
    other = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=50, flight_number="TK1751",
                                                                         kind="scheduled_block"))
    r = await _call(driver, "POST", f"/api/v1/movements/{other['movement_id']}/cases",
                    json={"case_id": cases[1]["case_id"]})
    assert r.status_code == 409 and r.json()["error"]["details"][0]["rule"] == "on_other_movement", r.text
    # A booking a group movement makes is the movement's: the case's own cancel-booking refuses it.
    mine = await _call(driver, "POST", f"/api/v1/cases/{cases[1]['case_id']}/cancel-booking",
                       json={"reason": "Not this one."})
    assert mine.status_code == 409 and mine.json()["error"]["code"] == "on_movement", mine.text

    # Lock: every case is booked on the charter's flight by its own workflow.
    await _ok(driver, "POST", f"/api/v1/movements/{movement_id}/lock")
    locked = await _fan_out_done(driver, movement_id)
    assert locked["status"] == "locked"
    assert [e["booking"]["applied"] for e in locked["manifest"]] == [True] * len(cases), locked["manifest"]
    departs = datetime.fromisoformat(locked["details"]["departure_at"])
    for case in cases:
        detail = await _case(driver, case["case_id"])
        assert datetime.fromisoformat(detail["key_dates"]["departure_at"]) == departs
        booked = [e["data"]["flight_number"] for e in await _events(driver, case["case_id"]) if e["type"] == "MovementBooked"]
        assert booked == ["XC4401"]
    r = await _call(driver, "POST", f"/api/v1/movements/{movement_id}/cases", json={"case_id": "C-NONE"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "movement_not_open"

    # Within 72 hours of the flight the fit-to-travel checks are open on every case: until they are
    # done the departure is refused, naming every member without one.
    r = await _call(driver, "POST", f"/api/v1/movements/{movement_id}/departure",
                    json={"departed_at": datetime.now(UTC).replace(microsecond=0).isoformat()})
    assert r.status_code == 409, r.text
    unchecked = [(d["case_id"], d["member_name"]) for d in r.json()["error"]["details"]]
    assert unchecked == [(case["case_id"], m["full_name"]) for case in cases for m in case["members"]]
    assert {d["rule"] for d in r.json()["error"]["details"]} == {"not_ready_to_depart"}
    for case in cases:
        detail = await _case(driver, case["case_id"])
        for task in [t for t in detail["open_tasks"] if t["task_type"] == "check_fit_to_travel"]:
            detail = await driver.complete(task, "IST")
        assert [t["task_type"] for t in detail["open_tasks"]] == ["record_departure"], detail["open_tasks"]

    # Departure: the last family did not come to the airport.
    no_show = cases[-1]["case_id"]
    departed_at = datetime.now(UTC).replace(microsecond=0).isoformat()
    confirmation = {"departed_at": departed_at, "not_boarded": [{"case_id": no_show, "reason": "Did not come to the airport."}]}
    await _ok(driver, "POST", f"/api/v1/movements/{movement_id}/departure", json=confirmation)
    departed = await _fan_out_done(driver, movement_id)
    assert departed["status"] == "departed"
    outcomes = {e["case_id"]: (e["departure"]["outcome"], e["departure"]["applied"]) for e in departed["manifest"]}
    assert outcomes == {c_["case_id"]: ("no_show" if c_["case_id"] == no_show else "departed", True) for c_ in cases}

    async def counts() -> dict[str, Counter]:
        return {case["case_id"]: Counter(e["type"] for e in await _events(driver, case["case_id"])) for case in cases}

    before = await counts()
    for case_id, count in before.items():
        if case_id == no_show:
            assert (count["CaseDeparted"], count["MovementNoShow"]) == (0, 1)
        else:
            assert (count["CaseDeparted"], count["MovementNoShow"]) == (1, 0), (case_id, count)
    back = await _case(driver, no_show)
    assert back["stage"] == "movement" and [t["task_type"] for t in back["open_tasks"]] == ["book_movement"]
    for case in cases:
        if case["case_id"] != no_show:
            assert (await _case(driver, case["case_id"]))["stage"] == "arrival"

    # The confirmation sent again, as it was or with another time: nothing changes anywhere.
    for body in (confirmation, {"departed_at": departed_at, "not_boarded": []}):
        repeated = await _ok(driver, "POST", f"/api/v1/movements/{movement_id}/departure", json=body)
        assert repeated["version"] == departed["version"]
    assert await counts() == before

    # The manifest for the airline: one row per person, then the escorts; no health details; audited per case.
    r = await _call(driver, "GET", f"/api/v1/movements/{movement_id}/manifest.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == ["row", "kind", "case_id", "member_id", "full_name", "date_of_birth", "sex", "nationality",
                             "document_number", "seat", "escort", "boarded"]
    passengers = [row for row in rows if row["kind"] == "passenger"]
    assert len(passengers) == people and [row["escort"] for row in rows if row["kind"] == "escort"] == ["operational", "medical"]
    assert [row["full_name"] for row in passengers] == [m["full_name"] for case in cases for m in case["members"]]
    assert all(row["document_number"].startswith("V-") and row["nationality"] == "SY" for row in passengers)
    assert [row["seat"] for row in passengers].count("lap infant (under 2)") == 1
    assert {row["boarded"] for row in passengers if row["case_id"] == no_show} == {"no"}
    assert not any(word in r.text.lower() for word in ("clearance", "treatment", "tb_", "follow"))
    audited = await stack.pool.fetch("SELECT case_id, actor_id FROM audit_log WHERE action LIKE $1",
                                     f"%manifest.csv ({movement_id})")
    assert sorted(a["case_id"] for a in audited) == sorted(case["case_id"] for case in cases)
    assert (await _call(driver, "GET", f"/api/v1/movements/{movement_id}/manifest.csv", "ayse")).status_code == 403
    assert (await _call(driver, "GET", f"/api/v1/movements/{movement_id}/manifest.csv", "ali")).status_code == 404

    # The case is free again for another movement once this one has departed.
    r = await _call(driver, "POST", f"/api/v1/movements/{other['movement_id']}/cases", json={"case_id": no_show})
    assert r.status_code == 200, r.text

    handle = stack.temporal.get_workflow_handle(movement_id)
    await handle.result()  # departed and every case reached: the movement's workflow has finished
    history = await handle.fetch_history()
    print(f"\nMovement {movement_id}: {len(cases)} cases, {people} people, {len(history.events)} history events")
    assert len(history.events) < 25 * len(cases)
    if os.environ.get("ITINERA_RECORD_HISTORIES"):  # replayed by tests/test_replay.py from then on
        path = Path(__file__).parent / "histories" / "movement_charter_10_cases.json"
        path.write_text(json.dumps({"workflow_id": movement_id, "history": json.loads(history.to_json())}, indent=1))


async def test_blocking_rules_are_named_at_add_and_at_lock(driver: CaseDriver) -> None:
    await login_all(driver)
    family, single, spare = await asyncio.gather(_case_in_movement_stage(driver, _family(3)),
                                                 _case_in_movement_stage(driver, _family(1)),
                                                 _case_in_movement_stage(driver, _family(2)))
    small = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=2, kind="commercial",
                                                                         flight_number="PC1202"))
    r = await _call(driver, "POST", f"/api/v1/movements/{small['movement_id']}/cases",
                    json={"case_id": family["case_id"]})
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "manifest_rules" and [d["rule"] for d in error["details"]] == ["capacity"]
    assert "needs 3 seats" in error["details"][0]["reason"]

    # A visa that ends before the day of travel names each member.
    late = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=9, hours=24 * 120))
    r = await _call(driver, "POST", f"/api/v1/movements/{late['movement_id']}/cases", json={"case_id": family["case_id"]})
    assert r.status_code == 409
    blocking = [(d["rule"], d["member_name"]) for d in r.json()["error"]["details"]]
    assert blocking == [("travel_document", m["full_name"]) for m in family["members"]], blocking

    # Both join; then one is withdrawn: the lock names it and its rule, and locks nothing.
    movement = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=9))
    mid = movement["movement_id"]
    for case in (family, single, spare):
        await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": case["case_id"]})
    await _ok(driver, "POST", f"/api/v1/cases/{single['case_id']}/withdraw", "ayse",
              json={"reason": "The family decided not to travel."})
    r = await _call(driver, "POST", f"/api/v1/movements/{mid}/lock")
    assert r.status_code == 409, r.text
    details = r.json()["error"]["details"]
    assert [(d["case_id"], d["rule"]) for d in details] == [(single["case_id"], "case_closed")]
    assert (await _ok(driver, "GET", f"/api/v1/movements/{mid}"))["status"] == "open"

    # Removed with a reason, the rest locks.
    removed = await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases/{single['case_id']}/remove",
                        json={"reason": "Case withdrawn."})
    assert [e["case_id"] for e in removed["manifest"]] == [family["case_id"], spare["case_id"]]
    assert removed["removed"][0]["reason"] == "Case withdrawn."
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/lock")
    assert [e["booking"]["applied"] for e in (await _fan_out_done(driver, mid))["manifest"]] == [True, True]

    # Off a locked manifest only with a reason; with its departure task open (the fit-to-travel
    # checks done), the case drops the booking through that task, and goes back to rebooking.
    r = await _call(driver, "POST", f"/api/v1/movements/{mid}/cases/{spare['case_id']}/remove", json={})
    assert r.status_code == 422, r.text
    for case in (family, spare):
        for task in [t for t in (await _case(driver, case["case_id"]))["open_tasks"]
                     if t["task_type"] == "check_fit_to_travel"]:
            await driver.complete(task, "IST")
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases/{spare['case_id']}/remove",
              json={"reason": "The family asked to travel later."})
    released = await _fan_out_done(driver, mid)
    assert [e["case_id"] for e in released["manifest"]] == [family["case_id"]]
    assert released["removed"][-1]["release"] == {"case_id": spare["case_id"], "outcome": "postponed", "applied": True,
                                                  "reason": None}
    back = await _case(driver, spare["case_id"])
    assert back["key_dates"]["departure_at"] is None and [t["task_type"] for t in back["open_tasks"]] == ["book_movement"]
    postponed = [e for e in await _events(driver, spare["case_id"]) if e["type"] == "MovementPostponed"]
    assert len(postponed) == 1 and "asked to travel later" in postponed[0]["data"]["reason"]

    # Cancelled: the booked case goes back to rebooking.
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cancel", json={"reason": "The charter was cancelled."})
    cancelled = await _fan_out_done(driver, mid)
    assert cancelled["status"] == "cancelled"
    assert cancelled["manifest"][0]["departure"] == {"case_id": family["case_id"], "outcome": "postponed",
                                                     "applied": True, "reason": None}
    back = await _case(driver, family["case_id"])
    assert back["key_dates"]["departure_at"] is None and [t["task_type"] for t in back["open_tasks"]] == ["book_movement"]
    events = Counter(e["type"] for e in await _events(driver, family["case_id"]))
    assert events["MovementPostponed"] == 1


async def test_any_case_leaves_a_locked_manifest_with_a_reason_and_the_rest_departs(driver: CaseDriver,
                                                                                     stack: Stack) -> None:
    """A locked manifest must never be held by one case: one taken off before its checks drops
    the booking itself (BookingCancelled, its check tasks cancelled); one withdrawn after the
    lock blocks the departure, by name, until it is taken off; the others then depart."""
    await login_all(driver)
    early, withdrawn, going = await asyncio.gather(*[_case_in_movement_stage(driver, _family(1)) for _ in range(3)])
    movement = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=9, hours=8))
    mid = movement["movement_id"]
    for case in (early, withdrawn, going):
        await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": case["case_id"]})
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/lock")
    assert all(e["booking"]["applied"] for e in (await _fan_out_done(driver, mid))["manifest"])

    # Before its fit-to-travel check: the case cancels its own booking, once.
    assert "check_fit_to_travel" in [t["task_type"] for t in (await _case(driver, early["case_id"]))["open_tasks"]]
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases/{early['case_id']}/remove",
              json={"reason": "The family asked to travel on a later flight."})
    released = await _fan_out_done(driver, mid)
    assert released["removed"][-1]["release"]["applied"] is True, released["removed"]
    back = await _case(driver, early["case_id"])
    assert back["key_dates"]["departure_at"] is None
    assert [t["task_type"] for t in back["open_tasks"]] == ["book_movement"]  # the checks went with the booking
    events = Counter(e["type"] for e in await _events(driver, early["case_id"]))
    assert events["BookingCancelled"] == 1 and events["MovementPostponed"] == 0

    # Withdrawn after the lock: the departure names it; taken off (nothing to undo on a closed
    # case), the rest departs.
    for case in (withdrawn, going):
        for task in [t for t in (await _case(driver, case["case_id"]))["open_tasks"]
                     if t["task_type"] == "check_fit_to_travel"]:
            await driver.complete(task, "IST")
    await _ok(driver, "POST", f"/api/v1/cases/{withdrawn['case_id']}/withdraw", "ayse",
              json={"reason": "The family decided not to travel."})
    departed_at = datetime.now(UTC).replace(microsecond=0).isoformat()
    r = await _call(driver, "POST", f"/api/v1/movements/{mid}/departure", json={"departed_at": departed_at})
    assert r.status_code == 409, r.text
    assert [(d["case_id"], d["rule"]) for d in r.json()["error"]["details"]] == [(withdrawn["case_id"], "case_closed")]
    off = await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases/{withdrawn['case_id']}/remove",
                    json={"reason": "Case withdrawn after the lock."})
    assert [e["case_id"] for e in off["manifest"]] == [going["case_id"]] and off["fan_out"]["pending"] == 0
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/departure", json={"departed_at": departed_at})
    departed = await _fan_out_done(driver, mid)
    assert [(e["case_id"], e["departure"]["outcome"], e["departure"]["applied"]) for e in departed["manifest"]] == [
        (going["case_id"], "departed", True)]
    assert Counter(e["type"] for e in await _events(driver, withdrawn["case_id"]))["MovementPostponed"] == 0
    handle = stack.temporal.get_workflow_handle(mid)
    await handle.result()
    await _record_history(handle, "movement_removals_after_lock.json")


async def test_a_case_on_hold_departs_with_the_movement_and_a_repeat_that_says_otherwise_is_refused(
        driver: CaseDriver, stack: Stack) -> None:
    """A case put on hold before the flight still departs with it: the departure is a fact the
    held case records (it stays on hold; before patch held-cases-depart-v1 the confirmation was
    refused naming it: tests/histories/movement_held_case_then_departed.json replays that).  Then
    the same confirmation again changes
    nothing, and one that says something else (another family not boarded, another time) is
    a 409, not silently ignored; an empty manifest cannot depart; a departure dated before the
    fit-to-travel checks is refused naming each person."""
    await login_all(driver)
    held, other = await asyncio.gather(*[_case_in_movement_stage(driver, _family(1)) for _ in range(2)])
    mid = (await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=9, hours=8)))["movement_id"]
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_ids": [held["case_id"], other["case_id"]]})
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/lock")
    await _fan_out_done(driver, mid)
    for case in (held, other):
        await _check_fit_to_travel(driver, case["case_id"])
    # A departure dated before the fit-to-travel checks (three hours ago; 11 before the scheduled
    # time, within its 12): every case would refuse it, so the movement refuses it first, naming
    # each person; nothing is recorded.
    early = {"departed_at": (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0).isoformat()}
    r = await _call(driver, "POST", f"/api/v1/movements/{mid}/departure", json=early)
    assert r.status_code == 409, r.text
    details = r.json()["error"]["details"]
    assert {(d["case_id"], d["field"]) for d in details} == {(held["case_id"], "departed_at"),
                                                            (other["case_id"], "departed_at")}, details
    assert (await _ok(driver, "GET", f"/api/v1/movements/{mid}"))["status"] == "locked"
    await _ok(driver, "POST", f"/api/v1/cases/{held['case_id']}/hold", "fatma", json={"reason": "Security check."})

    body = {"departed_at": datetime.now(UTC).replace(microsecond=0).isoformat()}
    departed = await _ok(driver, "POST", f"/api/v1/movements/{mid}/departure", json=body)
    assert departed["status"] == "departed"
    done = await _fan_out_done(driver, mid)
    assert [e["departure"]["applied"] for e in done["manifest"]] == [True, True]
    on_hold = await _case(driver, held["case_id"])
    assert (on_hold["status"], on_hold["stage"]) == ("on_hold", "arrival") and on_hold["key_dates"]["departed_at"]
    assert (await _ok(driver, "POST", f"/api/v1/movements/{mid}/departure", json=body))["version"] == done["version"]
    changed = {**body, "not_boarded": [{"case_id": other["case_id"], "reason": "It was the other family."}]}
    r = await _call(driver, "POST", f"/api/v1/movements/{mid}/departure", json=changed)
    assert r.status_code == 409 and r.json()["error"]["code"] == "departure_confirmed", r.text
    later = {"departed_at": (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0).isoformat()}
    assert (await _call(driver, "POST", f"/api/v1/movements/{mid}/departure", json=later)).status_code == 409
    handle = stack.temporal.get_workflow_handle(mid)
    await handle.result()
    await _record_history(handle, "movement_held_case_departs.json")

    # An empty manifest: nothing to depart (cancel it instead).
    empty = (await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=9, hours=8)))["movement_id"]
    lone = await _case_in_movement_stage(driver, _family(1))
    await _ok(driver, "POST", f"/api/v1/movements/{empty}/cases", json={"case_id": lone["case_id"]})
    await _ok(driver, "POST", f"/api/v1/movements/{empty}/lock")
    await _fan_out_done(driver, empty)
    await _ok(driver, "POST", f"/api/v1/movements/{empty}/cases/{lone['case_id']}/remove",
              json={"reason": "The family travels later."})
    await _fan_out_done(driver, empty)
    r = await _call(driver, "POST", f"/api/v1/movements/{empty}/departure", json=body)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "manifest", r.text


async def test_movement_input_is_strict_and_named(driver: CaseDriver) -> None:
    """Unknown fields, a count as text, a year no flight has, a departure years ahead: each a
    422 naming the field, nothing created or changed; the limits are in the served schema."""
    await login_all(driver)

    async def refused(path: str, body: dict[str, Any]) -> list[str]:
        r = await _call(driver, "POST", path, json=body)
        assert r.status_code == 422, f"{path} {body} -> {r.status_code}: {r.text}"
        return [d["field"] for d in r.json()["error"]["details"]]

    before = len((await _ok(driver, "GET", "/api/v1/movements"))["items"])
    assert any("pilot" in f for f in await refused("/api/v1/movements", _details(capacity=9) | {"pilot": "Bob"}))
    assert any("seat_capacity" in f for f in await refused("/api/v1/movements", _details(capacity=9)
                                                                                | {"seat_capacity": "3"}))
    assert any("seat_capacity" in f for f in await refused("/api/v1/movements", _details(capacity=9)
                                                                                | {"seat_capacity": True}))
    escorts = [{"name": "Elif Arslan", "kind": "operational", "phone": "x"}]
    assert any("escorts" in f for f in await refused("/api/v1/movements", _details(capacity=9) | {"escorts": escorts}))
    far = await refused("/api/v1/movements", _details(capacity=9) | {"departure_at": "9999-12-31T23:00:00Z",
                                                                    "arrival_at": None, "transit": []})
    assert any("departure_at" in f for f in far), far
    years = (datetime.now(UTC) + timedelta(days=3 * 366)).replace(microsecond=0).isoformat()
    ahead = await refused("/api/v1/movements", _details(capacity=9) | {"departure_at": years, "arrival_at": None,
                                                                      "transit": []})
    assert ahead == ["departure_at"], ahead
    assert len((await _ok(driver, "GET", "/api/v1/movements"))["items"]) == before

    mid = (await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=9)))["movement_id"]
    assert any("notify" in f for f in await refused(f"/api/v1/movements/{mid}/cancel", {"reason": "r", "notify": True}))
    new_time = (datetime.now(UTC) + timedelta(hours=40)).replace(microsecond=0).isoformat()
    assert any("foo" in f for f in await refused(f"/api/v1/movements/{mid}/delay",
                                                 {"departure_at": new_time, "reason": "Late.", "foo": 1}))
    assert (await _ok(driver, "GET", f"/api/v1/movements/{mid}"))["status"] == "open"  # nothing applied

    schema = (await driver.client.get("/openapi.json")).json()["components"]["schemas"]
    details = schema["MovementDetails"]
    assert details.get("additionalProperties") is False
    assert "2199-12-31" in json.dumps(details["properties"]["departure_at"])


async def test_a_charter_cancelled_days_before_its_flight_sends_its_cases_back_to_booking(driver: CaseDriver) -> None:
    """More than 72 hours before the flight no departure task is open yet: the case drops the
    booking itself (BookingCancelled), once, and books again."""
    await login_all(driver)
    family = await _case_in_movement_stage(driver, _family(2))
    movement = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=9, hours=120))
    mid = movement["movement_id"]
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": family["case_id"]})
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/lock")
    assert [e["booking"]["applied"] for e in (await _fan_out_done(driver, mid))["manifest"]] == [True]
    booked = await _case(driver, family["case_id"])
    assert booked["key_dates"]["departure_at"] is not None and booked["open_tasks"] == []  # checks wait for their timer

    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cancel", json={"reason": "The carrier cancelled the charter."})
    cancelled = await _fan_out_done(driver, mid)
    assert cancelled["manifest"][0]["departure"]["applied"] is True, cancelled["manifest"][0]
    back = await _case(driver, family["case_id"])
    assert back["key_dates"]["departure_at"] is None and [t["task_type"] for t in back["open_tasks"]] == ["book_movement"]
    events = Counter(e["type"] for e in await _events(driver, family["case_id"]))
    assert events["BookingCancelled"] == 1 and events["MovementPostponed"] == 0


async def test_movements_are_office_scoped_and_role_bound(driver: CaseDriver) -> None:
    movement = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=10))
    mid = movement["movement_id"]
    assert (await _call(driver, "GET", f"/api/v1/movements/{mid}", "ali")).status_code == 404  # IZM supervisor
    assert (await _call(driver, "POST", f"/api/v1/movements/{mid}/lock", "ali")).status_code == 404
    assert mid not in [m["movement_id"] for m in (await _ok(driver, "GET", "/api/v1/movements", "ali"))["items"]]
    assert mid in [m["movement_id"] for m in (await _ok(driver, "GET", "/api/v1/movements", "fatma"))["items"]]
    assert (await _call(driver, "GET", f"/api/v1/movements/{mid}", "ayse")).status_code == 403  # a caseworker
    r = await _call(driver, "POST", "/api/v1/movements", "ali", json=_details(capacity=10))
    assert r.status_code == 403  # not ali's office

    # Another office's case is answered as an unknown one: neither its existence nor its office
    # is revealed.
    izmir = await driver.refer(_family(2, office="IZM"), "mehmet")
    r = await _call(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": izmir["case_id"]})
    unknown = await _call(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": "C-0000-0000-0000"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "case_not_found", unknown.text
    assert r.status_code == 404 and r.json()["error"]["code"] == "case_not_found", r.text
    assert r.json()["error"]["message"].replace(izmir["case_id"], "C-X") == \
        unknown.json()["error"]["message"].replace("C-0000-0000-0000", "C-X")
    assert [d["rule"] for d in r.json()["error"]["details"]] == ["case_not_found"] and "IZM" not in r.text
    early = await driver.refer(_family(2))
    r = await _call(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": early["case_id"]})
    assert r.status_code == 409 and "wrong_stage" in [d["rule"] for d in r.json()["error"]["details"]], r.text
    r = await _call(driver, "POST", f"/api/v1/movements/{mid}/cases",
                    json={"case_ids": [early["case_id"], izmir["case_id"]]})
    assert r.status_code == 409, r.text  # several at once: all join or none, each blocking one named
    assert [(d["case_id"], d["rule"]) for d in r.json()["error"]["details"]][-1] == (izmir["case_id"], "case_not_found")
    assert (await _ok(driver, "GET", f"/api/v1/movements/{mid}"))["manifest"] == []


def test_decide_is_pure_and_a_repeated_confirmation_decides_nothing() -> None:
    from domain.model import Actor

    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    officer = Actor(id="emre", role="movement_officer")
    details = MovementDetails.model_validate(_details(capacity=3) | {"departure_at": "2026-12-02T10:00:00+03:00"})
    state = fold(decide(None, c.CreateMovement(details=details), now, officer), None, "MV-1")
    facts = CaseFacts(case_id="C-1", office="IST", programme="resettlement", stage=Stage.MOVEMENT,
                      open_tasks={"book_movement": "C-1-T9"},
                      members=[MemberFacts(member_id=f"M{i}", full_name=f"P {i}", date_of_birth=born, health="cleared",
                                           visa="issued", visa_valid_until=date(2027, 1, 1))
                               for i, born in enumerate([date(1990, 1, 1), date(2015, 1, 1), date(2025, 6, 1)])])
    state = fold(decide(state, c.AddCase(case_ids=["C-1"]), now, officer, [facts]), state, "MV-1")
    assert (state.people, state.seats_taken) == (3, 2)  # the infant born 2025-06 flies on a lap
    state = fold(decide(state, c.LockManifest(), now, officer, [facts]), state, "MV-1")
    with pytest.raises(MovementRejected) as refused:
        decide(state, c.ConfirmDeparture(departed_at=now), now, officer)
    assert refused.value.code == "movement_not_locked"  # bookings still being recorded
    from domain.movements.model import FanOutResult
    booked = c.RecordFanOut(step="booking", results=[FanOutResult(case_id="C-1", outcome="booked", applied=True)])
    state = fold(decide(state, booked, now, Actor.system()), state, "MV-1")
    state = fold(decide(state, c.ConfirmDeparture(departed_at=now), now, officer), state, "MV-1")
    assert state.pending_departures == ["C-1"]
    assert decide(state, c.ConfirmDeparture(departed_at=now), now, officer) == []


def test_a_case_leaves_a_locked_manifest_whatever_its_state() -> None:
    """Decided purely: what is undone on the case follows what the case shows; histories of
    the older rule (the patch not there) still refuse, as they did."""
    from domain.model import Actor, CaseStatus
    from domain.movements.model import FanOutResult

    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    officer = Actor(id="emre", role="movement_officer")
    details = MovementDetails.model_validate(_details(capacity=3) | {"departure_at": "2026-12-02T10:00:00+03:00"})
    facts = CaseFacts(case_id="C-1", office="IST", programme="resettlement", stage=Stage.MOVEMENT,
                      open_tasks={"book_movement": "C-1-T9"},
                      members=[MemberFacts(member_id="M0", full_name="P 0", date_of_birth=date(1990, 1, 1),
                                           health="cleared", visa="issued", visa_valid_until=date(2027, 1, 1))])
    state = fold(decide(None, c.CreateMovement(details=details), now, officer), None, "MV-1")
    state = fold(decide(state, c.AddCase(case_ids=["C-1"]), now, officer, [facts]), state, "MV-1")
    state = fold(decide(state, c.LockManifest(), now, officer, [facts]), state, "MV-1")
    booked = c.RecordFanOut(step="booking", results=[FanOutResult(case_id="C-1", outcome="booked", applied=True)])
    state = fold(decide(state, booked, now, Actor.system()), state, "MV-1")
    on_flight = facts.model_copy(update={"open_tasks": {"check_fit_to_travel": "C-1-T10"},
                                         "booked_flight": details.flight_number,
                                         "booked_departure_at": details.departure_at})
    remove = c.RemoveCase(case_id="C-1", reason="The family asked to travel later.")

    def removed(case: CaseFacts, **flags: bool) -> tuple[str | None, bool]:
        [event] = decide(state, remove, now, officer, [case], **flags)
        after = fold([event], state, "MV-1")
        return event.release_task_id, after.pending_releases == ["C-1"]

    # booked, checks not done: the case's own CancelBooking (no task), a release to fan out
    assert removed(on_flight) == (None, True)
    # booked, its departure task open: that task drops the booking
    ready = on_flight.model_copy(update={"open_tasks": {"record_departure": "C-1-T11"}})
    assert removed(ready) == ("C-1-T11", True)
    # closed, or rebooked by hand: nothing to undo, taken off only
    assert removed(on_flight.model_copy(update={"status": CaseStatus.CLOSED})) == (None, False)
    assert removed(on_flight.model_copy(update={"booked_flight": "TK1"})) == (None, False)
    # the older rule, for the histories that decided by it
    with pytest.raises(MovementRejected) as refused:
        decide(state, remove, now, officer, [on_flight], removal_always_possible=False)
    assert [p["rule"] for p in refused.value.details] == ["not_ready_to_depart"]
    assert removed(ready, removal_always_possible=False) == ("C-1-T11", True)


async def test_the_movement_page_adds_locks_and_confirms(driver: CaseDriver, stack: Stack) -> None:
    from tests.support.browser import signed_in
    from tests.support.pages import Page

    await login_all(driver)
    family = await _case_in_movement_stage(driver, _family(2))
    movement = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=9))
    url = f"/ui/movements/{movement['movement_id']}"
    async with signed_in(stack, OFFICER) as emre:
        listed = await emre.get("/ui/movements")
        assert movement["movement_id"] in listed.text
        page = Page((await emre.get(url)).text)
        added = await emre.post(f"{url}/add", data={"csrf_token": page.csrf, "case_id": family["case_id"]})
        assert f"Case {family['case_id']} is on the manifest." in added.text
        refused = await emre.post(f"{url}/add", data={"csrf_token": page.csrf, "case_id": "C-NOPE-NOPE-NOPE"})
        assert "notice--error" in refused.text  # named, nothing added
        locked = await emre.post(f"{url}/lock", data={"csrf_token": Page(added.text).csrf})
        assert "The manifest is locked" in locked.text
    assert [e["booking"]["applied"] for e in (await _fan_out_done(driver, movement["movement_id"]))["manifest"]] == [True]
    async with signed_in(stack, "ayse") as ayse:  # a caseworker has no movement pages
        assert (await ayse.get(url)).status_code == 403


def test_needs_boarding_delay_and_arrival_are_decided_purely() -> None:
    """The rules of issue 13's second part, without the stack: special needs against the
    escorts (at lock), a delay that drops the case whose visa ends before the new day (each
    member named), a per-person boarding sheet (the same sheet again decides nothing) whose
    one absent person takes the whole family back to rebooking, and an arrival confirmed once."""
    from domain.model import Actor
    from domain.movements.model import FanOutResult
    from domain.movements.rules import manifest_members

    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    officer = Actor(id="emre", role="movement_officer")
    details = MovementDetails.model_validate(_details(capacity=9) | {
        "departure_at": "2026-12-02T10:00:00+03:00", "arrival_at": "2026-12-02T14:00:00+01:00", "transit": [],
        "escorts": [{"name": "Elif Arslan", "kind": "operational"}]})

    def facts(case_id: str, visa_until: date, born: list[date]) -> CaseFacts:
        return CaseFacts(case_id=case_id, office="IST", programme="resettlement", stage=Stage.MOVEMENT,
                         open_tasks={"book_movement": f"{case_id}-T9"},
                         members=[MemberFacts(member_id=f"{case_id}-M{i}", full_name=f"{case_id} person {i}",
                                              date_of_birth=b, health="cleared", visa="issued",
                                              visa_valid_until=visa_until) for i, b in enumerate(born)])

    family = facts("C-1", date(2027, 1, 1), [date(1990, 1, 1), date(2015, 1, 1)])
    short = facts("C-2", date(2026, 12, 3), [date(1985, 5, 5)])
    minors = facts("C-3", date(2027, 1, 1), [date(2012, 3, 3), date(2014, 4, 4)])
    assert [m.needs for m in manifest_members(minors, details)] == [["unaccompanied_minor"]] * 2  # escorted: fine
    state = fold(decide(None, c.CreateMovement(details=details), now, officer), None, "MV-1")
    state = fold(decide(state, c.AddCase(case_ids=["C-1", "C-2"]), now, officer, [family, short]), state, "MV-1")
    stretcher = c.RecordNeeds(case_id="C-1", member_id="C-1-M0", needs=["stretcher"])
    state = fold(decide(state, stretcher, now, officer), state, "MV-1")
    assert decide(state, stretcher, now, officer) == []
    with pytest.raises(MovementRejected) as blocked:
        decide(state, c.LockManifest(), now, officer, [family, short])
    assert [(d["rule"], d["member_id"]) for d in blocked.value.details] == [("special_needs", "C-1-M0")]
    assert "no medical escort" in blocked.value.message
    state = fold(decide(state, c.RecordNeeds(case_id="C-1", member_id="C-1-M0", needs=["wheelchair"]), now, officer),
                 state, "MV-1")
    state = fold(decide(state, c.LockManifest(), now, officer, [family, short]), state, "MV-1")
    booked = [FanOutResult(case_id=x, outcome="booked", applied=True) for x in ("C-1", "C-2")]
    state = fold(decide(state, c.RecordFanOut(step="booking", results=booked), now, Actor.system()), state, "MV-1")

    later = datetime(2026, 12, 4, 10, tzinfo=UTC)
    with pytest.raises(MovementRejected):  # a delay moves the flight later
        decide(state, c.DelayMovement(departure_at=now + timedelta(hours=2), reason="Earlier"), now, officer, [])
    delayed = decide(state, c.DelayMovement(departure_at=later, reason="Crew rest"), now, officer, [family, short])
    assert set(delayed[0].drop) == {"C-2"} and [p.rule for p in delayed[0].problems] == ["travel_document"]
    assert delayed[0].details.arrival_at == details.arrival_at + (later - details.departure_at)  # moved as much
    state = fold(delayed, state, "MV-1")
    assert state.pending_delays == ["C-1", "C-2"] and state.details.departure_at == later
    with pytest.raises(MovementRejected) as pending:
        decide(state, c.ConfirmDeparture(departed_at=now), now, officer)
    assert pending.value.code == "fan_out_pending"
    answered = [FanOutResult(case_id="C-1", outcome="rebooked", applied=True),
                FanOutResult(case_id="C-2", outcome="postponed", applied=True)]
    state = fold(decide(state, c.RecordFanOut(step="delay", results=answered), now, Actor.system()), state, "MV-1")
    assert [e.case_id for e in state.manifest] == ["C-1"] and state.removed[-1].case_id == "C-2"

    sheet = c.RecordBoarding(records=[{"case_id": "C-1", "member_id": "C-1-M0", "boarded": True},
                                      {"case_id": "C-1", "member_id": "C-1-M1", "boarded": False,
                                       "reason": "Fever at check-in"}])
    state = fold(decide(state, sheet, now, officer), state, "MV-1")
    assert decide(state, sheet, now, officer) == []  # the same sheet again
    departed = fold(decide(state, c.ConfirmDeparture(departed_at=now), now, officer), state, "MV-1")
    assert departed.manifest[0].boarded is False
    assert departed.manifest[0].not_boarded_reason == "C-1 person 1 did not board: Fever at check-in"

    # Everyone boarded instead: the arrival reaches the departed case, once.
    state = fold(decide(state, c.RecordBoarding(records=[{"case_id": "C-1", "member_id": "C-1-M1", "boarded": True}]),
                        now, officer), state, "MV-1")
    state = fold(decide(state, c.ConfirmDeparture(departed_at=now), now, officer), state, "MV-1")
    with pytest.raises(MovementRejected) as early:
        decide(state, c.ConfirmArrival(arrived_on=now.date(), place="Oslo"), now, officer)
    assert early.value.code == "fan_out_pending"
    state = fold(decide(state, c.RecordFanOut(step="departure", results=[
        FanOutResult(case_id="C-1", outcome="departed", applied=True)]), now, Actor.system()), state, "MV-1")
    arrival = c.ConfirmArrival(arrived_on=now.date(), place="Oslo")
    state = fold(decide(state, arrival, now, officer), state, "MV-1")
    assert state.pending_arrivals == ["C-1"] and decide(state, arrival, now, officer) == []
    with pytest.raises(MovementRejected) as other:
        decide(state, c.ConfirmArrival(arrived_on=now.date(), place="Bergen"), now, officer)
    assert other.value.code == "arrival_confirmed"


async def _record_history(handle: Any, name: str) -> None:
    """With ITINERA_RECORD_HISTORIES=1: the latest run's history, replayed by tests/test_replay.py."""
    if os.environ.get("ITINERA_RECORD_HISTORIES"):
        history = await handle.fetch_history()
        path = Path(__file__).parent / "histories" / name
        path.write_text(json.dumps({"workflow_id": handle.id, "history": json.loads(history.to_json())}, indent=1))


async def _check_fit_to_travel(driver: CaseDriver, case_id: str) -> dict[str, Any]:
    detail = await _case(driver, case_id)
    for task in [t for t in detail["open_tasks"] if t["task_type"] == "check_fit_to_travel"]:
        detail = await driver.complete(task, "IST")
    return detail


async def test_needs_delay_boarding_arrival_and_the_pdf(driver: CaseDriver, stack: Stack) -> None:
    """A locked charter is delayed (the case whose visa ends before the new day goes back to
    rebooking, its members named; the others move to the new time with their fit-to-travel
    checks open again); it cannot depart now, a day before its new time, so it is cancelled and
    the families fly on an evening charter, which boards per person (a family with one absent person goes back to
    rebooking; the sheet recorded twice changes nothing), departs, and its arrival reaches the
    departed case once (after the movement's workflow had finished).  The manifest's PDF and
    CSV are audited per case; the movement page shows the boarding sheet, delay and arrival."""
    from tests.support.browser import signed_in

    await login_all(driver)
    departs = (datetime.now(UTC) + timedelta(hours=26)).replace(microsecond=0)
    travel_day = departs.astimezone(ZoneInfo("Europe/Istanbul")).date()
    short_visa = {"outcome": "issued", "visa_number": "V-SHORT-0001", "issued_on": date.today().isoformat(),
                  "valid_until": travel_day.isoformat()}
    staying, absent = await asyncio.gather(_case_in_movement_stage(driver, _family(3)),
                                           _case_in_movement_stage(driver, _family(2)))
    short = await driver.advance(await driver.refer(_family(1)), until=Stage.MOVEMENT, forms={"record_visa": short_visa})
    cases = [staying, absent, short]
    body = _details(capacity=9, hours=26, flight_number="XC4402") | {
        "departure_at": departs.isoformat(), "escorts": [{"name": "Elif Arslan", "kind": "operational"}]}
    movement = await _ok(driver, "POST", "/api/v1/movements", json=body)
    mid = movement["movement_id"]
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_ids": [c_["case_id"] for c_ in cases]})

    # Special needs: a stretcher without a medical escort is named per person and blocks the lock.
    needs = f"/api/v1/movements/{mid}/cases/{staying['case_id']}/members/{staying['members'][0]['member_id']}/needs"
    listed = await _ok(driver, "POST", needs, json={"needs": ["stretcher"]})
    assert [(p["rule"], p["member_id"]) for p in listed["rule_check"]] == [
        ("special_needs", staying["members"][0]["member_id"])]
    r = await _call(driver, "POST", f"/api/v1/movements/{mid}/lock")
    assert r.status_code == 409 and [d["rule"] for d in r.json()["error"]["details"]] == ["special_needs"], r.text
    r = await _call(driver, "POST", needs, json={"needs": ["jetpack"]})
    assert r.status_code == 422, r.text
    listed = await _ok(driver, "POST", needs, json={"needs": ["wheelchair"]})
    assert listed["rule_check"] == [] and listed["manifest"][0]["members"][0]["needs"] == ["wheelchair"]
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/lock")
    await _fan_out_done(driver, mid)
    for case in cases:
        await _check_fit_to_travel(driver, case["case_id"])

    # Delayed by a day: the short visa's case is dropped (each member named), the others moved.
    later = departs + timedelta(hours=24)
    delayed = await _ok(driver, "POST", f"/api/v1/movements/{mid}/delay",
                        json={"departure_at": later.isoformat(), "reason": "Crew rest after a technical fault."})
    assert [(p["case_id"], p["rule"], p["member_name"]) for p in delayed["delay_problems"]] == [
        (short["case_id"], "travel_document", short["members"][0]["full_name"])]
    delayed = await _fan_out_done(driver, mid)
    assert [e["case_id"] for e in delayed["manifest"]] == [staying["case_id"], absent["case_id"]]
    assert [(e["delay"]["outcome"], e["delay"]["applied"]) for e in delayed["manifest"]] == [("rebooked", True)] * 2, \
        [e["delay"] for e in delayed["manifest"]]
    assert delayed["removed"][-1]["case_id"] == short["case_id"] and "V-SHORT" not in delayed["removed"][-1]["reason"]
    assert datetime.fromisoformat(delayed["details"]["departure_at"]) == later
    for case in (staying, absent):
        detail = await _case(driver, case["case_id"])
        assert datetime.fromisoformat(detail["key_dates"]["departure_at"]) == later
        assert sorted(t["task_type"] for t in detail["open_tasks"]) == ["check_fit_to_travel"] * len(case["members"])
        booked = [e["data"]["departure_at"] for e in await _events(driver, case["case_id"]) if e["type"] == "MovementBooked"]
        assert [datetime.fromisoformat(b) for b in booked] == [departs, later]
    back = await _case(driver, short["case_id"])
    assert back["key_dates"]["departure_at"] is None and [t["task_type"] for t in back["open_tasks"]] == ["book_movement"]
    for case in (staying, absent):
        await _check_fit_to_travel(driver, case["case_id"])

    # Delayed to tomorrow, the flight does not leave now: a departure more than 12 hours before its
    # scheduled time is refused, naming departed_at (tests/test_movement_time_bounds.py).  The airline
    # offers an evening charter instead: this movement is cancelled (its cases back to rebooking) and
    # the families fly on a new one (a delay only moves a flight later).
    r = await _call(driver, "POST", f"/api/v1/movements/{mid}/departure",
                    json={"departed_at": datetime.now(UTC).replace(microsecond=0).isoformat()})
    assert r.status_code == 422 and [d["field"] for d in r.json()["error"]["details"]] == ["departed_at"], r.text
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cancel", json={"reason": "Families moved to the evening charter."})
    assert (await _fan_out_done(driver, mid))["status"] == "cancelled"
    delayed_handle = stack.temporal.get_workflow_handle(mid)
    await delayed_handle.result()
    await _record_history(delayed_handle, "movement_delay_then_cancel.json")
    evening = _details(capacity=9, hours=8, flight_number="XC4412") | {
        "escorts": [{"name": "Elif Arslan", "kind": "operational"}]}
    mid = (await _ok(driver, "POST", "/api/v1/movements", json=evening))["movement_id"]
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_ids": [staying["case_id"], absent["case_id"]]})
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases/{staying['case_id']}/members/"
                              f"{staying['members'][0]['member_id']}/needs", json={"needs": ["wheelchair"]})
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/lock")
    locked = await _fan_out_done(driver, mid)
    assert [e["booking"]["applied"] for e in locked["manifest"]] == [True, True], locked["manifest"]
    for case in (staying, absent):
        await _check_fit_to_travel(driver, case["case_id"])

    # The boarding sheet: one of the second family did not board.  Recorded twice: nothing changes.
    gone = absent["members"][1]
    sheet = {"records": [{"case_id": e["case_id"], "member_id": p["member_id"], "boarded": p["member_id"] != gone["member_id"],
                          "reason": None if p["member_id"] != gone["member_id"] else "Refused boarding: fever."}
                         for e in locked["manifest"] for p in e["members"]]}
    boarded = await _ok(driver, "POST", f"/api/v1/movements/{mid}/boarding", json=sheet)
    assert (await _ok(driver, "POST", f"/api/v1/movements/{mid}/boarding", json=sheet))["version"] == boarded["version"]
    r = await _call(driver, "POST", f"/api/v1/movements/{mid}/boarding",
                    json={"records": [{"case_id": absent["case_id"], "member_id": gone["member_id"], "boarded": False}]})
    assert r.status_code == 422, r.text  # not boarded needs the reason
    async with signed_in(stack, OFFICER) as emre:
        page = (await emre.get(f"/ui/movements/{mid}")).text
        assert "Boarding sheet" in page and "Delay the flight" in page and "manifest.pdf" in page
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/departure",
              json={"departed_at": datetime.now(UTC).replace(microsecond=0).isoformat()})
    departed = await _fan_out_done(driver, mid)
    assert {e["case_id"]: e["departure"]["outcome"] for e in departed["manifest"]} == {
        staying["case_id"]: "departed", absent["case_id"]: "no_show"}
    no_show = [e for e in await _events(driver, absent["case_id"]) if e["type"] == "MovementNoShow"]
    assert len(no_show) == 1 and f"{gone['full_name']} did not board: Refused boarding: fever." in no_show[0]["data"]["reason"]

    # The arrival, after the movement's workflow has finished: reaches the departed case, once.
    handle = stack.temporal.get_workflow_handle(mid)
    await handle.result()
    await _record_history(handle, "movement_boarding_departure.json")
    landed = datetime.now(ZoneInfo("Europe/Oslo")).date()  # the day in Oslo's calendar (not before the departure's there)
    arrival = {"arrived_on": landed.isoformat(), "place": "Oslo", "receiving_partner": "Oslo municipality"}
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/arrival", json=arrival)
    arrived = await _fan_out_done(driver, mid)
    assert arrived["arrived_on"] == landed.isoformat()
    assert [e["arrival"] for e in arrived["manifest"]] == [
        {"case_id": staying["case_id"], "outcome": "arrived", "applied": True, "reason": None}, None]
    before = Counter(e["type"] for e in await _events(driver, staying["case_id"]))
    assert before["ArrivalConfirmed"] == 1
    assert (await _ok(driver, "POST", f"/api/v1/movements/{mid}/arrival", json=arrival))["version"] == arrived["version"]
    assert Counter(e["type"] for e in await _events(driver, staying["case_id"])) == before
    assert (await _case(driver, staying["case_id"]))["stage"] != "arrival"
    await handle.result()  # the arrival's run: started from the departed movement's result, finished
    await _record_history(handle, "movement_arrival_run.json")

    # The printable PDF: the CSV's rows, movement officers and supervisors only, audited per case.
    r = await _call(driver, "GET", f"/api/v1/movements/{mid}/manifest.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf" and r.content[:5] == b"%PDF-", r.text
    rows = list(csv.DictReader(io.StringIO((await _call(driver, "GET", f"/api/v1/movements/{mid}/manifest.csv")).text)))
    assert [(row["full_name"], row["seat"], row["boarded"]) for row in rows if row["kind"] == "passenger"][:2] == [
        (staying["members"][0]["full_name"], "seat; wheelchair", "yes"), (staying["members"][1]["full_name"], "seat", "yes")]
    assert [row["boarded"] for row in rows if row["case_id"] == absent["case_id"]] == ["yes", "no"]
    audited = await stack.pool.fetch("SELECT case_id FROM audit_log WHERE action LIKE $1", f"%manifest.pdf ({mid})")
    assert sorted(a["case_id"] for a in audited) == sorted([staying["case_id"], absent["case_id"]])
    assert (await _call(driver, "GET", f"/api/v1/movements/{mid}/manifest.pdf", "ayse")).status_code == 403
    assert (await _call(driver, "GET", f"/api/v1/movements/{mid}/manifest.pdf", "ali")).status_code == 404


async def test_the_movement_page_boards_delays_departs_and_confirms_the_arrival(driver: CaseDriver, stack: Stack) -> None:
    """The UI's boarding sheet, delay and arrival forms go through the same routes."""
    from tests.support.browser import signed_in
    from tests.support.pages import Page

    await login_all(driver)
    family = await _case_in_movement_stage(driver, _family(2))
    movement = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=9, hours=8, flight_number="XC4403"))
    mid = movement["movement_id"]
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": family["case_id"]})
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/lock")
    await _fan_out_done(driver, mid)
    await _check_fit_to_travel(driver, family["case_id"])
    url = f"/ui/movements/{mid}"
    first, second = (m["member_id"] for m in family["members"])
    async with signed_in(stack, OFFICER) as emre:
        page = Page((await emre.get(url)).text)
        later = datetime.fromisoformat(movement["details"]["departure_at"]) + timedelta(hours=2)
        local = later.astimezone(ZoneInfo("Europe/Istanbul")).strftime("%Y-%m-%dT%H:%M")
        delayed = await emre.post(f"{url}/delay", data={"csrf_token": page.csrf, "departure_at": local,
                                                        "reason": "Slot moved by the airport."})
        assert "The flight is delayed" in delayed.text, delayed.text
        moved = await _fan_out_done(driver, mid)
        assert datetime.fromisoformat(moved["details"]["departure_at"]) == later.replace(second=0)
        await _check_fit_to_travel(driver, family["case_id"])
        page = Page((await emre.get(url)).text)
        boarded = await emre.post(f"{url}/boarding", data={"csrf_token": page.csrf, f"boarded-{first}": "yes",
                                                           f"boarded-{second}": "yes"})
        assert "Boarding recorded for 2 people." in boarded.text
        departed = await emre.post(f"{url}/departure", data={"csrf_token": Page(boarded.text).csrf})
        assert "Departure confirmed" in departed.text
        await _fan_out_done(driver, mid)
        page = Page((await emre.get(url)).text)
        landed = datetime.now(ZoneInfo("Europe/Oslo")).date()  # Oslo's day: not before the departure's there
        arrived = await emre.post(f"{url}/arrival", data={"csrf_token": page.csrf, "arrived_on": landed.isoformat(),
                                                          "place": "Oslo"})
        assert "Arrival confirmed" in arrived.text, arrived.text
    done = await _fan_out_done(driver, mid)
    assert done["manifest"][0]["arrival"]["applied"] is True
    assert [p["boarded"] for p in done["manifest"][0]["members"]] == [True, True]


async def test_a_case_on_hold_taken_off_a_locked_manifest_drops_its_booking(driver: CaseDriver, stack: Stack) -> None:
    """A hold stops a case's work going forward, not the undoing of a flight the family will not
    take: a held case taken off a locked manifest has its booking dropped at once (the case's
    CancelBooking: its departure task cancelled, the rebooking opened for after the resume),
    once; the movement shows it applied; the departure of the others then leaves it untouched,
    and after the resume it is back to rebooking, not booked on (or departed with) the flight."""
    await login_all(driver)
    held, going = await asyncio.gather(*[_case_in_movement_stage(driver, _family(1)) for _ in range(2)])
    mid = (await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=9, hours=8)))["movement_id"]
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_ids": [held["case_id"], going["case_id"]]})
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/lock")
    await _fan_out_done(driver, mid)
    for case in (held, going):
        await _check_fit_to_travel(driver, case["case_id"])
    await _ok(driver, "POST", f"/api/v1/cases/{held['case_id']}/hold", "fatma", json={"reason": "Security check."})
    assert [t["task_type"] for t in (await _case(driver, held["case_id"]))["open_tasks"]] == ["record_departure"]

    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases/{held['case_id']}/remove",
              json={"reason": "The family is not travelling."})
    released = await _fan_out_done(driver, mid)
    assert released["removed"][-1]["release"] == {"case_id": held["case_id"], "outcome": "postponed", "applied": True,
                                                  "reason": None}, released["removed"]
    back = await _case(driver, held["case_id"])
    assert back["status"] == "on_hold" and back["key_dates"]["departure_at"] is None
    assert [t["task_type"] for t in back["open_tasks"]] == ["book_movement"]
    events = Counter(e["type"] for e in await _events(driver, held["case_id"]))
    assert (events["BookingCancelled"], events["MovementPostponed"], events["CaseDeparted"]) == (1, 0, 0), events
    from tests.support.browser import signed_in
    async with signed_in(stack, OFFICER) as emre:
        page = (await emre.get(f"/ui/movements/{mid}")).text
        assert "dropped on the case" in page and "not applied" not in page

    # The others depart; the case taken off is neither reached nor departed, before or after its resume.
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/departure",
              json={"departed_at": datetime.now(UTC).replace(microsecond=0).isoformat()})
    departed = await _fan_out_done(driver, mid)
    assert [(e["case_id"], e["departure"]["outcome"]) for e in departed["manifest"]] == [(going["case_id"], "departed")]
    await _ok(driver, "POST", f"/api/v1/cases/{held['case_id']}/resume", "fatma", json={"reason": "Cleared."})
    after = await _case(driver, held["case_id"])
    assert (after["status"], after["stage"], after["key_dates"]["departed_at"]) == ("active", "movement", None)
    assert [t["task_type"] for t in after["open_tasks"]] == ["book_movement"]
    assert Counter(e["type"] for e in await _events(driver, held["case_id"]))["BookingCancelled"] == 1
    listed = await _ok(driver, "GET", f"/api/v1/movements?case_id={held['case_id']}")
    assert listed["items"] == []  # not on the manifest of the departed movement
    await stack.temporal.get_workflow_handle(mid).result()


async def test_delay_and_creation_refusals_name_their_field(driver: CaseDriver, stack: Stack) -> None:
    """Times that do not fit, a delay earlier than the flight or further ahead than a creation may
    be: each a 422 naming the field with a plain reason (no validator internals); the same
    airports twice is refused at arrival_airport.  Recorded: the delay limit's patch."""
    await login_all(driver)

    async def refused(path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        r = await _call(driver, "POST", path, json=body)
        assert r.status_code == 422, f"{path} {body} -> {r.status_code}: {r.text}"
        text = r.text
        assert "pydantic" not in text and "input_value" not in text and "Value error" not in text, text
        return r.json()["error"]["details"]

    same = await refused("/api/v1/movements", _details(capacity=9) | {"arrival_airport": "IST"})
    assert [d["field"] for d in same] == ["body.arrival_airport"] and "departure_airport" in same[0]["reason"], same
    details = _details(capacity=9)
    before = (datetime.fromisoformat(details["departure_at"]) - timedelta(hours=1)).isoformat()
    early = await refused("/api/v1/movements", details | {"arrival_at": before})
    assert [d["field"] for d in early] == ["body.arrival_at"], early

    movement = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=9, transit=[]))
    mid, departs = movement["movement_id"], datetime.fromisoformat(movement["details"]["departure_at"])
    later = departs + timedelta(days=2)
    misfit = await refused(f"/api/v1/movements/{mid}/delay", {"departure_at": later.isoformat(),
                                                             "arrival_at": (later - timedelta(days=1)).isoformat(),
                                                             "reason": "Crew rest."})
    assert [d["field"] for d in misfit] == ["arrival_at"] and "must be after departure_at" in misfit[0]["reason"], misfit
    sooner = await refused(f"/api/v1/movements/{mid}/delay", {"departure_at": (departs - timedelta(hours=1)).isoformat(),
                                                             "reason": "Earlier."})
    assert [d["field"] for d in sooner] == ["departure_at"] and "later than the current" in sooner[0]["reason"], sooner
    years = (datetime.now(UTC) + timedelta(days=3 * 366)).replace(microsecond=0)
    far = await refused(f"/api/v1/movements/{mid}/delay", {"departure_at": years.isoformat(), "reason": "Typo."})
    assert [d["field"] for d in far] == ["departure_at"] and "732 days ahead" in far[0]["reason"], far
    assert (await _ok(driver, "GET", f"/api/v1/movements/{mid}"))["details"]["departure_at"] == \
        movement["details"]["departure_at"]  # nothing applied

    delayed = await _ok(driver, "POST", f"/api/v1/movements/{mid}/delay",
                        json={"departure_at": later.isoformat(), "reason": "Crew rest."})
    assert datetime.fromisoformat(delayed["details"]["departure_at"]) == later
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cancel", json={"reason": "The charter was cancelled."})
    handle = stack.temporal.get_workflow_handle(mid)
    await handle.result()
    await _record_history(handle, "movement_delay_limit.json")


async def test_a_movement_whose_flight_time_has_passed_takes_no_case_and_no_lock_until_delayed(
        driver: CaseDriver) -> None:
    """After the scheduled departure an open movement refuses a case and the lock (every booking
    would fail and the cases would stay on it, kept off any other): 409 departure_passed naming
    departure_at; given new times (a delay), it takes them again."""
    await login_all(driver)
    family = await _case_in_movement_stage(driver, _family(1))
    body = _details(capacity=9, hours=3 / 3600, arrival_at=None, transit=[])
    mid = (await _ok(driver, "POST", "/api/v1/movements", json=body))["movement_id"]
    await asyncio.sleep(4)
    r = await _call(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": family["case_id"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "departure_passed", r.text
    assert r.json()["error"]["details"][0]["field"] == "departure_at"
    r = await _call(driver, "POST", f"/api/v1/movements/{mid}/lock")
    assert r.status_code == 409 and r.json()["error"]["code"] == "departure_passed", r.text
    later = (datetime.now(UTC) + timedelta(hours=30)).replace(microsecond=0).isoformat()
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/delay", json={"departure_at": later, "reason": "Slot moved."})
    added = await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": family["case_id"]})
    assert [e["case_id"] for e in added["manifest"]] == [family["case_id"]]
