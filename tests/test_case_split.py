"""Splitting a family (issue 13: "splitting a family is an explicit, reasoned action") through
the API on the real stack: members move into a new case ``<case_id>-S<n>`` in the same stage
with their per-member records and open tasks; every refusal names its field and rule; a
retried split (same Idempotency-Key, same body) opens one case; both cases' histories say
what happened; the read model agrees with the events (``itinera check``); and after a split
each part travels on its own (a movement departs with part of a family)."""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.testing import ActivityEnvironment
from temporalio.worker import Replayer

from activities.case_splits import CaseSplitActivities

from consistency import check
from domain.case import CaseState, ReferCase, RuleFlags, SplitCase, decide, decision_context, fold
from domain.engine.split import split_opening
from domain.errors import CommandRejected
from domain.events import CaseSplit
from domain.model import Actor, Referral, Stage
from domain.records import OpenSplitCaseRequest
from tests.support.browser import signed_in
from tests.support.driver import CaseDriver
from tests.support.factories import member, referral
from tests.support.pages import Page
from tests.support.stack import Stack, stack_settings
from temporal_client import data_converter
from worker import WORKFLOWS, workflow_runner
from tests.test_movements import _details, _fan_out_done, _ok, login_all

CASEWORKER = "ayse"
SUPERVISOR = "fatma"


def _family_of_four() -> dict[str, Any]:
    """A principal, an adult spouse and two children (the youngest under 18 for years)."""
    body = referral(size=1)
    body["members"] += [member("Omar Haddad", "1985-01-20", "spouse", sex="male"),
                        member("Lina Haddad", "2015-06-02", "child"),
                        member("Sami Haddad", "2019-09-09", "child", sex="male")]
    return body


async def _split(driver: CaseDriver, case_id: str, body: dict[str, Any], username: str = CASEWORKER,
                 key: str | None = None) -> Any:
    headers = await driver.login(username)
    if key is not None:
        headers = headers | {"Idempotency-Key": key}
    return await driver.client.post(f"/api/v1/cases/{case_id}/split", json=body, headers=headers)


async def _events(driver: CaseDriver, case_id: str) -> list[dict[str, Any]]:
    r = await driver.client.get(f"/api/v1/cases/{case_id}/events", headers=await driver.login(SUPERVISOR))
    assert r.status_code == 200, r.text
    return r.json()


async def _get(driver: CaseDriver, case_id: str) -> dict[str, Any]:
    r = await driver.client.get(f"/api/v1/cases/{case_id}", headers=await driver.login(SUPERVISOR))
    assert r.status_code == 200, r.text
    return r.json()


async def _in_health(driver: CaseDriver) -> dict[str, Any]:
    case = await driver.advance(await driver.refer(_family_of_four()), until=Stage.HEALTH)
    assert case["stage"] == "health", case["stage"]
    return case


async def _consistent(stack: Stack, *case_ids: str) -> None:
    async with stack.pool.acquire() as conn:
        report = await check(conn, stack.temporal, list(case_ids))
    assert report.cases_checked == len(case_ids) and report.clean, [str(d) for d in report.differences]


async def test_a_split_moves_members_with_their_records_and_open_tasks(driver: CaseDriver, stack: Stack) -> None:
    case = await _in_health(driver)
    case_id = case["case_id"]
    m1, m2, m3, m4 = (m["member_id"] for m in case["members"])
    # The spouse's health assessment is done (cleared); the others' are open.
    spouse_task = next(t for t in case["open_tasks"] if t["member_id"] == m2)
    case = await driver.complete(spouse_task, "IST")
    assert {t["member_id"] for t in case["open_tasks"]} == {m1, m3, m4}
    spouse_health = next(m for m in case["members"] if m["member_id"] == m2)["health_status"]
    moving_task = next(t for t in case["open_tasks"] if t["member_id"] == m4)

    r = await _split(driver, case_id, {"member_ids": [m4, m2], "principal_member_id": m2,
                                       "reason": "Omar and Sami stay behind for Sami's treatment."})
    assert r.status_code == 200, r.text
    original, new = r.json()["case"], r.json()["new_case"]
    new_id = f"{case_id}-S1"
    assert new["case_id"] == new_id and original["case_id"] == case_id
    # The original keeps its principal and the members who stay, and the tasks of those members.
    assert [m["member_id"] for m in original["members"]] == [m1, m3]
    assert original["principal_name"] == "Amina Haddad" and original["member_count"] == 2
    assert {t["member_id"] for t in original["open_tasks"]} == {m1, m3}
    assert original["stage"] == "health" and original["split_into"] == [new_id] and original["split_from"] is None
    # The new case: same programme, office, priority, destination and stage; the moved members
    # (the new principal first) with their records; the moved member's open task carried over.
    assert (new["programme"], new["office"], new["priority"], new["destination_country"], new["stage"]) == (
        original["programme"], original["office"], original["priority"], original["destination_country"], "health")
    assert [m["member_id"] for m in new["members"]] == [m2, m4]
    assert new["members"][0]["relationship"] == "principal" and new["principal_name"] == "Omar Haddad"
    assert new["members"][0]["health_status"] == spouse_health
    assert [(t["task_type"], t["member_id"]) for t in new["open_tasks"]] == [(moving_task["task_type"], m4)]
    assert new["open_tasks"][0]["task_id"].startswith(new_id + "-T")
    assert new["open_tasks"][0]["due_at"] == moving_task["due_at"]
    assert new["split_from"] == case_id and new["split_into"] == []

    # The history of both says what happened, who did it and why.
    events = await _events(driver, case_id)
    cancelled = [e for e in events if e["type"] == "TaskCancelled" and e["data"]["task_id"] == moving_task["task_id"]]
    assert cancelled and new_id in cancelled[0]["data"]["reason"]
    split = [e for e in events if e["type"] == "CaseSplit"]
    assert len(split) == 1 and split[0]["data"]["member_ids"] == [m2, m4]
    assert split[0]["data"]["new_case_id"] == new_id and split[0]["actor"]["id"] == CASEWORKER
    assert "treatment" in split[0]["data"]["reason"]
    new_events = await _events(driver, new_id)
    assert [e["type"] for e in new_events][:3] == ["CaseSplitFrom", "StageEntered", "TaskOpened"]
    assert new_events[0]["data"]["from_case_id"] == case_id and new_events[0]["actor"]["id"] == CASEWORKER

    # The read model: the moved task is cancelled in the original, open in the new case; the
    # members' rows belong to their case; the inbox shows the new case's task.
    async with stack.pool.acquire() as conn:
        status = await conn.fetchval("SELECT status FROM tasks WHERE task_id = $1", moving_task["task_id"])
        owners = dict(await conn.fetch("SELECT member_id, case_id FROM case_members WHERE member_id = ANY($1::text[])",
                                       [m1, m2, m3, m4]))
    assert status == "cancelled"
    assert owners == {m1: case_id, m3: case_id, m2: new_id, m4: new_id}
    r = await driver.client.get("/api/v1/tasks", params={"case_id": new_id}, headers=await driver.login(SUPERVISOR))
    assert r.status_code == 200 and new["open_tasks"][0]["task_id"] in r.text, r.text
    # The supervisor's timeline of both cases shows the split, and each links to the other.
    async with signed_in(stack, SUPERVISOR) as browser:
        page = Page((await browser.get(f"/ui/cases/{case_id}")).text)
        assert [a["href"] for a in page.find("a", class_="mono split-into")] == [f"/ui/cases/{new_id}"]
        assert page.find("li", class_="timeline__item timeline__item--CaseSplit")
        page = Page((await browser.get(f"/ui/cases/{new_id}")).text)
        assert page.one("a", id="split-from")["href"] == f"/ui/cases/{case_id}"
        assert page.find("li", class_="timeline__item timeline__item--CaseSplitFrom")
    # Those who may not read health details do not get the moved members' records from the event.
    r = await driver.client.get(f"/api/v1/cases/{new_id}/events", headers=await driver.login("emre"))
    assert r.status_code == 200 and "progress" not in r.json()[0]["data"], r.text
    await _consistent(stack, case_id, new_id)

    # Both cases go on on their own: the new case's carried task completes there.
    done = await driver.complete(new["open_tasks"][0], "IST")
    assert done["case_id"] == new_id and not any(t["member_id"] == m4 for t in done["open_tasks"])
    await _consistent(stack, case_id, new_id)


async def test_a_retried_split_opens_one_case(driver: CaseDriver, stack: Stack) -> None:
    case = await _in_health(driver)
    case_id = case["case_id"]
    m4 = case["members"][3]["member_id"]
    body = {"member_ids": [m4], "principal_member_id": m4, "reason": "Sami needs treatment first."}
    key = f"split-{uuid.uuid4().hex}"
    first = await _split(driver, case_id, body, key=key)
    again = await _split(driver, case_id, body, key=key)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert first.json()["new_case"]["case_id"] == again.json()["new_case"]["case_id"] == f"{case_id}-S1"
    assert again.json()["case"]["version"] == first.json()["case"]["version"]
    assert [e["type"] for e in await _events(driver, case_id)].count("CaseSplit") == 1
    assert [e["type"] for e in await _events(driver, f"{case_id}-S1")].count("CaseSplitFrom") == 1
    # Without the key, the same body is another command: the member has already left.
    r = await _split(driver, case_id, body)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "member_ids", r.text
    # A second split of another member is the next case.
    m3 = case["members"][2]["member_id"]
    r = await _split(driver, case_id, {"member_ids": [m3], "principal_member_id": m3, "reason": "Lina goes with Sami."})
    assert r.status_code == 200 and r.json()["new_case"]["case_id"] == f"{case_id}-S2", r.text
    assert r.json()["case"]["split_into"] == [f"{case_id}-S1", f"{case_id}-S2"]
    async with stack.pool.acquire() as conn:
        opened = await conn.fetchval("SELECT count(*) FROM cases WHERE case_id LIKE $1", f"{case_id}-S%")
    assert opened == 2
    await _consistent(stack, case_id, f"{case_id}-S1", f"{case_id}-S2")


async def test_every_refusal_names_its_field_and_rule(driver: CaseDriver, stack: Stack) -> None:
    case = await _in_health(driver)
    case_id = case["case_id"]
    m1, m2, m3, m4 = (m["member_id"] for m in case["members"])

    async def refused(body: dict[str, Any], status: int, code: str, field: str | None = None,
                      username: str = CASEWORKER, on: str | None = None) -> dict[str, Any]:
        r = await _split(driver, on or case_id, body, username)
        assert r.status_code == status, r.text
        error = r.json()["error"]
        assert error["code"] == code, r.text
        if field is not None:
            assert any(d.get("field", d.get("loc", [""])[-1] if isinstance(d.get("loc"), list) else "").endswith(field)
                       for d in error["details"]), r.text
        return error

    reason = "A reason."
    error = await refused({"member_ids": ["C-NOPE-M9"], "principal_member_id": "C-NOPE-M9", "reason": reason},
                          422, "invalid_form", "member_ids")
    assert "C-NOPE-M9" in error["message"]
    await refused({"member_ids": [m2, m3, m4, m1], "principal_member_id": m2, "reason": reason}, 422,
                  "invalid_form", "member_ids")
    error = await refused({"member_ids": [m1, m2], "principal_member_id": m2, "reason": reason}, 422,
                          "invalid_form", "member_ids")
    assert "principal" in error["message"]
    await refused({"member_ids": [m3], "principal_member_id": m2, "reason": reason}, 422, "invalid_form",
                  "principal_member_id")
    error = await refused({"member_ids": [m2, m4], "principal_member_id": m4, "reason": reason}, 422,
                          "invalid_form", "principal_member_id")
    assert "adult" in error["message"]
    await refused({"member_ids": [m4, m4], "principal_member_id": m4, "reason": reason}, 422, "invalid_form",
                  "member_ids")
    await refused({"member_ids": [m4], "principal_member_id": m4}, 422, "invalid_request", "reason")
    await refused({"member_ids": [m4], "principal_member_id": m4, "reason": ""}, 422, "invalid_request", "reason")
    await refused({"member_ids": [], "principal_member_id": m4, "reason": reason}, 422, "invalid_request",
                  "member_ids")
    await refused({"member_ids": [m4], "principal_member_id": m4, "reason": reason}, 403, "forbidden",
                  username="selin")
    await refused({"member_ids": [m4], "principal_member_id": m4, "reason": reason}, 404, "case_not_found",
                  on="C-NONE-NONE-NONE")

    # Held: refused until resumed.
    headers = await driver.login(SUPERVISOR)
    r = await driver.client.post(f"/api/v1/cases/{case_id}/hold", json={"reason": "Checking documents."},
                                 headers=headers)
    assert r.status_code == 200, r.text
    await refused({"member_ids": [m4], "principal_member_id": m4, "reason": reason}, 409, "case_on_hold")
    r = await driver.client.post(f"/api/v1/cases/{case_id}/resume", json={"reason": "Checked."}, headers=headers)
    assert r.status_code == 200, r.text
    # Withdrawn (closed).
    other = await driver.refer(_family_of_four())
    r = await driver.client.post(f"/api/v1/cases/{other['case_id']}/withdraw", json={"reason": "Family withdrew."},
                                 headers=headers)
    assert r.status_code == 200, r.text
    await refused({"member_ids": [other["members"][3]["member_id"]],
                   "principal_member_id": other["members"][3]["member_id"], "reason": reason}, 409, "case_closed",
                  on=other["case_id"])
    # Nothing was split by any of these.
    assert "CaseSplit" not in [e["type"] for e in await _events(driver, case_id)]
    await _consistent(stack, case_id)


async def test_a_booked_case_or_one_on_a_manifest_is_refused(driver: CaseDriver, stack: Stack) -> None:
    await login_all(driver)
    # On an open movement's manifest: take it off first.
    on_manifest = await driver.advance(await driver.refer(_family_of_four()), until=Stage.MOVEMENT)
    movement = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=10))
    await _ok(driver, "POST", f"/api/v1/movements/{movement['movement_id']}/cases",
              json={"case_id": on_manifest["case_id"]})
    m4 = on_manifest["members"][3]["member_id"]
    body = {"member_ids": [m4], "principal_member_id": m4, "reason": "Sami is not fit to travel."}
    r = await _split(driver, on_manifest["case_id"], body)
    assert r.status_code == 409 and r.json()["error"]["code"] == "on_movement", r.text
    assert movement["movement_id"] in r.json()["error"]["message"] and "remove" in r.json()["error"]["message"]
    # Booked by hand on a flight: cancel the booking first.
    booked = await driver.advance(await driver.refer(_family_of_four()), until=Stage.MOVEMENT)
    booking = next(t for t in booked["open_tasks"] if t["task_type"] == "book_movement")
    booked = await driver.complete(booking, "IST")
    m4 = booked["members"][3]["member_id"]
    r = await _split(driver, booked["case_id"], body | {"member_ids": [m4], "principal_member_id": m4})
    assert r.status_code == 409 and r.json()["error"]["code"] == "wrong_stage", r.text
    assert "booking" in r.json()["error"]["message"]
    assert r.json()["error"]["details"][0]["field"] == "case_id"


async def test_after_a_split_part_of_the_family_departs_on_a_movement(driver: CaseDriver, stack: Stack) -> None:
    """A family of four in the movement stage; one member is not fit to travel for now: split
    off, the other three are added to a movement, locked, checked and departed; the split-off
    case stays in the movement stage, waiting for a booking of its own."""
    await login_all(driver)
    family = await driver.advance(await driver.refer(_family_of_four()), until=Stage.MOVEMENT)
    case_id = family["case_id"]
    m4 = family["members"][3]["member_id"]
    r = await _split(driver, case_id, {"member_ids": [m4], "principal_member_id": m4,
                                       "reason": "Sami is not fit to fly for six weeks (ear surgery)."})
    assert r.status_code == 200, r.text
    new_id = r.json()["new_case"]["case_id"]
    assert r.json()["new_case"]["stage"] == "movement"
    assert [t["task_type"] for t in r.json()["new_case"]["open_tasks"]] == ["book_movement"]
    assert [t["task_type"] for t in r.json()["case"]["open_tasks"]] == ["book_movement"]

    movement = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=3, hours=8))
    movement_id = movement["movement_id"]
    movement = await _ok(driver, "POST", f"/api/v1/movements/{movement_id}/cases", json={"case_id": case_id})
    assert movement["people"] == 3
    await _ok(driver, "POST", f"/api/v1/movements/{movement_id}/lock")
    await _fan_out_done(driver, movement_id)
    case = await _get(driver, case_id)
    for task in [t for t in case["open_tasks"] if t["task_type"] == "check_fit_to_travel"]:
        case = await driver.complete(task, "IST")
    assert [t["task_type"] for t in case["open_tasks"]] == ["record_departure"], case["open_tasks"]
    await _ok(driver, "POST", f"/api/v1/movements/{movement_id}/departure",
              json={"departed_at": datetime.now(UTC).replace(microsecond=0).isoformat(), "not_boarded": []})
    done = await _fan_out_done(driver, movement_id)
    assert done["status"] == "departed"
    case = await _get(driver, case_id)
    assert case["stage"] == "arrival" and case["key_dates"]["departed_at"] is not None
    split_off = await _get(driver, new_id)
    assert split_off["stage"] == "movement" and [t["task_type"] for t in split_off["open_tasks"]] == ["book_movement"]
    assert split_off["key_dates"]["departed_at"] is None
    # A departed family is not split.
    m3 = case["members"][2]["member_id"]
    r = await _split(driver, case_id, {"member_ids": [m3], "principal_member_id": m3, "reason": "Too late."})
    assert r.status_code == 409 and r.json()["error"]["code"] == "wrong_stage" and "departed" in r.text, r.text
    await _consistent(stack, case_id, new_id)


def test_the_split_is_decided_purely() -> None:
    """The same state and command decide the same events; the opening of the new case follows
    from the original's state and its CaseSplit alone."""
    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    actor = Actor.system()
    ids = iter(range(10_000))
    ctx = decision_context(now, actor, RuleFlags(), new_event_id=lambda: str(next(ids)), admission=False)
    body = _family_of_four()
    state = fold(decide(None, ReferCase(case_id="C-TEST", referral=Referral.model_validate(body)), ctx))
    assert state is not None
    command = SplitCase(member_ids=["C-TEST-M4"], principal_member_id="C-TEST-M4", reason="Not fit.")
    first = decide(state, command, ctx)
    again = decide(state, command, ctx)
    assert [e.event for e in first] == [e.event for e in again]
    split = next(e.event for e in first if isinstance(e.event, CaseSplit))
    assert split.new_case_id == "C-TEST-S1" and split.member_ids == ["C-TEST-M4"]
    after = fold(first, start=state)
    assert after is not None and [m.member_id for m in after.members] == ["C-TEST-M1", "C-TEST-M2", "C-TEST-M3"]
    assert after.split_into == ["C-TEST-S1"] and "C-TEST-M4" not in after.progress
    opening = split_opening(state, split)
    new = fold(decide(None, opening, ctx))
    assert new is not None and new.case_id == "C-TEST-S1" and new.split_from == "C-TEST"
    assert [m.member_id for m in new.members] == ["C-TEST-M4"] and new.stage == state.stage
    # A repeat of the opening decides nothing; the principal never moves.
    assert decide(new, opening, ctx) == []
    try:
        decide(after, SplitCase(member_ids=["C-TEST-M1"], principal_member_id="C-TEST-M1", reason="x"), ctx)
    except CommandRejected as exc:
        assert exc.details[0]["field"] == "member_ids"
    else:
        raise AssertionError("the principal was split off")


async def test_the_case_page_splits_the_family_with_errors_next_to_the_fields(driver: CaseDriver, stack: Stack) -> None:
    case = await _in_health(driver)
    case_id = case["case_id"]
    m1, m2, m3, m4 = (m["member_id"] for m in case["members"])
    async with signed_in(stack, "selin") as browser:  # a medical officer: no split form
        page = Page((await browser.get(f"/ui/cases/{case_id}")).text)
        assert not page.find("form", id="split-form")
    async with signed_in(stack, CASEWORKER) as browser:
        page = Page((await browser.get(f"/ui/cases/{case_id}")).text)
        form = page.one("form", id="split-form")
        assert form["action"] == f"/ui/cases/{case_id}/split"
        assert page.controls("split-form") == ["member_ids"] * 4 + ["principal_member_id", "reason"]
        # The principal cannot move: the error is next to the members, what was typed is kept.
        r = await browser.post(f"/ui/cases/{case_id}/split", data={
            "csrf_token": page.csrf, "member_ids": [m1, m2], "principal_member_id": m2, "reason": "Two households."})
        assert r.status_code == 422, r.text
        refused = Page(r.text)
        assert "principal" in Page.text(refused.one("p", id="split-member_ids-error"))
        assert refused.one("input", id="split-reason")["value"] == "Two households."
        assert [e["value"] for e in refused.find("input", type="checkbox") if "checked" in e] == [m1, m2]
        # A minor as the new principal while an adult moves: next to the principal.
        r = await browser.post(f"/ui/cases/{case_id}/split", data={
            "csrf_token": refused.csrf, "member_ids": [m2, m3], "principal_member_id": m3, "reason": "Two households."})
        assert r.status_code == 422
        refused = Page(r.text)
        assert "adult" in Page.text(refused.one("p", id="split-principal_member_id-error"))
        # No reason: the field says so.
        r = await browser.post(f"/ui/cases/{case_id}/split", data={
            "csrf_token": refused.csrf, "member_ids": [m2], "principal_member_id": m2, "reason": " "})
        assert r.status_code == 422 and Page(r.text).one("p", id="split-reason-error")
        # Right: the browser lands on the new case, which links back.
        r = await browser.post(f"/ui/cases/{case_id}/split", data={
            "csrf_token": refused.csrf, "member_ids": [m2, m4], "principal_member_id": m2,
            "reason": "Omar stays with Sami for his treatment."})
        assert r.status_code == 200 and r.url.path == f"/ui/cases/{case_id}-S1", r.text
        landed = Page(r.text)
        assert landed.one("a", id="split-from")["href"] == f"/ui/cases/{case_id}"
        assert "split off" in landed.body_text
    await _consistent(stack, case_id, f"{case_id}-S1")


async def test_both_halves_of_a_split_replay(driver: CaseDriver, stack: Stack) -> None:
    """The original's history (the split Update, its recording, the opening activity) and the
    new case's (started by update-with-start, ``open_split``) replay against this code; each
    case then runs to its end on its own.  With ITINERA_RECORD_HISTORIES=1 both are written to
    tests/histories/ (split_original_case.json, split_new_case.json) for tests/test_replay.py."""
    case = await _in_health(driver)
    case_id = case["case_id"]
    m4 = case["members"][3]["member_id"]
    r = await _split(driver, case_id, {"member_ids": [m4], "principal_member_id": m4,
                                       "reason": "Sami needs treatment before travelling."})
    assert r.status_code == 200, r.text
    original, new = r.json()["case"], r.json()["new_case"]
    original = await driver.advance(original)
    new = await driver.advance(new)
    assert original["status"] == new["status"] == "closed", (original["stage"], new["stage"])
    replayer = Replayer(workflows=WORKFLOWS, data_converter=data_converter(stack_settings()),
                        workflow_runner=workflow_runner())
    for workflow_id, name in ((case_id, "split_original_case.json"), (new["case_id"], "split_new_case.json")):
        handle = stack.temporal.get_workflow_handle(workflow_id)
        await handle.result()
        history = await handle.fetch_history()
        await replayer.replay_workflow(history)
        if os.environ.get("ITINERA_RECORD_HISTORIES"):
            path = Path(__file__).parent / "histories" / name
            path.write_text(json.dumps({"workflow_id": workflow_id, "history": json.loads(history.to_json())}, indent=1))
    await _consistent(stack, case_id, new["case_id"])


async def test_the_opening_sent_again_after_a_crash_opens_one_case(driver: CaseDriver, stack: Stack) -> None:
    """What a retry after a worker crash does: the opening activity runs again with the input
    history holds (the same derived case id and update id); the new case is started once and
    its ``open_split`` Update applied once, the second attempt answering as the first."""
    case = await driver.refer(_family_of_four())
    state = await stack.temporal.get_workflow_handle(case["case_id"]).query("state", result_type=CaseState)
    ctx = decision_context(datetime.now(UTC), Actor.system(), RuleFlags(), new_event_id=lambda: str(uuid.uuid4()),
                           admission=False)
    m4 = case["members"][3]["member_id"]
    decided = decide(state, SplitCase(member_ids=[m4], principal_member_id=m4, reason="Retry test."), ctx)
    split = next(e.event for e in decided if isinstance(e.event, CaseSplit))
    opening = split_opening(state, split)
    request = OpenSplitCaseRequest(case_id=split.new_case_id, workflow_type="ResettlementCase",
                                   opening=opening.opening, tasks=opening.tasks, actor=Actor.system(),
                                   update_id=f"split-{case['case_id']}-{split.new_case_id}")
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, task_queue=stack.settings.temporal_task_queue)
    activities = CaseSplitActivities(stack.temporal)
    first = await env.run(activities.open_split_case, request)
    again = await env.run(activities.open_split_case, request)
    assert first == again and first.case_id == f"{case['case_id']}-S1" and first.event_types[0] == "CaseSplitFrom"
    # A third attempt under another update id (a lost update id) decides nothing either.
    other = await env.run(activities.open_split_case, request.model_copy(update={"update_id": "split-other"}))
    assert other.event_types == [] and other.version == first.version
    events = await _events(driver, first.case_id)
    assert [e["type"] for e in events].count("CaseSplitFrom") == 1
    await _consistent(stack, first.case_id)


async def test_a_member_invited_to_an_orientation_session_is_taken_off_it_first(driver: CaseDriver,
                                                                                 stack: Stack) -> None:
    """Its own destination (Luxembourg): tests/test_orientation_sessions.py proposes every Finland-bound person."""
    case = await driver.advance(await driver.refer(_family_of_four() | {"destination_country": "LU"}),
                                until=Stage.ORIENTATION)
    assert case["stage"] == "orientation", case["stage"]
    case_id = case["case_id"]
    m2 = case["members"][1]["member_id"]
    starts = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    session = await _ok(driver, "POST", "/api/v1/orientation-sessions", CASEWORKER, json={
        "starts_at": starts.isoformat(), "mode": "in_person", "place": "IOM Istanbul, room 2", "language": "ar",
        "destination_country": "LU", "capacity": 10, "facilitator": "Leyla Osman", "office": "IST"})
    sid = session["session_id"]
    await _ok(driver, "POST", f"/api/v1/orientation-sessions/{sid}/participants", CASEWORKER,
              json={"participants": [{"case_id": case_id}]})
    body = {"member_ids": [m2], "principal_member_id": m2, "reason": "Omar moves to his brother's household."}
    r = await _split(driver, case_id, body)
    assert r.status_code == 409 and r.json()["error"]["code"] == "on_orientation_session", r.text
    assert sid in r.json()["error"]["message"] and r.json()["error"]["details"][0]["member_id"] == m2
    await _ok(driver, "POST", f"/api/v1/orientation-sessions/{sid}/participants/{m2}/remove", CASEWORKER,
              json={"reason": "Moves to another household."})
    r = await _split(driver, case_id, body)
    assert r.status_code == 200, r.text
    assert r.json()["new_case"]["stage"] == "orientation"
    assert [t["member_id"] for t in r.json()["new_case"]["open_tasks"]] == [m2]
    await _consistent(stack, case_id, r.json()["new_case"]["case_id"])
