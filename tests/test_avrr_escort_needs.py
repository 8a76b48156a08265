"""A medical escort per person (issue 13, special needs matched to escorts): an AVRR member's
fit-to-travel assessment that asks for a medical escort is a need the case knows; the movement
learns it from the case's workflow (only the need, no health detail), lists it on that person's
manifest row, and its special_needs rule refuses a movement without a medical escort, naming the
case and the member.  The latest assessment of the member wins: a re-assessment without an
escort clears it.  Through the HTTP API on the real stack, and the folds without it."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from activities.movements import facts_of
from domain.case import DecisionContext, ReferCase, decide, fold
from domain.identity import case_id_for
from domain.model import Actor, Referral, Stage
from domain.movements import commands as c
from domain.movements import decide as movement
from domain.movements.decide import MovementRejected
from domain.movements.export import manifest_rows
from domain.movements.model import CaseFacts, MemberFacts, MovementDetails
from domain.programmes.avrr import events as avrr_ev
from domain.programmes.avrr import state as avrr_state
from domain.programmes.avrr.state import AvrrProgress
from tests.support.driver import CaseDriver
from tests.support.factories import member, referral
from tests.support.stack import Stack
from tests.support.waiting import eventually

OFFICER = "emre"  # movement officer, IST and IZM
INSULIN = "Insulin-dependent; travels with a medical escort."  # a clinical note: never on a manifest


def _avrr_family() -> dict[str, Any]:
    body = referral(size=2, programme="avrr", destination_country=None, origin_country="IQ")
    body["members"] = [member("Karwan Aziz", "1991-02-17", "principal", sex="male", nationality="IQ"),
                       member("Rojin Aziz", "2016-06-09", "child", nationality="IQ")]
    return body


def _movement(flight_number: str, escorts: list[dict[str, str]], hours: float = 30) -> dict[str, Any]:
    departs = (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0)
    return {"kind": "charter", "flight_number": flight_number, "carrier": "Corendon", "departure_airport": "IST",
            "arrival_airport": "EBL", "departure_at": departs.isoformat(), "departure_time_zone": "Europe/Istanbul",
            "seat_capacity": 20, "escorts": escorts, "office": "IST"}


OPERATIONAL = [{"name": "Elif Arslan", "kind": "operational"}]
MEDICAL = [{"name": "Elif Arslan", "kind": "operational"}, {"name": "Dr. Aylin Kaya", "kind": "medical"}]


def _day() -> str:
    return datetime.now(UTC).date().isoformat()


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _assessment(escort: bool) -> dict[str, Any]:
    form: dict[str, Any] = {"assessment_date": _day(), "outcome": "fit", "medical_escort_required": escort}
    return form | ({"notes": INSULIN} if escort else {})


async def _call(driver: CaseDriver, method: str, path: str, username: str = OFFICER, **kwargs: Any) -> Any:
    return await driver.client.request(method, path, headers=await driver.login(username), **kwargs)


async def _ok(driver: CaseDriver, method: str, path: str, username: str = OFFICER, **kwargs: Any) -> dict[str, Any]:
    r = await _call(driver, method, path, username, **kwargs)
    assert r.status_code < 300, f"{method} {path} -> {r.status_code}: {r.text}"
    return r.json()


async def _case(driver: CaseDriver, case_id: str) -> dict[str, Any]:
    return await _ok(driver, "GET", f"/api/v1/cases/{case_id}", "fatma")


async def _fan_out_done(driver: CaseDriver, movement_id: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def done() -> bool:
        seen.update(await _ok(driver, "GET", f"/api/v1/movements/{movement_id}"))
        return seen["fan_out"]["pending"] == 0
    await eventually(done, timeout=90, interval=0.2, what=lambda: f"the fan-out of {movement_id}: {seen.get('fan_out')}")
    return seen


def _open(case: dict[str, Any], task_type: str, member_id: str | None = None) -> dict[str, Any]:
    return next(t for t in case["open_tasks"] if t["task_type"] == task_type
                and (member_id is None or t["member_id"] == member_id))


async def _reassessed(driver: CaseDriver, case_id: str, member_id: str, *, escort: bool) -> dict[str, Any]:
    """The member is found not fit at the 72-hour check before a booked flight: the case goes back
    to its health stage, the treatment is recorded, and the member is assessed again (with or
    without a medical escort); the case then waits for a booking in its movement stage again."""
    case = await _case(driver, case_id)
    for task in [t for t in case["open_tasks"] if t["task_type"] == "check_fit_to_travel"]:
        fit = "not_fit" if task["member_id"] == member_id else "fit"
        case = await driver.complete(task, "IST", form={"checked_at": _now(), "outcome": fit})
        if case["stage"] == "health":
            break
    assert case["stage"] == "health", case["open_tasks"]
    case = await driver.complete(_open(case, "record_treatment", member_id), "IST")
    case = await driver.complete(_open(case, "assess_fit_to_travel", member_id), "IST", form=_assessment(escort))
    case = await driver.advance(case, until=Stage.MOVEMENT)
    assert [t["task_type"] for t in case["open_tasks"]] == ["book_movement"], case["open_tasks"]
    return case


async def test_a_medical_escort_the_assessment_asked_for_is_on_the_persons_manifest_row(
        driver: CaseDriver, stack: Stack) -> None:
    from tests.support.browser import signed_in

    for username in ("ayse", "selin", "deniz", "emre", "fatma"):  # one login each (the login throttle)
        await driver.login(username)
    # An AVRR family: the child's fit-to-travel assessment asks for a medical escort.
    case = await driver.advance(await driver.refer(_avrr_family()), until=Stage.HEALTH)
    case_id = case["case_id"]
    father, child = (m["member_id"] for m in case["members"])
    case = await driver.complete(_open(case, "assess_fit_to_travel", father), "IST", form=_assessment(False))
    case = await driver.complete(_open(case, "assess_fit_to_travel", child), "IST", form=_assessment(True))
    assert case["avrr"]["escort_required"] is True  # the case-level flag, as before
    case = await driver.advance(case, until=Stage.MOVEMENT)
    case = await driver.complete(_open(case, "arrange_escort"), "IST", form={
        "escort_type": "medical", "escort_name": "Dr. Aylin Kaya", "organisation": "IOM Türkiye"})
    assert [t["task_type"] for t in case["open_tasks"]] == ["book_movement"]

    # A charter without a medical escort: the case cannot join, the child is named.
    plain = await _ok(driver, "POST", "/api/v1/movements", json=_movement("XC5501", OPERATIONAL))
    r = await _call(driver, "POST", f"/api/v1/movements/{plain['movement_id']}/cases", json={"case_id": case_id})
    assert r.status_code == 409, r.text
    assert [(d["rule"], d["case_id"], d["member_id"], d["member_name"]) for d in r.json()["error"]["details"]] == [
        ("special_needs", case_id, child, "Rojin Aziz")]
    assert "medical escort" in r.json()["error"]["details"][0]["reason"]

    # One with a medical escort: the manifest lists the need on the child, as a need the case knows.
    escorted = await _ok(driver, "POST", "/api/v1/movements", json=_movement("XC5502", MEDICAL))
    mid = escorted["movement_id"]
    added = await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": case_id})
    people = {p["member_id"]: p for p in added["manifest"][0]["members"]}
    assert (people[child]["needs"], people[child]["case_needs"]) == (["medical_escort"], ["medical_escort"])
    assert (people[father]["needs"], people[father]["case_needs"]) == ([], [])
    assert added["rule_check"] == []
    assert "insulin" not in str(added).lower()

    # The officer's list adds to it, never lists a need twice, and cannot drop the case's.
    needs = f"/api/v1/movements/{mid}/cases/{case_id}/members/{child}/needs"
    listed = await _ok(driver, "POST", needs, json={"needs": ["medical_escort", "wheelchair"]})
    assert listed["manifest"][0]["members"][1]["needs"] == ["medical_escort", "wheelchair"]
    listed = await _ok(driver, "POST", needs, json={"needs": []})
    assert listed["manifest"][0]["members"][1]["needs"] == ["medical_escort"]
    listed = await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases/{case_id}/members/{father}/needs",
                       json={"needs": ["wheelchair"]})
    assert [p["needs"] for p in listed["manifest"][0]["members"]] == [["wheelchair"], ["medical_escort"]]
    assert [p["case_needs"] for p in listed["manifest"][0]["members"]] == [[], ["medical_escort"]]

    # The export: the need and its escort on the child's row only; no health detail.
    r = await _call(driver, "GET", f"/api/v1/movements/{mid}/manifest.csv")
    assert r.status_code == 200, r.text
    rows = {row["member_id"]: row for row in csv.DictReader(io.StringIO(r.text)) if row["kind"] == "passenger"}
    assert (rows[child]["seat"], rows[child]["escort"]) == ("seat; medical escort", "medical: Dr. Aylin Kaya")
    assert (rows[father]["seat"], rows[father]["escort"]) == ("seat; wheelchair", "")
    assert not any(word in r.text.lower() for word in ("insulin", "assessment", "fit to travel", "clearance"))
    pdf = await _call(driver, "GET", f"/api/v1/movements/{mid}/manifest.pdf")
    assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-"
    async with signed_in(stack, OFFICER) as emre:
        page = (await emre.get(f"/ui/movements/{mid}")).text
        assert "Rojin Aziz [Medical escort (the case knows)]" in page and "Karwan Aziz [Wheelchair]" in page
        assert "insulin" not in page.lower()

    # With the medical escort on board, the lock is accepted and books the case.
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/lock")
    locked = await _fan_out_done(driver, mid)
    assert locked["manifest"][0]["booking"]["applied"] is True, locked["manifest"]

    # The child is not fit at the 72-hour check; re-assessed without an escort, the need is gone.
    await _reassessed(driver, case_id, child, escort=False)
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cancel", json={"reason": "The charter was cancelled."})
    await _fan_out_done(driver, mid)
    plain_mid = plain["movement_id"]
    joined = await _ok(driver, "POST", f"/api/v1/movements/{plain_mid}/cases", json={"case_id": case_id})
    assert [(p["needs"], p["case_needs"]) for p in joined["manifest"][0]["members"]] == [([], []), ([], [])]
    assert joined["rule_check"] == []
    r = await _call(driver, "GET", f"/api/v1/movements/{plain_mid}/manifest.csv")
    assert [row["seat"] for row in csv.DictReader(io.StringIO(r.text)) if row["kind"] == "passenger"] == ["seat"] * 2

    # On that manifest, the child is assessed again (a flight booked by hand, not fit at its check)
    # and needs a medical escort after all: the lock of the charter without one is refused.
    booking = {"flight_number": "TK1102", "departure_at": (datetime.now(UTC) + timedelta(hours=20)).replace(
        microsecond=0).isoformat(), "departure_airport": "IST", "arrival_airport": "EBL"}
    await driver.complete(_open(await _case(driver, case_id), "book_movement"), "IST", form=booking)
    await _reassessed(driver, case_id, child, escort=True)
    r = await _call(driver, "POST", f"/api/v1/movements/{plain_mid}/lock")
    assert r.status_code == 409, r.text
    assert [(d["rule"], d["case_id"], d["member_id"], d["member_name"]) for d in r.json()["error"]["details"]] == [
        ("special_needs", case_id, child, "Rojin Aziz")]
    assert (await _ok(driver, "GET", f"/api/v1/movements/{plain_mid}"))["status"] == "open"


# --- without the stack -------------------------------------------------------------------------


def _avrr_state() -> Any:
    ids = itertools.count(1)
    ctx = DecisionContext(now=datetime(2026, 11, 23, 9, tzinfo=UTC), actor=Actor(id="ayse", role="caseworker"),
                          new_event_id=lambda: f"e-{next(ids)}")
    body = Referral.model_validate(_avrr_family())
    state = fold(decide(None, ReferCase(case_id=case_id_for(body.external_referral_id), referral=body), ctx))
    assert state is not None
    return state


def _assessed(member_id: str, escort: bool) -> avrr_ev.FitToTravelAssessed:
    return avrr_ev.FitToTravelAssessed(task_id="T", member_id=member_id, assessment_date=date(2026, 11, 23),
                                       outcome="fit", medical_escort_required=escort,
                                       notes=INSULIN if escort else None)


def test_the_latest_assessment_of_each_member_says_whether_they_need_a_medical_escort() -> None:
    state = _avrr_state()
    father, child = (m.member_id for m in state.members)
    at = datetime(2026, 11, 23, 10, tzinfo=UTC)
    a = avrr_state.data(state)
    assert (a.medical_escort_by_member, a.needs_medical_escort(child)) == ({}, False)
    assert [f.needs for f in facts_of(state).members] == [[], []]

    avrr_state.apply(state, _assessed(father, False), at)
    avrr_state.apply(state, _assessed(child, True), at)
    a = avrr_state.data(state)
    assert a.medical_escort_by_member == {father: False, child: True} and a.escort_required is True
    facts = facts_of(state)
    assert [(f.member_id, f.needs) for f in facts.members] == [(father, []), (child, ["medical_escort"])]
    assert INSULIN not in facts.model_dump_json()  # the need, never the health detail behind it

    # Re-assessed without an escort: the member's need is gone; the case-level flag stays as it was.
    avrr_state.apply(state, _assessed(child, False), at)
    a = avrr_state.data(state)
    assert (a.needs_medical_escort(child), a.escort_required) == (False, True)
    assert [f.needs for f in facts_of(state).members] == [[], []]

    # The state as a payload: the new field round-trips, and a payload from before it reads as none.
    again = AvrrProgress.model_validate_json(a.model_dump_json())
    assert again.medical_escort_by_member == {father: False, child: False}
    old = a.model_dump(mode="json")
    del old["medical_escort_by_member"]
    assert AvrrProgress.model_validate(old).medical_escort_by_member == {}


def test_the_special_needs_rule_names_the_member_the_case_says_needs_a_medical_escort() -> None:
    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    officer = Actor(id="emre", role="movement_officer")

    def details(escorts: list[dict[str, str]]) -> MovementDetails:
        return MovementDetails.model_validate(_movement("XC5509", escorts) | {"departure_at": "2026-12-02T10:00:00+03:00"})

    def facts(escort: bool) -> CaseFacts:
        people = [MemberFacts(member_id="C-9-M1", full_name="Karwan Aziz", date_of_birth=date(1991, 2, 17),
                              health="cleared", visa="issued"),
                  MemberFacts(member_id="C-9-M2", full_name="Rojin Aziz", date_of_birth=date(2016, 6, 9),
                              health="cleared", visa="issued", needs=["medical_escort"] if escort else [])]
        return CaseFacts(case_id="C-9", office="IST", programme="avrr", stage=Stage.MOVEMENT, consent_status="given",
                         open_tasks={"book_movement": "C-9-T20"}, members=people)

    # No medical escort: the case cannot join, the child named with the case.
    plain = movement.fold(movement.decide(None, c.CreateMovement(details=details(OPERATIONAL)), now, officer),
                          None, "MV-9")
    with pytest.raises(MovementRejected) as refused:
        movement.decide(plain, c.AddCase(case_ids=["C-9"]), now, officer, [facts(True)])
    assert [(d["rule"], d["case_id"], d["member_id"], d["member_name"]) for d in refused.value.details] == [
        ("special_needs", "C-9", "C-9-M2", "Rojin Aziz")]
    # It joined before the need was known: the lock checks the case as it is now and refuses.
    plain = movement.fold(movement.decide(plain, c.AddCase(case_ids=["C-9"]), now, officer, [facts(False)]),
                          plain, "MV-9")
    with pytest.raises(MovementRejected) as refused:
        movement.decide(plain, c.LockManifest(), now, officer, [facts(True)])
    assert [(d["rule"], d["case_id"], d["member_id"]) for d in refused.value.details] == [
        ("special_needs", "C-9", "C-9-M2")]
    assert movement.decide(plain, c.LockManifest(), now, officer, [facts(False)])  # without the need: locks

    # With a medical escort: listed on the child as the case's own, beside the officer's, once each.
    state = movement.fold(movement.decide(None, c.CreateMovement(details=details(MEDICAL)), now, officer), None, "MV-8")
    state = movement.fold(movement.decide(state, c.AddCase(case_ids=["C-9"]), now, officer, [facts(True)]),
                          state, "MV-8")
    child = state.manifest[0].members[1]
    assert (child.needs, child.case_needs) == (["medical_escort"], ["medical_escort"])
    listed = c.RecordNeeds(case_id="C-9", member_id="C-9-M2", needs=["medical_escort", "wheelchair"])
    state = movement.fold(movement.decide(state, listed, now, officer), state, "MV-8")
    assert state.manifest[0].members[1].needs == ["medical_escort", "wheelchair"]
    assert movement.decide(state, c.RecordNeeds(case_id="C-9", member_id="C-9-M2",
                                                needs=["wheelchair"]), now, officer) == []  # the same needs
    rows = manifest_rows(state, {})
    assert [(r.full_name, r.seat, r.escort) for r in rows if r.kind == "passenger"] == [
        ("Karwan Aziz", "seat", ""), ("Rojin Aziz", "seat; medical escort; wheelchair", "medical: Dr. Aylin Kaya")]
    assert movement.decide(state, c.LockManifest(), now, officer, [facts(True)])
