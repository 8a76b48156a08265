"""Facts a group workflow fans out to a case reach it on hold (explore5 findings 4 and 5).

A movement's departure (departed or not boarded), its cancellation and its arrival, and an
orientation session's attendance, have already happened when they are recorded: a hold (which
pauses the case's work and its SLA clocks) must not erase them.  Sent by the group's fan-out
(``CompleteTask.group``), such a completion is recorded on a held case, which stays on hold;
the resume then continues normally.  New work (a booking at a movement's lock) and everything a
person does by hand still wait for the resume.  First the pure core, then through the API.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.worker import Replayer

from activities.movements import MovementActivities
from domain.case import (
    CaseState,
    CompleteTask,
    DecisionContext,
    HoldCase,
    ReferCase,
    ResumeCase,
    Tick,
    decide,
    fold,
    next_deadline,
)
from domain.errors import CommandRejected, RejectionCode
from domain.identity import case_id_for
from domain.model import Actor, CaseStatus, Referral, Stage
from domain.movements.records import FanOutRequest, fan_out_update_id
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.forms import example_form
from tests.support.stack import Stack
from tests.support.stack import stack_settings
from tests.support.waiting import eventually
from tests.test_branches import _patches
from tests.test_movements import _check_fit_to_travel, _details, _family
from tests.test_movements import _fan_out_done as _movement_fanned_out
from temporal_client import data_converter
from worker import WORKFLOWS, workflow_runner
from workflows.case_workflow import FACTS_ON_HOLD_PATCH, HOLD_FROM_OPENING_PATCH
from workflows.orientation_session import CLOSED_CASES_PATCH

NOW = datetime.now(UTC).replace(microsecond=0)
MOVEMENT = "movement MV-TEST"
SESSION = "orientation session OS-TEST"
DESTINATION = "EE"  # no other test's orientation sessions go to Estonia: the proposals are ours alone


# --- the pure core ---------------------------------------------------------------------------------


def _ctx(now: datetime = NOW, who: str = "emre", **flags: Any) -> DecisionContext:
    ids = itertools.count(1)
    return DecisionContext(now=now, actor=Actor(id=who, role="movement_officer"),
                           new_event_id=lambda: f"e-{next(ids)}", **flags)


def _walk_to(task_type: str, size: int = 2) -> tuple[CaseState, datetime]:
    """A resettlement case worked (every task with its example form, the clock ticked when
    nothing is open) until a ``task_type`` task is open."""
    body = Referral.model_validate(referral(size=size))
    # The walk's own now, not the module's: its example forms date checks a minute before the
    # wall clock, which is minutes past a NOW taken when the suite collected this module.
    now = datetime.now(UTC).replace(microsecond=0)
    state = fold(decide(None, ReferCase(case_id=case_id_for(body.external_referral_id), referral=body), _ctx(now)))
    for _ in range(80):
        if any(t.task_type == task_type for t in state.open_tasks):
            return state, now
        if not state.open_tasks:
            deadline = next_deadline(state)
            assert deadline is not None, state.stage
            now = max(now, deadline)
            state = fold(decide(state, Tick(), _ctx(now)), start=state)
            continue
        task = state.open_tasks[0]
        form = example_form(task.model_dump() | {"programme": str(state.programme)}, now.date())
        state = fold(decide(state, CompleteTask(task_id=task.task_id, form=form), _ctx(now)), start=state)
    raise AssertionError(f"no {task_type} task opened; the case is in {state.stage}")


def _held(state: CaseState, now: datetime) -> CaseState:
    return fold(decide(state, HoldCase(reason="Protection concern."), _ctx(now, "fatma")), start=state)


def _task(state: CaseState, task_type: str):
    return next(t for t in state.open_tasks if t.task_type == task_type)


def test_a_departure_from_a_movement_is_recorded_on_a_held_case_which_stays_on_hold() -> None:
    state, now = _walk_to("record_departure")
    held = _held(state, now)
    task = _task(held, "record_departure")
    form = {"outcome": "departed", "departed_at": now.isoformat(), "notes": "Group movement MV-TEST"}

    # By hand: refused, as before.
    with pytest.raises(CommandRejected) as refused:
        decide(held, CompleteTask(task_id=task.task_id, form=form), _ctx(now))
    assert refused.value.code == RejectionCode.CASE_ON_HOLD and "is on hold" in refused.value.message

    # From the movement: recorded; the case is in arrival and still on hold, since the same moment.
    events = decide(held, CompleteTask(task_id=task.task_id, form=form, group=MOVEMENT), _ctx(now))
    after = fold(events, start=held)
    assert "CaseDeparted" in [e.type for e in events]
    assert (after.stage, after.status, after.held_at, after.hold_reason) == (
        Stage.ARRIVAL, CaseStatus.ON_HOLD, held.held_at, "Protection concern.")
    assert after.departed_at is not None
    arrival = _task(after, "confirm_arrival")
    # Its SLA clock is paused: no timer for the arrival confirmation's due while on hold.
    assert next_deadline(after) != arrival.due_at

    # The arrival by hand waits for the resume; the movement's arrival too, since it would close
    # the case: a fact moves a held case on, but never ends its hold unseen.
    arrival_form = {"arrived_on": now.date().isoformat(), "place": "Oslo", "notes": "Group movement MV-TEST"}
    with pytest.raises(CommandRejected):
        decide(after, CompleteTask(task_id=arrival.task_id, form=arrival_form), _ctx(now))
    with pytest.raises(CommandRejected) as closing:
        decide(after, CompleteTask(task_id=arrival.task_id, form=arrival_form, group=MOVEMENT), _ctx(now))
    assert closing.value.code == RejectionCode.CASE_ON_HOLD and "would close it" in closing.value.message

    # Resumed instead: the case goes on as usual, the arrival confirmed by hand.
    later = now + timedelta(hours=5)
    resumed = fold(decide(after, ResumeCase(reason="Cleared."), _ctx(later, "fatma")), start=after)
    assert resumed.status == CaseStatus.ACTIVE and resumed.held_at is None
    assert _task(resumed, "confirm_arrival").due_at == arrival.due_at + timedelta(hours=5)
    done = fold(decide(resumed, CompleteTask(task_id=arrival.task_id, form=arrival_form), _ctx(later)), start=resumed)
    assert done.arrived_on == now.date()


def test_a_no_show_or_a_cancellation_frees_a_held_case_but_a_booking_waits_for_the_resume() -> None:
    state, now = _walk_to("record_departure")
    held = _held(state, now)
    task = _task(held, "record_departure")
    for outcome in ("no_show", "postponed"):
        form = {"outcome": outcome, "reason": "Did not come to the airport.", "notes": "Group movement MV-TEST"}
        after = fold(decide(held, CompleteTask(task_id=task.task_id, form=form, group=MOVEMENT), _ctx(now)),
                     start=held)
        assert after.status == CaseStatus.ON_HOLD and after.movement is None and after.departed_at is None
        booking = _task(after, "book_movement")
        # A new booking is new work: refused on hold, from a movement too.
        book = {"flight_number": "XC4401", "departure_at": (now + timedelta(days=3)).isoformat(),
                "departure_airport": "IST", "arrival_airport": "OSL", "notes": "Group movement MV-TEST"}
        with pytest.raises(CommandRejected) as refused:
            decide(after, CompleteTask(task_id=booking.task_id, form=book, group=MOVEMENT), _ctx(now))
        assert refused.value.code == RejectionCode.CASE_ON_HOLD


def test_an_orientation_attendance_is_recorded_on_a_held_case_and_only_then_asks_the_rule() -> None:
    state, now = _walk_to("record_orientation")
    held = _held(state, now)
    asked: list[bool] = []

    def rule() -> bool:
        asked.append(True)
        return True

    form = {"session_date": now.date().isoformat(), "language": "ar", "notes": "Orientation session OS-TEST"}
    first, second = [t for t in held.open_tasks if t.task_type == "record_orientation"]
    # A person's completion on a held case, and a session's on an active one, do not ask the rule.
    with pytest.raises(CommandRejected):
        decide(held, CompleteTask(task_id=first.task_id, form=form), _ctx(now, facts_on_hold=rule))
    decide(state, CompleteTask(task_id=first.task_id, form=form, group=SESSION), _ctx(now, facts_on_hold=rule))
    assert asked == []
    # Histories from before the rule (the flag off): refused, as they ran.
    with pytest.raises(CommandRejected):
        decide(held, CompleteTask(task_id=first.task_id, form=form, group=SESSION), _ctx(now, facts_on_hold=False))

    after = held
    for task in (first, second):
        after = fold(decide(after, CompleteTask(task_id=task.task_id, form=form, group=SESSION),
                            _ctx(now, facts_on_hold=rule)), start=after)
    assert asked == [True, True]
    assert {p.orientation for p in after.progress.values()} == {"attended"}
    assert after.status == CaseStatus.ON_HOLD and after.held_at == held.held_at
    assert after.stage != Stage.ORIENTATION  # moved on; its next work waits for the resume


# --- through the API ----------------------------------------------------------------------------------


async def _ok(driver: CaseDriver, method: str, path: str, username: str, **kwargs: Any) -> Any:
    r = await driver.client.request(method, path, headers=await driver.login(username), **kwargs)
    assert r.status_code < 300, f"{method} {path} -> {r.status_code}: {r.text}"
    return r.json()


async def _case(driver: CaseDriver, case_id: str) -> dict[str, Any]:
    return await _ok(driver, "GET", f"/api/v1/cases/{case_id}", "fatma")


async def _event_types(driver: CaseDriver, case_id: str) -> Counter[str]:
    return Counter(e["type"] for e in await _ok(driver, "GET", f"/api/v1/cases/{case_id}/events", "fatma"))


async def _in_movement_stage(driver: CaseDriver) -> dict[str, Any]:
    case = await driver.advance(await driver.refer(_family(1), "ayse"), until=Stage.MOVEMENT)
    assert [t["task_type"] for t in case["open_tasks"]] == ["book_movement"]
    return case


async def test_a_movements_departure_cancellation_and_arrival_reach_held_cases(driver: CaseDriver,
                                                                              stack: Stack) -> None:
    """The departure's fan-out reaching a case a supervisor held a moment earlier (the race of
    explore5 #4, sent as the movement's fan-out sends it), the arrival's fan-out and a
    cancellation's: each recorded on the held case, which stays on hold; a caseworker's
    completion is still refused on hold."""
    for username in ("ayse", "selin", "deniz", "emre", "fatma"):
        await driver.login(username)
    flying, staying = await asyncio.gather(_in_movement_stage(driver), _in_movement_stage(driver))
    mid = (await _ok(driver, "POST", "/api/v1/movements", "emre", json=_details(capacity=9, hours=8)))["movement_id"]
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", "emre", json={"case_id": flying["case_id"]})
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/lock", "emre")
    locked = await _movement_fanned_out(driver, mid)
    await _check_fit_to_travel(driver, flying["case_id"])

    # The departure confirmed, and a hold landing on the case before the fan-out reaches it.
    departed_at = datetime.now(UTC).replace(microsecond=0)
    concern = "Urgent protection concern."
    await _ok(driver, "POST", f"/api/v1/cases/{flying['case_id']}/hold", "fatma", json={"reason": concern})
    held = await _case(driver, flying["case_id"])
    task_id = next(t["task_id"] for t in held["open_tasks"] if t["task_type"] == "record_departure")
    d = locked["details"]
    result = await MovementActivities(stack.temporal, stack.pool).fan_out_to_case(FanOutRequest(
        movement_id=mid, case_id=flying["case_id"], step="departure",
        update_id=fan_out_update_id(mid, "departure-race", flying["case_id"]), task_id=task_id,
        flight_number=d["flight_number"], departure_at=datetime.fromisoformat(d["departure_at"]),
        departure_airport=d["departure_airport"], arrival_airport=d["arrival_airport"], outcome="departed",
        departed_at=departed_at, actor=Actor(id="emre", role="movement_officer")))
    assert (result.applied, result.reason) == (True, None)
    after = await _case(driver, flying["case_id"])
    assert (after["status"], after["stage"], after["hold_reason"]) == ("on_hold", "arrival", concern)
    assert after["key_dates"]["held_at"] == held["key_dates"]["held_at"]
    assert datetime.fromisoformat(after["key_dates"]["departed_at"]) == departed_at
    assert (await _event_types(driver, flying["case_id"]))["CaseDeparted"] == 1
    # Hand work still waits for the resume.
    arrival_task = next(t for t in after["open_tasks"] if t["task_type"] == "confirm_arrival")
    r = await driver.client.post(f"/api/v1/tasks/{arrival_task['task_id']}/complete",
                                 headers=await driver.login("ayse"),
                                 json={"form": {"arrived_on": departed_at.date().isoformat(), "place": "Oslo"}})
    assert r.status_code == 409 and r.json()["error"]["code"] == "case_on_hold", r.text

    # Resumed, the movement departs; then held again:
    # the movement's departure finds the departure there, and its arrival reaches the held case.
    await _ok(driver, "POST", f"/api/v1/cases/{flying['case_id']}/resume", "fatma", json={"reason": "Cleared."})
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/departure", "emre",
              json={"departed_at": departed_at.isoformat()})
    done = await _movement_fanned_out(driver, mid)
    assert [(e["departure"]["outcome"], e["departure"]["applied"]) for e in done["manifest"]] == [("departed", True)]
    assert (await _event_types(driver, flying["case_id"]))["CaseDeparted"] == 1
    await _ok(driver, "POST", f"/api/v1/cases/{flying['case_id']}/hold", "fatma", json={"reason": "Second concern."})
    await stack.temporal.get_workflow_handle(mid).result()
    landed = departed_at.astimezone(ZoneInfo("Europe/Oslo")).date()  # not before the departure's day in Oslo
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/arrival", "emre",
              json={"arrived_on": landed.isoformat(), "place": "Oslo"})
    arrived = await _movement_fanned_out(driver, mid)
    # The arrival would close the held case: not applied, said why; the hold stays, and the
    # arrival is confirmed on the case once a supervisor has resumed it.
    arrival = arrived["manifest"][0]["arrival"]
    assert (arrival["applied"], "would close it" in (arrival["reason"] or "")) == (False, True), arrival
    assert "record it on the case's own confirm_arrival task" in arrival["reason"], arrival
    assert (await _case(driver, flying["case_id"]))["status"] == "on_hold"
    await _ok(driver, "POST", f"/api/v1/cases/{flying['case_id']}/resume", "fatma", json={"reason": "Cleared."})
    confirm = next(t for t in (await _case(driver, flying["case_id"]))["open_tasks"]
                   if t["task_type"] == "confirm_arrival")
    await driver.complete(confirm, "IST", form={"arrived_on": departed_at.date().isoformat(), "place": "Oslo"})
    assert (await _event_types(driver, flying["case_id"]))["ArrivalConfirmed"] == 1
    assert (await _case(driver, flying["case_id"]))["key_dates"]["arrived_on"] == departed_at.date().isoformat()

    # A cancellation frees a held case: its booking on the cancelled flight is dropped, it stays on hold.
    other = (await _ok(driver, "POST", "/api/v1/movements", "emre", json=_details(capacity=9)))["movement_id"]
    await _ok(driver, "POST", f"/api/v1/movements/{other}/cases", "emre", json={"case_id": staying["case_id"]})
    await _ok(driver, "POST", f"/api/v1/movements/{other}/lock", "emre")
    await _movement_fanned_out(driver, other)
    await _check_fit_to_travel(driver, staying["case_id"])
    await _ok(driver, "POST", f"/api/v1/cases/{staying['case_id']}/hold", "fatma",
              json={"reason": "Checking documents."})
    await _ok(driver, "POST", f"/api/v1/movements/{other}/cancel", "emre",
              json={"reason": "The charter was cancelled."})
    cancelled = await _movement_fanned_out(driver, other)
    assert cancelled["manifest"][0]["departure"] == {"case_id": staying["case_id"], "outcome": "postponed",
                                                     "applied": True, "reason": None}
    freed = await _case(driver, staying["case_id"])
    assert (freed["status"], freed["key_dates"]["departure_at"]) == ("on_hold", None)
    assert [t["task_type"] for t in freed["open_tasks"]] == ["book_movement"]
    # A new booking of a held case stays refused: a movement does not take it (at add, and so at lock).
    third = (await _ok(driver, "POST", "/api/v1/movements", "emre", json=_details(capacity=9)))["movement_id"]
    r = await driver.client.post(f"/api/v1/movements/{third}/cases", headers=await driver.login("emre"),
                                 json={"case_id": staying["case_id"]})
    assert r.status_code == 409 and r.json()["error"]["details"][0]["rule"] == "case_on_hold", r.text


async def test_an_orientation_attendance_reaches_a_held_case(driver: CaseDriver, stack: Stack) -> None:
    """explore5 #5: a case held after its people were invited; the session's attendance is
    recorded on it (it stays on hold) and they are not proposed again for the next session."""
    for username in ("ayse", "selin", "deniz", "fatma"):
        await driver.login(username)
    case, closed = await asyncio.gather(*[driver.advance(
        await driver.refer(referral(office="IST", size=size, destination_country=DESTINATION), "ayse"),
        until=Stage.ORIENTATION) for size in (2, 1)])
    starts = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    session = {"starts_at": starts.isoformat(), "mode": "in_person", "place": "IOM Istanbul, training room 2",
               "language": "ar", "destination_country": DESTINATION, "capacity": 10, "facilitator": "Leyla Osman",
               "office": "IST"}
    sid = (await _ok(driver, "POST", "/api/v1/orientation-sessions", "ayse", json=session))["session_id"]
    await _ok(driver, "POST", f"/api/v1/orientation-sessions/{sid}/participants", "ayse",
              json={"participants": [{"case_id": case["case_id"]}, {"case_id": closed["case_id"]}]})
    await _ok(driver, "POST", f"/api/v1/cases/{case['case_id']}/hold", "fatma", json={"reason": "Checking docs."})
    await _ok(driver, "POST", f"/api/v1/cases/{closed['case_id']}/withdraw", "ayse",
              json={"reason": "The family withdrew."})

    # A person whose case has closed since the invitation cannot be counted as attended: named.
    everyone = [{"member_id": m["member_id"], "attended": True} for m in case["members"] + closed["members"]]
    r = await driver.client.post(f"/api/v1/orientation-sessions/{sid}/attendance", headers=await driver.login("ayse"),
                                 json={"attendance": everyone})
    assert r.status_code == 409, r.text
    assert [(d["case_id"], d["rule"], d["member_name"]) for d in r.json()["error"]["details"]] == [
        (closed["case_id"], "case_closed", closed["members"][0]["full_name"])]
    assert "is closed" in r.json()["error"]["message"]
    await _ok(driver, "POST", f"/api/v1/orientation-sessions/{sid}/attendance", "ayse", json={"attendance": [
        {"member_id": m["member_id"], "attended": True} for m in case["members"]] + [
        {"member_id": closed["members"][0]["member_id"], "attended": False, "absence_reason": "Case withdrawn."}]})
    seen: dict[str, Any] = {}

    async def fanned_out() -> bool:
        seen.update(await _ok(driver, "GET", f"/api/v1/orientation-sessions/{sid}", "ayse"))
        return seen["fan_out"]["pending"] == 0
    await eventually(fanned_out, timeout=90, interval=0.2, what=lambda: f"the fan-out of {sid}: {seen.get('fan_out')}")
    assert seen["fan_out"]["not_applied"] == 0 and (seen["attended"], seen["absent"]) == (2, 1), seen
    after = await _case(driver, case["case_id"])
    assert (after["status"], after["hold_reason"]) == ("on_hold", "Checking docs.")
    assert after["stage"] != "orientation"
    assert (await _event_types(driver, case["case_id"]))["OrientationAttended"] == 2

    # Resumed: it goes on from where the attendance took it; nobody is proposed again.
    await _ok(driver, "POST", f"/api/v1/cases/{case['case_id']}/resume", "fatma", json={"reason": "Docs fine."})
    assert (await _case(driver, case["case_id"]))["status"] == "active"
    nxt = (await _ok(driver, "POST", "/api/v1/orientation-sessions", "ayse",
                     json=session | {"starts_at": (starts + timedelta(days=7)).isoformat()}))["session_id"]
    proposed = await _ok(driver, "GET", f"/api/v1/orientation-sessions/{nxt}/proposals", "ayse")
    assert not {p["case_id"] for p in proposed["items"]} & {case["case_id"], closed["case_id"]}, proposed

    # Both rules are behind their patches; the histories replay (and are recorded for tests/test_replay.py).
    await _replays_and_is_recorded(stack, case["case_id"], FACTS_ON_HOLD_PATCH, "resettlement_orientation_on_hold.json")
    # The visa tasks the attendance opened during the hold were moved by the time since they
    # opened (tests/test_hold_from_opening.py): that rule is behind its patch too.
    await _replays_and_is_recorded(stack, case["case_id"], HOLD_FROM_OPENING_PATCH,
                                   "resettlement_hold_from_opening.json")
    session_handle = stack.temporal.get_workflow_handle(sid)
    await session_handle.result()
    await _replays_and_is_recorded(stack, sid, CLOSED_CASES_PATCH, "orientation_session_closed_case.json")


async def _replays_and_is_recorded(stack: Stack, workflow_id: str, patch: str, name: str) -> None:
    handle = stack.temporal.get_workflow_handle(workflow_id)
    assert patch in await _patches(handle)
    history = await handle.fetch_history()
    await Replayer(workflows=WORKFLOWS, data_converter=data_converter(stack_settings()),
                   workflow_runner=workflow_runner(False)).replay_workflow(history)
    if os.environ.get("ITINERA_RECORD_HISTORIES"):
        path = Path(__file__).parent / "histories" / name
        path.write_text(json.dumps({"workflow_id": workflow_id, "history": json.loads(history.to_json())}, indent=1))
