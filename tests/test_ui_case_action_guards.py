"""The UI's case actions refuse what the API refuses, say so in the audit trail, and are each
one command (a tester's findings: a supervisor's Reassign form gave a task to "ghost", to an
Izmir caseworker and to a medical officer; refused UI actions were audited as "allowed 303";
a double-clicked note was recorded twice, and a long one silently cut).

Everything is read back through the JSON API: events for what was recorded, the audit trail
for what was attempted."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.support.browser import signed_in
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.pages import Page
from tests.support.stack import Stack


async def _events(http: httpx.AsyncClient, driver: CaseDriver, case_id: str) -> list[dict[str, Any]]:
    r = await http.get(f"/api/v1/cases/{case_id}/events", headers=await driver.login("fatma"))
    r.raise_for_status()
    return r.json()


async def _count(http: httpx.AsyncClient, driver: CaseDriver, case_id: str, event_type: str) -> int:
    return sum(e["type"] == event_type for e in await _events(http, driver, case_id))


async def _trail(http: httpx.AsyncClient, driver: CaseDriver, case_id: str) -> list[dict[str, Any]]:
    r = await http.get("/api/v1/audit", params={"case_id": case_id, "limit": 500}, headers=await driver.login("fatma"))
    r.raise_for_status()
    return r.json()


def _token(page: Page, form_id: str) -> str:
    [token] = [e["value"] for e in page.find("input", name="submission") if form_id in e["within"]]
    return token


async def test_the_reassign_form_refuses_whom_the_api_refuses(stack: Stack, http: httpx.AsyncClient,
                                                             driver: CaseDriver) -> None:
    case = await driver.refer(referral())
    task_id = case["open_tasks"][0]["task_id"]  # a caseworker's task of office IST
    url = f"/ui/tasks/{task_id}"
    async with signed_in(stack, "fatma") as fatma:
        for assignee in ("ghost", "mehmet", "selin"):  # nobody; another office's caseworker; the wrong role
            api = await http.post(f"/api/v1/tasks/{task_id}/reassign", headers=await driver.login("fatma"),
                                  json={"assignee": assignee, "reason": "load balancing"})
            assert api.status_code == 422, api.text
            said = api.json()["error"]["message"]
            page = Page((await fatma.get(url)).text)
            answer = await fatma.post(f"{url}/reassign", data={"csrf_token": page.csrf, "assignee": assignee,
                                                               "reason": "load balancing"})
            assert answer.status_code == 200 and answer.url.path == url
            shown = Page(answer.text).body_text
            assert said[:1].upper() + said[1:] in shown, shown
            assert "is now" not in shown
        assert await _count(http, driver, case["case_id"], "TaskReassigned") == 0
        page = Page((await fatma.get(url)).text)  # to a caseworker of the office: done
        moved = await fatma.post(f"{url}/reassign", data={"csrf_token": page.csrf, "assignee": "ayse",
                                                          "reason": "She knows the family."})
        assert "is now ayse" in Page(moved.text).body_text
    async with signed_in(stack, "ayse") as ayse:  # a caseworker may not reassign
        page = Page((await ayse.get(url)).text)
        refused = await ayse.post(f"{url}/reassign", data={"csrf_token": page.csrf, "assignee": "ayse",
                                                           "reason": "mine"})
        assert "may not reassign" in Page(refused.text).body_text
    events = [e for e in await _events(http, driver, case["case_id"]) if e["type"] == "TaskReassigned"]
    assert [e["data"]["assignee"] for e in events] == ["ayse"]
    rows = [(e["actor_id"], e["outcome"], e["status"]) for e in await _trail(http, driver, case["case_id"])
            if e["action"] == "POST /ui/tasks/{task_id}/reassign"]
    assert sorted(rows) == sorted([("fatma", "failed", 422)] * 3 + [("fatma", "allowed", 200),
                                                                     ("ayse", "denied", 403)]), rows


async def test_refused_ui_actions_are_audited_as_refused(stack: Stack, http: httpx.AsyncClient,
                                                        driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=2))
    case_id, task_id = case["case_id"], case["open_tasks"][0]["task_id"]
    url = f"/ui/cases/{case_id}"
    claimed = await http.post(f"/api/v1/tasks/{task_id}/claim", headers=await driver.login("ayse"))
    assert claimed.status_code == 200
    async with signed_in(stack, "mehmet") as mehmet:  # Izmir: an Istanbul case is not his
        page = Page((await mehmet.get("/ui")).text)
        answer = await mehmet.post(f"{url}/correction", data={
            "csrf_token": page.csrf, "member_id": case["members"][1]["member_id"], "field": "full_name",
            "value": "Rima Haddad", "reason": "Passport spelling"})
        assert [r.status_code for r in answer.history] == [303]  # the UI's way: a redirect, an error message
    async with signed_in(stack, "fatma") as fatma:
        page = Page((await fatma.get(url)).text)
        held = await fatma.post(f"{url}/actions/hold", data={"csrf_token": page.csrf, "text": "Awaiting papers",
                                                             "submission": _token(page, "hold-form")})
        assert "The case is on hold" in Page(held.text).body_text
        again = await fatma.post(f"{url}/actions/hold", data={"csrf_token": page.csrf, "text": "Again",
                                                              "submission": "another-form-of-hold-0001"})
        assert "already on hold" in Page(again.text).body_text
        taken = await fatma.post(f"/ui/tasks/{task_id}/claim", data={"csrf_token": page.csrf})
        assert "ayse" in Page(taken.text).body_text
    trail = await _trail(http, driver, case_id)
    seen = {(e["actor_id"], e["action"], e["outcome"], e["status"]) for e in trail}
    assert ("mehmet", "POST /ui/cases/{case_id}/correction", "denied", 404) in seen
    assert ("fatma", "POST /ui/cases/{case_id}/actions/{kind}", "allowed", 200) in seen  # the first hold
    assert ("fatma", "POST /ui/cases/{case_id}/actions/{kind}", "failed", 409) in seen  # the second
    assert ("fatma", "POST /ui/tasks/{task_id}/claim", "failed", 409) in seen
    assert not [e for e in trail if e["status"] == 303], "a refusal is recorded as what it is, not as the redirect"
    mehmets = next(e for e in trail if e["actor_id"] == "mehmet")
    assert mehmets["office"] == "IST"


async def test_a_note_form_sent_twice_is_one_note(stack: Stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(referral())
    case_id = case["case_id"]
    url = f"/ui/cases/{case_id}"
    async with signed_in(stack, "ayse") as ayse:
        page = Page((await ayse.get(url)).text)
        token = _token(page, "note-form")
        form = {"csrf_token": page.csrf, "text": "Phoned the family.", "submission": token}
        for _ in range(2):  # sent again (the 503 page's advice, or the browser's resend): the first outcome
            answer = await ayse.post(f"{url}/actions/note", data=form)
            assert answer.status_code == 200 and "Note added." in Page(answer.text).body_text
        assert await _count(http, driver, case_id, "NoteAdded") == 1
        page = Page((await ayse.get(url)).text)  # a new page: a new form, a new note
        assert _token(page, "note-form") != token
        form = {"csrf_token": page.csrf, "text": "Double click.", "submission": _token(page, "note-form")}
        answers = await asyncio.gather(*(ayse.post(f"{url}/actions/note", data=form) for _ in range(2)))
        assert [a.status_code for a in answers] == [200, 200]
    notes = [e["data"]["text"] for e in await _events(http, driver, case_id) if e["type"] == "NoteAdded"]
    assert notes == ["Phoned the family.", "Double click."]


async def test_a_withdrawal_keeps_its_forms_token_through_the_confirmation(stack: Stack, driver: CaseDriver) -> None:
    case = await driver.refer(referral())
    url = f"/ui/cases/{case['case_id']}"
    async with signed_in(stack, "fatma") as fatma:
        page = Page((await fatma.get(url)).text)
        token = _token(page, "withdraw-form")
        confirm = Page((await fatma.post(f"{url}/actions/withdraw", data={
            "csrf_token": page.csrf, "text": "The family decided to stay", "submission": token})).text)
        assert [e["value"] for e in confirm.find("input", name="submission")] == [token]


async def test_an_over_long_note_is_refused_not_cut(stack: Stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(referral())
    case_id = case["case_id"]
    url = f"/ui/cases/{case_id}"
    typed = "N" * 3998 + "END"  # 4,001 characters
    async with signed_in(stack, "fatma") as fatma:
        page = Page((await fatma.get(url)).text)
        answer = await fatma.post(f"{url}/actions/note", data={"csrf_token": page.csrf, "text": typed,
                                                               "submission": _token(page, "note-form")})
        assert answer.status_code == 422
        refused = Page(answer.text)
        said = Page.text(refused.one(id="note-text-problem"))
        assert "4001 characters long; at most 4000 are allowed" in said, said
        assert Page.text(refused.one("textarea", id="note-text")) == typed  # what was typed is kept
        reason = "R" * 2001
        answer = await fatma.post(f"{url}/actions/hold", data={"csrf_token": refused.csrf, "text": reason,
                                                               "submission": _token(refused, "hold-form")})
        assert answer.status_code == 422
        refused = Page(answer.text)
        assert "2001 characters long; at most 2000 are allowed" in Page.text(refused.one(id="hold-reason-problem"))
        assert refused.one("input", id="hold-reason")["value"] == reason
    events = await _events(http, driver, case_id)
    assert not [e for e in events if e["type"] in ("NoteAdded", "CaseHeld")]
    rows = [(e["outcome"], e["status"]) for e in await _trail(http, driver, case_id)
            if e["action"] == "POST /ui/cases/{case_id}/actions/{kind}"]
    assert rows == [("failed", 422)] * 2, rows
