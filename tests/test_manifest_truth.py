"""The manifest lists the people who fly, once each, as their cases have them.

- A family split racing an add of the same case: the add took the case's members before the
  split, so the manifest kept the people who left it.  Adding the split-off case is refused
  for a person listed already under another case (``member_on_manifest``, both cases named),
  and the lock and the departure are refused for a case whose members are not those listed
  (``members_changed``).
- A correction of a name, date of birth or sex made after the case joined: the lock refreshes
  each entry's people from the case's facts (``ManifestLocked.members``, so the lap seat
  follows a corrected date of birth), and the exports take each person's identity from the
  case as it is now (the read model), after the lock too.
- A split-off case's document numbers are events of the case it was split from: the export
  reads them there too, the latest one winning.
- A boarding sheet lists each person once, with a JSON boolean.

Pure decide / fold tests first, then through the API on the real stack (which records the
history of the patched behaviour, ``manifest-members-v1``, for tests/test_replay.py).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from api.routes.movements import view
from domain.model import Actor, Stage
from domain.movements import commands as c
from domain.movements.decide import MovementRejected, decide, fold
from domain.movements.export import manifest_rows
from domain.movements.model import (BoardingRecord, CaseFacts, FanOutResult, MemberFacts, MovementDetails,
                                    MovementState)
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.stack import Stack
from tests.test_movements import _case_in_movement_stage, _details, _fan_out_done, _ok, login_all

OFFICER = Actor(id="emre", role="movement_officer")
NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
DEPARTS = datetime(2026, 12, 2, 10, tzinfo=ZoneInfo("Europe/Istanbul"))
ADULT, SPOUSE, CHILD = date(1980, 1, 1), date(1984, 2, 2), date(2010, 2, 2)


def _movement_details(capacity: int = 20) -> MovementDetails:
    return MovementDetails.model_validate({
        "kind": "charter", "flight_number": "XC4420", "carrier": "Corendon", "departure_airport": "IST",
        "arrival_airport": "OSL", "departure_at": DEPARTS.isoformat(), "departure_time_zone": "Europe/Istanbul",
        "seat_capacity": capacity, "escorts": [{"name": "Elif Arslan", "kind": "operational"}], "office": "IST"})


def _person(member_id: str, name: str, born: date, booked: bool = False) -> MemberFacts:
    return MemberFacts(member_id=member_id, full_name=name, date_of_birth=born, health="cleared", visa="issued",
                       visa_valid_until=date(2027, 6, 1), sex="female", nationality="SY",
                       fit_to_travel_at=NOW - timedelta(hours=2) if booked else None)


def _case(case_id: str, people: list[tuple[str, str, date]], booked: bool = False) -> CaseFacts:
    """A case waiting for its booking (``booked``: booked on the flight, its departure task open)."""
    members = [_person(mid, name, born, booked) for mid, name, born in people]
    if not booked:
        return CaseFacts(case_id=case_id, office="IST", programme="resettlement", stage=Stage.MOVEMENT,
                         open_tasks={"book_movement": f"{case_id}-T1"}, members=members)
    return CaseFacts(case_id=case_id, office="IST", programme="resettlement", stage=Stage.MOVEMENT,
                     open_tasks={"record_departure": f"{case_id}-T2"}, members=members, booked_flight="XC4420",
                     booked_departure_at=DEPARTS)


FAMILY = [("C-1-M1", "Adel Nasser", ADULT), ("C-1-M2", "Rima Nasser", SPOUSE), ("C-1-M3", "Sami Nasser", CHILD)]
LEFT = [("C-1-M1", "Adel Nasser", ADULT)]  # the original case after the split
SPLIT_OFF = [("C-1-M2", "Rima Nasser", SPOUSE), ("C-1-M3", "Sami Nasser", CHILD)]


def _run(state: MovementState | None, command: Any, facts: list[CaseFacts] | None = None,
         now: datetime = NOW, **flags: bool) -> MovementState:
    return fold(decide(state, command, now, OFFICER, facts, **flags), state, "MV-9")


def _raced() -> MovementState:
    """The add took the family's three people just before the split took two of them off."""
    state = _run(None, c.CreateMovement(details=_movement_details()))
    return _run(state, c.AddCase(case_ids=["C-1", "C-2"]), [_case("C-1", FAMILY),
                                                            _case("C-2", [("C-2-M1", "Omar Haddad", ADULT)])])


def _refused(state: MovementState, command: Any, facts: list[CaseFacts] | None = None) -> MovementRejected:
    with pytest.raises(MovementRejected) as refused:
        decide(state, command, NOW, OFFICER, facts)
    return refused.value


def test_the_split_off_case_is_refused_while_its_people_are_listed_under_the_original() -> None:
    state = _raced()
    refused = _refused(state, c.AddCase(case_ids=["C-1-S1"]), [_case("C-1-S1", SPLIT_OFF)])
    assert refused.code == "manifest_rules"
    assert [(d["case_id"], d["rule"], d["member_id"]) for d in refused.details] == [
        ("C-1-S1", "member_on_manifest", "C-1-M2"), ("C-1-S1", "member_on_manifest", "C-1-M3")]
    message = refused.details[0]["message"]
    assert "Rima Nasser" in message and "C-1-S1" in message and "case C-1 " in message, message
    # The same person in two cases of one add is refused too.
    fresh = _run(None, c.CreateMovement(details=_movement_details()))
    refused = _refused(fresh, c.AddCase(case_ids=["C-1", "C-1-S1"]), [_case("C-1", FAMILY), _case("C-1-S1", SPLIT_OFF)])
    assert {d["rule"] for d in refused.details} == {"member_on_manifest"}
    # Histories decided before the rule (manifest-members-v1) added it: listed twice, which
    # the movement's rule_check names.
    twice = _run(state, c.AddCase(case_ids=["C-1-S1"]), [_case("C-1-S1", SPLIT_OFF)], member_rules=False)
    assert twice.people == 6
    assert [(p.case_id, p.rule, p.member_id) for p in view(twice).rule_check] == [
        ("C-1-S1", "member_on_manifest", "C-1-M2"), ("C-1-S1", "member_on_manifest", "C-1-M3")]


def test_the_lock_refuses_a_case_whose_people_left_it_since_it_was_added() -> None:
    state = _raced()
    facts = [_case("C-1", LEFT), _case("C-2", [("C-2-M1", "Omar Haddad", ADULT)])]
    refused = _refused(state, c.LockManifest(), facts)
    assert [(d["case_id"], d["rule"], d["member_name"]) for d in refused.details] == [
        ("C-1", "members_changed", "Rima Nasser"), ("C-1", "members_changed", "Sami Nasser")]
    assert "left case C-1 (split) since it was added: take the case off" in refused.details[0]["message"]
    # Taken off and added again: the manifest lists the one person left, and locks.
    state = _run(state, c.RemoveCase(case_id="C-1", reason="Split: added again."))
    state = _run(state, c.AddCase(case_ids=["C-1", "C-1-S1"]), [_case("C-1", LEFT), _case("C-1-S1", SPLIT_OFF)])
    assert state.people == 4
    locked = _run(state, c.LockManifest(), facts + [_case("C-1-S1", SPLIT_OFF)])
    assert locked.status == "locked"
    # A history locked before the rule locks as it did.
    assert _run(_raced(), c.LockManifest(), facts, member_rules=False).status == "locked"


def test_the_departure_refuses_a_booked_case_whose_people_changed() -> None:
    state = _raced()
    facts = [_case("C-1", FAMILY), _case("C-2", [("C-2-M1", "Omar Haddad", ADULT)])]
    state = _run(state, c.LockManifest(), facts)
    state = _run(state, c.RecordFanOut(step="booking", results=[
        FanOutResult(case_id=f.case_id, outcome="booked", applied=True) for f in facts]))
    booked = [_case("C-1", LEFT, booked=True), _case("C-2", [("C-2-M1", "Omar Haddad", ADULT)], booked=True)]
    refused = _refused(state, c.ConfirmDeparture(departed_at=NOW), booked)
    assert [(d["case_id"], d["rule"], d["member_id"]) for d in refused.details] == [
        ("C-1", "members_changed", "C-1-M2"), ("C-1", "members_changed", "C-1-M3")]
    assert _run(state, c.ConfirmDeparture(departed_at=NOW), booked, member_rules=False).status == "departed"
    booked[0] = _case("C-1", FAMILY, booked=True)
    assert _run(state, c.ConfirmDeparture(departed_at=NOW), booked).status == "departed"


def test_the_lock_takes_each_persons_corrected_identity_and_counts_the_lap_from_it() -> None:
    state = _raced()
    corrected = _case("C-1", [("C-1-M1", "Adil Nassar", ADULT), ("C-1-M2", "Rima Nasser", SPOUSE),
                              ("C-1-M3", "Sami Nasser", date(2026, 1, 1))])
    corrected.members[1].sex = "unknown"
    single = _case("C-2", [("C-2-M1", "Omar Haddad", ADULT)])
    state = _run(state, c.RecordNeeds(case_id="C-1", member_id="C-1-M2", needs=["wheelchair"]))
    events = decide(state, c.LockManifest(), NOW, OFFICER, [corrected, single])
    assert list(events[0].members) == ["C-1"]  # the single traveller's entry is unchanged
    locked = fold(events, state, "MV-9")
    people = locked.entry("C-1").members
    assert [(p.full_name, p.date_of_birth, p.sex, p.lap_infant) for p in people] == [
        ("Adil Nassar", ADULT, "female", False), ("Rima Nasser", SPOUSE, "unknown", False),
        ("Sami Nasser", date(2026, 1, 1), "female", True)]
    assert people[1].needs == ["wheelchair"]  # what the officer listed stays
    assert (locked.people, locked.seats_taken) == (4, 3)
    rows = manifest_rows(locked, {})
    assert [(r.full_name, r.seat) for r in rows[:3]] == [
        ("Adil Nassar", "seat"), ("Rima Nasser", "seat; wheelchair"), ("Sami Nasser", "lap infant (under 2)")]
    # Before the rule: the lock kept what the add listed.
    old = fold(decide(state, c.LockManifest(), NOW, OFFICER, [corrected, single], member_rules=False), state, "MV-9")
    assert old.entry("C-1").members[0].full_name == "Adel Nasser"


def test_the_export_takes_the_cases_current_identity_over_the_manifests_copy() -> None:
    state = _raced()
    rows = manifest_rows(state, {"C-1-M1": "P123"}, {
        "C-1-M1": {"full_name": "Adil Nassar", "date_of_birth": date(1981, 3, 3), "sex": "male", "nationality": "IQ"}})
    assert [(r.full_name, r.date_of_birth, r.sex, r.nationality, r.document_number) for r in rows[:2]] == [
        ("Adil Nassar", "1981-03-03", "male", "IQ", "P123"), ("Rima Nasser", SPOUSE.isoformat(), "female", "SY", "")]


def test_a_boarding_sheet_lists_each_person_once_with_a_json_boolean() -> None:
    one = {"case_id": "C-1", "member_id": "C-1-M1", "boarded": True}
    other = {"case_id": "C-1", "member_id": "C-1-M1", "boarded": False, "reason": "Missed the gate."}
    for records in ([one, other], [one, one]):
        with pytest.raises(ValidationError) as refused:
            c.RecordBoarding.model_validate({"records": records})
        [error] = refused.value.errors()
        assert error["loc"] == ("records",) and "C-1-M1" in error["msg"] and "more than once" in error["msg"]
        with pytest.raises(ValidationError):
            c.ConfirmDeparture.model_validate({"departed_at": NOW.isoformat(), "boarding": records})
    for value in ("yes", 1, "true"):
        with pytest.raises(ValidationError) as refused:
            BoardingRecord.model_validate(one | {"boarded": value})
        assert refused.value.errors()[0]["loc"] == ("boarded",)
    assert BoardingRecord.model_validate_json(json.dumps(one)).boarded is True


# --- through the API --------------------------------------------------------------------------


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def _export(driver: CaseDriver, movement_id: str) -> list[dict[str, str]]:
    r = await driver.client.get(f"/api/v1/movements/{movement_id}/manifest.csv", headers=await driver.login("emre"))
    assert r.status_code == 200, r.text
    return [row for row in _csv(r.text) if row["kind"] == "passenger"]


async def _correct(driver: CaseDriver, case_id: str, member_id: str, changes: dict[str, str]) -> None:
    r = await driver.client.post(f"/api/v1/cases/{case_id}/members/{member_id}/corrections",
                                 json={"changes": changes, "reason": "Passport seen."},
                                 headers=await driver.login("ayse"))
    assert r.status_code == 200, r.text


async def test_corrections_reach_the_lock_and_every_export_then_the_movement_departs(
        driver: CaseDriver, stack: Stack) -> None:
    await login_all(driver)
    case = await _case_in_movement_stage(driver, referral(office="IST", size=2))
    case_id = case["case_id"]
    principal, spouse = (m["member_id"] for m in case["members"])
    movement = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=5, hours=3))
    mid = movement["movement_id"]
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": case_id})
    documents = {row["member_id"]: row["document_number"] for row in await _export(driver, mid)}

    await _correct(driver, case_id, principal, {"full_name": "Adil Nassar"})
    # The open manifest's export says what the case says already.
    assert [row["full_name"] for row in await _export(driver, mid)][0] == "Adil Nassar"
    locked = await _ok(driver, "POST", f"/api/v1/movements/{mid}/lock")
    assert locked["manifest"][0]["members"][0]["full_name"] == "Adil Nassar"  # the manifest's own copy too
    await _fan_out_done(driver, mid)

    # After the lock: the export follows the case.
    await _correct(driver, case_id, spouse, {"full_name": "Rima Nassar", "sex": "unknown"})
    rows = await _export(driver, mid)
    assert [(r["full_name"], r["sex"]) for r in rows][1] == ("Rima Nassar", "unknown")
    assert {r["member_id"]: r["document_number"] for r in rows} == documents

    # A boarding sheet with a person twice, or "yes" for true, changes nothing.
    headers = await driver.login("emre")
    twice = await driver.client.post(f"/api/v1/movements/{mid}/boarding", headers=headers, json={"records": [
        {"case_id": case_id, "member_id": principal, "boarded": True},
        {"case_id": case_id, "member_id": principal, "boarded": False, "reason": "x"}]})
    assert twice.status_code == 422 and principal in twice.text and "more than once" in twice.text, twice.text
    word = await driver.client.post(f"/api/v1/movements/{mid}/boarding", headers=headers, json={"records": [
        {"case_id": case_id, "member_id": principal, "boarded": "yes"}]})
    assert word.status_code == 422 and "boarded" in word.text, word.text

    detail = await _ok(driver, "GET", f"/api/v1/cases/{case_id}", "fatma")
    for task in [t for t in detail["open_tasks"] if t["task_type"] == "check_fit_to_travel"]:
        await driver.complete(task, "IST")
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/departure",
              json={"departed_at": datetime.now(UTC).replace(microsecond=0).isoformat()})
    done = await _fan_out_done(driver, mid)
    assert [(e["departure"]["outcome"], e["departure"]["applied"]) for e in done["manifest"]] == [("departed", True)]
    handle = stack.temporal.get_workflow_handle(mid)
    await asyncio.wait_for(handle.result(), timeout=60)
    if os.environ.get("ITINERA_RECORD_HISTORIES"):  # replayed by tests/test_replay.py from then on
        history = await handle.fetch_history()
        path = Path(__file__).parent / "histories" / "movement_manifest_members.json"
        path.write_text(json.dumps({"workflow_id": mid, "history": json.loads(history.to_json())}, indent=1))


async def test_a_split_off_case_flies_with_the_document_numbers_issued_before_the_split(driver: CaseDriver) -> None:
    await login_all(driver)
    case = await _case_in_movement_stage(driver, referral(office="IST", size=3))
    case_id = case["case_id"]
    members = [m["member_id"] for m in case["members"]]
    r = await driver.client.post(f"/api/v1/cases/{case_id}/split", headers=await driver.login("ayse"), json={
        "member_ids": members[1:], "principal_member_id": members[1], "reason": "The father is not fit for now."})
    assert r.status_code == 200, r.text
    split_off = r.json()["new_case"]["case_id"]
    both = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=5))
    await _ok(driver, "POST", f"/api/v1/movements/{both['movement_id']}/cases", json={"case_ids": [case_id]})
    original = {row["member_id"]: row["document_number"] for row in await _export(driver, both["movement_id"])}
    alone = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=5))
    await _ok(driver, "POST", f"/api/v1/movements/{alone['movement_id']}/cases", json={"case_ids": [split_off]})
    rows = await _export(driver, alone["movement_id"])
    assert [r["member_id"] for r in rows] == members[1:]
    assert all(r["document_number"] for r in rows), rows
    assert original[members[0]] and original[members[0]] not in {r["document_number"] for r in rows}


async def test_a_case_whose_booking_a_hold_stopped_is_named_at_the_departure_not_skipped(
        driver: CaseDriver, stack: Stack) -> None:
    """A supervisor holds a case while a delay moves everyone to the new flight: the drop is
    recorded (a fact), the new booking is not (new work on a held case).  The departure then
    refuses to call that family boarded (it skipped the case while the manifest and the CSV
    said it flew, explore6 #1), naming it; taken off, the others depart, and ``itinera check``
    holds the movement and its cases to one story."""
    from consistency import check
    from store.db import connect
    from tests.test_movements import _check_fit_to_travel, _family

    await login_all(driver)
    flying, held = await asyncio.gather(*[_case_in_movement_stage(driver, _family(1)) for _ in range(2)])
    mid = (await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=9, hours=6)))["movement_id"]
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_ids": [flying["case_id"], held["case_id"]]})
    locked = await _ok(driver, "POST", f"/api/v1/movements/{mid}/lock")
    await _fan_out_done(driver, mid)
    await _ok(driver, "POST", f"/api/v1/cases/{held['case_id']}/hold", "fatma", json={"reason": "Protection concern."})
    later = datetime.fromisoformat(locked["details"]["departure_at"]) + timedelta(hours=3)
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/delay", json={"departure_at": later.isoformat(),
                                                                    "reason": "Crew rest."})
    delayed = await _fan_out_done(driver, mid)
    entry = next(e for e in delayed["manifest"] if e["case_id"] == held["case_id"])
    assert entry["booking"]["applied"] is False, entry
    await _check_fit_to_travel(driver, flying["case_id"])

    body = {"departed_at": datetime.now(UTC).replace(microsecond=0).isoformat()}
    refused = await driver.client.post(f"/api/v1/movements/{mid}/departure", json=body,
                                       headers=await driver.login("emre"))
    assert refused.status_code == 409, refused.text
    assert [(d["case_id"], d["rule"]) for d in refused.json()["error"]["details"]] == [(held["case_id"], "not_booked")]
    assert (await _ok(driver, "GET", f"/api/v1/movements/{mid}"))["status"] == "locked"

    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases/{held['case_id']}/remove",
              json={"reason": "Held by the supervisor; rebooked later."})
    departed = await _ok(driver, "POST", f"/api/v1/movements/{mid}/departure", json=body)
    assert departed["status"] == "departed" and [e["case_id"] for e in departed["manifest"]] == [flying["case_id"]]
    await _fan_out_done(driver, mid)
    conn = await connect(stack.database_url)
    try:
        report = await check(conn, stack.temporal, movement_ids=[mid])
    finally:
        await conn.close()
    assert report.clean, [str(d) for d in report.differences]
