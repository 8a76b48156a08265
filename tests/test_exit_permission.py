"""The host state's exit permission for resettlement (issue 13), through the API on the real stack.

The test stack requires the DGMM exit permission in IZM only (tests/support/stack.py; the
production default, domain/offices.py, requires it in IST and IZM, both in Türkiye): an IZM
resettlement case gets one "Record the exit permission" task in the movement stage, beside the
booking; its departure is refused without it; a movement refuses it on the manifest (rule
``exit_permission``) without it and with one that expires before the day of travel; an IST case
gets no task.  Bad form input is a 422 naming the field and changes nothing, and the served
JSON Schema carries the rule that valid_until is not before issued_on."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from domain.model import Actor, Stage
from domain.movements import commands as c
from domain.movements.decide import MovementRejected, decide, fold
from domain.movements.model import CaseFacts, MemberFacts, MovementDetails
from domain.movements.rules import exit_permission_problems
from domain.programmes.exit_permission import TASK, RecordExitPermissionForm
from tests.support.browser import signed_in
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.pages import Page
from tests.support.stack import Stack

OFFICER = "emre"  # movement officer, IST and IZM
PERMISSION = "DGMM exit permission"


def _istanbul_today() -> date:
    return datetime.now(ZoneInfo("Europe/Istanbul")).date()


def _permission(valid_until: date, **overrides: Any) -> dict[str, Any]:
    return {"reference": "DGMM-35-2026-004412", "issued_on": _istanbul_today().isoformat(),
            "valid_until": valid_until.isoformat(),
            "issuing_authority": "DGMM, İzmir Provincial Directorate of Migration Management"} | overrides


def _movement(office: str = "IZM", hours: float = 30, arrival_airport: str = "OSL") -> dict[str, Any]:
    departs = (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0)
    return {"kind": "scheduled_block", "flight_number": "TK2321", "carrier": "Turkish Airlines",
            "departure_airport": "ADB", "arrival_airport": arrival_airport, "departure_at": departs.isoformat(),
            "departure_time_zone": "Europe/Istanbul", "arrival_at": (departs + timedelta(hours=5)).isoformat(),
            "seat_capacity": 20, "escorts": [{"name": "Elif Arslan", "kind": "operational"}], "office": office}


async def _call(driver: CaseDriver, method: str, path: str, username: str = OFFICER, **kwargs: Any) -> Any:
    return await driver.client.request(method, path, headers=await driver.login(username), **kwargs)


async def _ok(driver: CaseDriver, method: str, path: str, username: str = OFFICER, **kwargs: Any) -> Any:
    r = await _call(driver, method, path, username, **kwargs)
    assert r.status_code < 300, f"{method} {path} -> {r.status_code}: {r.text}"
    return r.json()


async def _in_movement_stage(driver: CaseDriver, office: str = "IZM") -> dict[str, Any]:
    case = await driver.refer(referral(office=office, size=1), "mehmet" if office == "IZM" else "ayse")
    case = await driver.advance(case, until=Stage.MOVEMENT)
    assert case["stage"] == "movement"
    return case


def _task(case: dict[str, Any], task_type: str) -> dict[str, Any]:
    return next(t for t in case["open_tasks"] if t["task_type"] == task_type)


async def test_an_izmir_case_records_its_exit_permission_beside_the_booking_and_departs_only_with_it(
        driver: CaseDriver, stack: Stack) -> None:
    case = await _in_movement_stage(driver)
    assert sorted(t["task_type"] for t in case["open_tasks"]) == ["book_movement", TASK]
    task = _task(case, TASK)
    assert (task["title"], task["role"], task["member_id"]) == ("Record the exit permission", "movement_officer", None)
    assert case["programme_data"]["exit_permission_required"] == PERMISSION
    assert case["programme_data"]["exit_permission"] is None
    events = await _ok(driver, "GET", f"/api/v1/cases/{case['case_id']}/events", "ali")
    assert events[0]["type"] == "CaseReferred" and events[0]["data"]["exit_permission"] == PERMISSION

    # The booking may come first; the departure may not come before the permission.
    case = await driver.complete(_task(case, "book_movement"), "IZM")
    for check in [t for t in case["open_tasks"] if t["task_type"] == "check_fit_to_travel"]:
        case = await driver.complete(check, "IZM")
    departure = _task(case, "record_departure")
    r = await _call(driver, "POST", f"/api/v1/tasks/{departure['task_id']}/complete", json={
        "form": {"outcome": "departed", "departed_at": datetime.now(UTC).replace(microsecond=0).isoformat()}})
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "exit_permission_missing"
    assert f"the {PERMISSION} of case {case['case_id']} is not recorded" in error["message"]
    assert "Record the exit permission" in error["message"]
    after = await _ok(driver, "GET", f"/api/v1/cases/{case['case_id']}", "ali")
    assert after["version"] == case["version"] and after["key_dates"]["departed_at"] is None

    # Bad input: a 422 naming the field, and nothing changes.
    path = f"/api/v1/tasks/{task['task_id']}/complete"
    yesterday = _istanbul_today() - timedelta(days=1)
    for form, field in ((_permission(_istanbul_today() + timedelta(days=60), reference=""), "reference"),
                        ({k: v for k, v in _permission(_istanbul_today()).items() if k != "issuing_authority"},
                         "issuing_authority"),
                        (_permission(yesterday, issued_on=(yesterday - timedelta(days=5)).isoformat()), "valid_until")):
        r = await _call(driver, "POST", path, json={"form": form})
        assert r.status_code == 422, r.text
        assert [d["field"] for d in r.json()["error"]["details"]] == [field], r.text
    unchanged = await _ok(driver, "GET", f"/api/v1/cases/{case['case_id']}", "ali")
    assert unchanged["version"] == case["version"] and TASK in [t["task_type"] for t in unchanged["open_tasks"]]

    valid_until = _istanbul_today() + timedelta(days=60)
    case = await driver.complete(task, "IZM", form=_permission(valid_until))
    assert case["programme_data"]["exit_permission"] == {
        "reference": "DGMM-35-2026-004412", "issued_on": _istanbul_today().isoformat(),
        "valid_until": valid_until.isoformat(),
        "issuing_authority": "DGMM, İzmir Provincial Directorate of Migration Management"}
    assert [t["task_type"] for t in case["open_tasks"]] == ["record_departure"]
    case = await driver.complete(_task(case, "record_departure"), "IZM", form={
        "outcome": "departed", "departed_at": datetime.now(UTC).replace(microsecond=0).isoformat()})
    assert case["stage"] == "arrival" and case["key_dates"]["departed_at"] is not None

    # The case page shows it.
    async with signed_in(stack, "ali") as ali:
        page = Page((await ali.get(f"/ui/cases/{case['case_id']}")).text)
    assert "Exit permission" in page.body_text and "DGMM-35-2026-004412" in page.body_text


async def test_the_manifest_refuses_a_case_without_a_valid_exit_permission_naming_it(driver: CaseDriver) -> None:
    for username in ("mehmet", "selin", OFFICER, "ali"):
        await driver.login(username)
    without, short = await asyncio.gather(_in_movement_stage(driver), _in_movement_stage(driver))
    movement = await _ok(driver, "POST", "/api/v1/movements", json=_movement())
    mid = movement["movement_id"]
    travel_day = datetime.fromisoformat(movement["details"]["departure_at"]).astimezone(
        ZoneInfo("Europe/Istanbul")).date()

    r = await _call(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": without["case_id"]})
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "manifest_rules"
    assert [(d["case_id"], d["rule"]) for d in error["details"]] == [(without["case_id"], "exit_permission")]
    assert f"the {PERMISSION} is not recorded" in error["details"][0]["reason"]

    # One that ends before the day of travel (in the airport's zone) is refused too.
    today = _istanbul_today()
    assert today < travel_day
    await driver.complete(_task(short, TASK), "IZM", form=_permission(today))
    r = await _call(driver, "POST", f"/api/v1/movements/{mid}/cases",
                    json={"case_ids": [short["case_id"], without["case_id"]]})
    assert r.status_code == 409, r.text
    details = r.json()["error"]["details"]
    assert [(d["case_id"], d["rule"]) for d in details] == [(short["case_id"], "exit_permission"),
                                                            (without["case_id"], "exit_permission")]
    assert f"valid until {today.isoformat()}, before the day of travel {travel_day.isoformat()}" in details[0]["reason"]
    assert (await _ok(driver, "GET", f"/api/v1/movements/{mid}"))["manifest"] == []

    # Recorded and valid on the day: the case joins, and the lock books it.
    await driver.complete(_task(without, TASK), "IZM", form=_permission(travel_day + timedelta(days=30)))
    movement = await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": without["case_id"]})
    assert [e["case_id"] for e in movement["manifest"]] == [without["case_id"]]
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/lock")


async def test_a_case_whose_host_state_requires_none_gets_no_task(driver: CaseDriver) -> None:
    case = await _in_movement_stage(driver, office="IST")
    assert [t["task_type"] for t in case["open_tasks"]] == ["book_movement"]
    assert "exit_permission_required" not in case["programme_data"]
    events = await _ok(driver, "GET", f"/api/v1/cases/{case['case_id']}/events", "fatma")
    assert "exit_permission" not in events[0]["data"]
    case = await driver.advance(case)
    assert case["closure_reason"] == "arrived"


async def test_the_served_schema_says_valid_until_is_not_before_issued_on(driver: CaseDriver, stack: Stack) -> None:
    case = await _in_movement_stage(driver)
    task = await _ok(driver, "GET", f"/api/v1/tasks/{_task(case, TASK)['task_id']}")
    schema = task["form_schema"]
    assert set(schema["required"]) == {"reference", "issued_on", "valid_until", "issuing_authority"}
    valid_until = schema["properties"]["valid_until"]
    assert valid_until["formatMinimum"] == {"$data": "1/issued_on"}
    assert "Not before issued_on." in valid_until["description"]
    # The validator enforces what the schema says, also without a "today" to compare with.
    with pytest.raises(ValidationError) as refused:
        RecordExitPermissionForm.model_validate(_permission(date(2026, 1, 9), issued_on="2026-01-10"))
    assert [e["loc"] for e in refused.value.errors()] == [("valid_until",)]
    assert RecordExitPermissionForm.model_validate(_permission(date(2026, 1, 10), issued_on="2026-01-10"))

    # The task page renders the form from that schema, for the movement officer.
    async with signed_in(stack, OFFICER) as emre:
        response = await emre.get(f"/ui/tasks/{task['task_id']}")
    assert response.status_code == 200
    page = Page(response.text)
    assert {"reference", "issued_on", "valid_until", "issuing_authority"} <= set(page.controls("task-form"))
    assert "Record the exit permission" in page.body_text


NOW = datetime(2027, 2, 20, 9, tzinfo=UTC)
OFFICER_ACTOR = Actor(id="emre", role="movement_officer")


def _open_movement(movement_id: str, departure_at: str, arrival_at: str) -> tuple[MovementDetails, Any]:
    details = MovementDetails.model_validate(_movement() | {"departure_at": departure_at, "arrival_at": arrival_at})
    return details, fold(decide(None, c.CreateMovement(details=details), NOW, OFFICER_ACTOR), None, movement_id)


def _travelling_member(member_id: str) -> MemberFacts:
    """Cleared, with a visa, both valid well past the day of travel: only the exit permission may block."""
    return MemberFacts(member_id=member_id, full_name="Rania Haddad", date_of_birth=date(1990, 1, 1),
                       health="cleared", clearance_valid_until=date(2027, 6, 1), visa="issued",
                       visa_valid_until=date(2027, 6, 1))


def test_the_rule_is_checked_at_add_and_at_lock_and_facts_taken_before_it_block_nothing() -> None:
    now, officer = NOW, OFFICER_ACTOR
    # 22:30 UTC on 1 March is 01:30 on 2 March in Istanbul: the day of travel is the airport's.
    details, state = _open_movement("MV-1", "2027-03-01T22:30:00+00:00", "2027-03-02T03:30:00+00:00")
    member = _travelling_member("C-1-M1")
    before_the_rule = CaseFacts(case_id="C-1", office="IZM", programme="resettlement", stage=Stage.MOVEMENT,
                                members=[member], open_tasks={"book_movement": "C-1-T09"})
    assert exit_permission_problems(before_the_rule, details) == []  # nothing required: nothing blocks
    required = before_the_rule.model_copy(update={"exit_permission_required": PERMISSION})
    with pytest.raises(MovementRejected) as refused:
        decide(state, c.AddCase(case_ids=["C-1"]), now, officer, [required])
    assert [(d["case_id"], d["rule"]) for d in refused.value.details] == [("C-1", "exit_permission")]
    on_the_day = required.model_copy(update={"exit_permission_valid_until": date(2027, 3, 2)})
    state = fold(decide(state, c.AddCase(case_ids=["C-1"]), now, officer, [on_the_day]), state, "MV-1")
    # at lock, the facts as they stand then: a permission that ends the day before travel blocks
    ends_the_day_before = required.model_copy(update={"exit_permission_valid_until": date(2027, 3, 1)})
    with pytest.raises(MovementRejected) as refused:
        decide(state, c.LockManifest(), now, officer, [ends_the_day_before])
    assert [(d["case_id"], d["rule"]) for d in refused.value.details] == [("C-1", "exit_permission")]
    assert "valid until 2027-03-01, before the day of travel 2027-03-02" in refused.value.details[0]["message"]
    decide(state, c.LockManifest(), now, officer, [on_the_day])  # valid on the day: locks


def test_a_delay_past_the_exit_permission_names_the_case() -> None:
    """A later day of travel may outrun the exit permission as it may a visa: the delay names that
    case (on a locked manifest it is dropped back to rebooking with the same finding)."""
    now, officer = NOW, OFFICER_ACTOR
    details, state = _open_movement("MV-2", "2027-03-01T08:00:00+00:00", "2027-03-01T12:00:00+00:00")
    member = _travelling_member("C-2-M1")
    short = CaseFacts(case_id="C-2", office="IZM", programme="resettlement", stage=Stage.MOVEMENT, members=[member],
                      open_tasks={"book_movement": "C-2-T09"}, exit_permission_required=PERMISSION,
                      exit_permission_valid_until=date(2027, 3, 5))
    long = short.model_copy(update={"case_id": "C-3", "exit_permission_valid_until": date(2027, 6, 1),
                                    "members": [member.model_copy(update={"member_id": "C-3-M1"})],
                                    "open_tasks": {"book_movement": "C-3-T09"}})
    state = fold(decide(state, c.AddCase(case_ids=["C-2", "C-3"]), now, officer, [short, long]), state, "MV-2")
    delayed = decide(state, c.DelayMovement(departure_at=datetime(2027, 3, 10, 8, tzinfo=UTC), reason="engine"),
                     now, officer, [short, long])
    [event] = [e for e in (delayed if isinstance(delayed, list) else [delayed]) if hasattr(e, "problems")]
    assert [(p.case_id, p.rule) for p in event.problems] == [("C-2", "exit_permission")]
    assert "valid until 2027-03-05, before the day of travel 2027-03-10" in event.problems[0].message
    # the manifest is open: the delay names it; on a locked one the same finding drops the case (drop)
    assert event.drop == {}


async def test_a_family_leaving_izmir_to_join_its_sponsor_needs_the_exit_permission_too(
        driver: CaseDriver) -> None:
    """Family reunification leaves the same host state: an IZM family case gets the same task
    beside its booking, its departure is refused without it, a movement refuses it on the
    manifest without it (the rule is the programme-neutral ``exit_permission``), and with it
    recorded the family departs."""
    from tests.test_family_reunification import family

    case = await driver.refer(family(office="IZM"), "mehmet")
    case = await driver.advance(case, until=Stage.MOVEMENT)
    assert case["programme"] == "family_reunification" and case["stage"] == "movement"
    assert sorted(t["task_type"] for t in case["open_tasks"]) == ["book_movement", TASK]
    assert case["programme_data"]["exit_permission_required"] == PERMISSION

    # to Berlin: the family joins its sponsor in Germany (the manifest's destination rule)
    movement = await _ok(driver, "POST", "/api/v1/movements", json=_movement(arrival_airport="BER"))
    r = await _call(driver, "POST", f"/api/v1/movements/{movement['movement_id']}/cases",
                    json={"case_id": case["case_id"]})
    assert r.status_code == 409, r.text
    assert [d["rule"] for d in r.json()["error"]["details"]] == ["exit_permission"]

    case = await driver.complete(_task(case, "book_movement"), "IZM")
    departure = _task(case, "record_departure")  # no fit-to-travel checks in this programme
    r = await _call(driver, "POST", f"/api/v1/tasks/{departure['task_id']}/complete", json={
        "form": {"outcome": "departed", "departed_at": datetime.now(UTC).replace(microsecond=0).isoformat()}})
    assert r.status_code == 409 and r.json()["error"]["code"] == "exit_permission_missing", r.text

    case = await driver.complete(_task(case, TASK), "IZM", form=_permission(_istanbul_today() + timedelta(days=30)))
    assert case["programme_data"]["exit_permission"]["reference"] == "DGMM-35-2026-004412"
    case = await driver.complete(_task(case, "record_departure"), "IZM", form={
        "outcome": "departed", "departed_at": datetime.now(UTC).replace(microsecond=0).isoformat()})
    assert case["stage"] == "arrival"


async def test_a_family_leaving_istanbul_in_the_test_stack_needs_none(driver: CaseDriver) -> None:
    from tests.test_family_reunification import family

    case = await driver.advance(await driver.refer(family(office="IST")), until=Stage.MOVEMENT)
    assert [t["task_type"] for t in case["open_tasks"]] == ["book_movement"]
    assert "exit_permission_required" not in case["programme_data"]
