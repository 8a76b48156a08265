"""Case-level actions at any stage, through the HTTP API: each is an event with actor and reason."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from domain.model import Stage
from tests.support.driver import CaseDriver
from tests.support.factories import referral


async def _post(http: httpx.AsyncClient, driver: CaseDriver, user: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return await http.post(path, json=body, headers=await driver.login(user))


async def _events(http: httpx.AsyncClient, driver: CaseDriver, case_id: str) -> list[dict[str, Any]]:
    return (await http.get(f"/api/v1/cases/{case_id}/events", headers=await driver.login("fatma"))).json()


@pytest.mark.parametrize("stage", [Stage.REFERRAL, Stage.HEALTH, Stage.MOVEMENT])
async def test_withdrawal_closes_the_case_at_any_stage(http: httpx.AsyncClient, driver: CaseDriver,
                                                        stage: Stage) -> None:
    case = await driver.advance(await driver.refer(referral(size=2)), until=stage)
    r = await _post(http, driver, "ayse", f"/api/v1/cases/{case['case_id']}/withdraw",
                    {"reason": "The family decided to stay."})
    assert r.status_code == 200, r.text
    closed = r.json()
    assert (closed["status"], closed["closure_reason"], closed["open_tasks"]) == ("closed", "withdrawn", [])
    events = await _events(http, driver, case["case_id"])
    withdrawn = next(e for e in events if e["type"] == "CaseWithdrawn")
    assert events[-1]["type"] == "CaseClosed" and events[-1]["data"]["reason"] == "withdrawn"
    assert {e["type"] for e in events[withdrawn["seq"]:-1]} <= {"TaskCancelled"}  # open work cancelled
    assert withdrawn["data"]["reason"] == "The family decided to stay." and withdrawn["actor"]["id"] == "ayse"
    again = await _post(http, driver, "ayse", f"/api/v1/cases/{case['case_id']}/withdraw", {"reason": "Again."})
    assert again.status_code == 409 and again.json()["error"]["code"] == "case_closed"


async def test_hold_stops_work_until_a_supervisor_resumes(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(referral())
    path = f"/api/v1/cases/{case['case_id']}"
    denied = await _post(http, driver, "ayse", f"{path}/hold", {"reason": "Pause."})
    assert denied.status_code == 403  # supervisors only
    held = await _post(http, driver, "fatma", f"{path}/hold", {"reason": "Security incident at the office."})
    assert held.status_code == 200 and held.json()["status"] == "on_hold"
    assert held.json()["hold_reason"] == "Security incident at the office."
    assert held.json()["key_dates"]["held_at"] is not None
    task = case["open_tasks"][0]
    blocked = await _post(http, driver, "ayse", f"/api/v1/tasks/{task['task_id']}/complete",
                          {"form": {"documents_checked": True}})
    assert blocked.status_code == 409 and blocked.json()["error"]["code"] == "case_on_hold"
    twice = await _post(http, driver, "fatma", f"{path}/hold", {"reason": "Again."})
    assert twice.status_code == 409
    listed = (await http.get("/api/v1/cases", params={"status": "on_hold", "q": case["external_referral_id"]},
                             headers=await driver.login("fatma"))).json()["items"]
    assert [c["case_id"] for c in listed] == [case["case_id"]]

    resumed = await _post(http, driver, "fatma", f"{path}/resume", {"reason": "Office reopened."})
    assert resumed.status_code == 200 and resumed.json()["status"] == "active"
    assert resumed.json()["open_tasks"][0]["due_at"] >= task["due_at"]  # the clock moved by the pause
    done = await driver.complete(task, "IST")
    assert done["stage"] == "interview"
    not_held = await _post(http, driver, "fatma", f"{path}/resume", {"reason": "Again."})
    assert not_held.status_code == 409 and not_held.json()["error"]["code"] == "not_on_hold"


async def test_supervisor_reassigns_a_task(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(referral())
    task = case["open_tasks"][0]
    await http.post(f"/api/v1/tasks/{task['task_id']}/claim", headers=await driver.login("ayse"))
    body = {"assignee": "fatma", "reason": "Ayşe is on leave this week."}
    denied = await _post(http, driver, "ayse", f"/api/v1/tasks/{task['task_id']}/reassign", body)
    assert denied.status_code == 403
    wrong_office = await _post(http, driver, "fatma", f"/api/v1/tasks/{task['task_id']}/reassign",
                               {"assignee": "mehmet", "reason": "x"})
    assert wrong_office.status_code == 422 and wrong_office.json()["error"]["details"][0]["field"] == "body.assignee"
    wrong_role = await _post(http, driver, "fatma", f"/api/v1/tasks/{task['task_id']}/reassign",
                             {"assignee": "selin", "reason": "x"})
    assert wrong_role.status_code == 422

    r = await _post(http, driver, "fatma", f"/api/v1/tasks/{task['task_id']}/reassign", body)
    assert r.status_code == 200
    assert r.json()["open_tasks"][0]["claimed_by"] == "fatma"
    blocked = await _post(http, driver, "ayse", f"/api/v1/tasks/{task['task_id']}/complete",
                          {"form": {"documents_checked": True}})
    assert blocked.status_code == 409 and blocked.json()["error"]["code"] == "task_claimed"
    event = (await _events(http, driver, case["case_id"]))[-1]
    assert event["type"] == "TaskReassigned" and event["data"]["assignee"] == "fatma"


async def test_notes_are_events_of_the_case(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(referral())
    r = await _post(http, driver, "ayse", f"/api/v1/cases/{case['case_id']}/notes",
                    {"text": "Phoned the family: interpreter needed for Kurmanji."})
    assert r.status_code == 200 and r.json()["version"] == case["version"] + 1
    event = (await _events(http, driver, case["case_id"]))[-1]
    assert (event["type"], event["actor"]["id"]) == ("NoteAdded", "ayse")
    empty = await _post(http, driver, "ayse", f"/api/v1/cases/{case['case_id']}/notes", {"text": "   "})
    assert empty.status_code == 422


async def test_member_correction_is_a_new_event_and_never_rewrites_the_referral(http: httpx.AsyncClient,
                                                                              driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=2))
    child = case["members"][1]
    path = f"/api/v1/cases/{case['case_id']}/members/{child['member_id']}/corrections"
    r = await _post(http, driver, "ayse", path, {"changes": {"date_of_birth": "2011-04-30", "full_name": "Yusuf Haddad"},
                                                 "reason": "Birth certificate seen."})
    assert r.status_code == 200, r.text
    corrected = next(m for m in r.json()["members"] if m["member_id"] == child["member_id"])
    assert (corrected["date_of_birth"], corrected["full_name"]) == ("2011-04-30", "Yusuf Haddad")
    events = await _events(http, driver, case["case_id"])
    assert events[0]["data"]["members"][1]["full_name"] == child["full_name"]  # the referral as first recorded
    correction = events[-1]
    assert correction["type"] == "MemberDataCorrected"
    assert correction["data"]["previous"] == {"date_of_birth": child["date_of_birth"], "full_name": child["full_name"]}
    found = (await http.get("/api/v1/cases", params={"q": "Yusuf"}, headers=await driver.login("ayse"))).json()
    assert case["case_id"] in [c["case_id"] for c in found["items"]]

    bad = await _post(http, driver, "ayse", path, {"changes": {"nationality": "XX"}, "reason": "Typo."})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "changes.nationality"
    unknown = await _post(http, driver, "ayse", path, {"changes": {"shoe_size": 42}, "reason": "?"})
    assert unknown.status_code == 422 and unknown.json()["error"]["details"][0]["field"] == "changes.shoe_size"
    second_principal = await _post(http, driver, "ayse", path, {"changes": {"relationship": "principal"},
                                                                "reason": "?"})
    assert second_principal.status_code == 422
    missing = await _post(http, driver, "ayse", f"/api/v1/cases/{case['case_id']}/members/nobody/corrections",
                          {"changes": {"full_name": "X"}, "reason": "?"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "member_not_found"
    assert len(await _events(http, driver, case["case_id"])) == len(events)  # refusals recorded nothing


async def test_an_idempotency_key_keeps_a_case_action_once(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    """The same Idempotency-Key and body again answer as the first did (replayed, one note); the
    same key with another body is refused 422 idempotency_key_reused and changes nothing
    (explore10: an edited resend added a second note), as for referrals and completions."""
    case = await driver.refer(referral(size=1))
    path = f"/api/v1/cases/{case['case_id']}/notes"
    headers = await driver.login("ayse") | {"Idempotency-Key": "note-once-1"}
    first = await http.post(path, json={"text": "Called the family."}, headers=headers)
    again = await http.post(path, json={"text": "Called the family."}, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200), (first.text, again.text)
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == first.json()
    edited = await http.post(path, json={"text": "Called the family twice."}, headers=headers)
    assert edited.status_code == 422 and edited.json()["error"]["code"] == "idempotency_key_reused", edited.text
    notes = [e for e in await _events(http, driver, case["case_id"]) if e["type"] == "NoteAdded"]
    assert [n["data"]["text"] for n in notes] == ["Called the family."]
    # a hold under a key of its own is its own request
    held = await http.post(f"/api/v1/cases/{case['case_id']}/hold", json={"reason": "Check documents."},
                           headers=await driver.login("fatma") | {"Idempotency-Key": "hold-once-1"})
    assert held.status_code == 200 and held.json()["status"] == "on_hold", held.text
