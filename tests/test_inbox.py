"""The integration inbox and Idempotency-Key (issue 14): a message is committed, answered
202, then applied once; a repeat is recognised; an early one is held; a rejected one is a
supervisor's work (retry after the fix, or dismiss with a reason), both audited."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from domain.model import Stage
from store import inbox as inbox_store
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.forms import example_form
from tests.support.inbox import inbox_status, send, settled
from tests.support.waiting import eventually

TODAY = datetime.now(UTC).date().isoformat()
SUPERVISOR = {"IST": "fatma", "IZM": "ali"}


async def _key(http: httpx.AsyncClient, driver: CaseDriver, event_types: list[str], offices: list[str] = ["IST"]
               ) -> dict[str, Any]:  # noqa: B006 - read only
    r = await http.post("/api/v1/admin/integration-keys", headers=await driver.login("admin"),
                        json={"name": f"clinic {uuid.uuid4().hex[:6]}", "event_types": event_types, "offices": offices})
    assert r.status_code == 201, r.text
    for office in offices:
        approved = await http.post(f"/api/v1/integrations/keys/{r.json()['key_id']}/approve",
                                   headers=await driver.login(SUPERVISOR[office]))
        assert approved.status_code == 200, approved.text
    return r.json()


def _result(case: dict[str, Any], member: int = 0, notes: str = "") -> dict[str, Any]:
    return {"event_type": "health_result", "case_id": case["case_id"], "member_id": case["members"][member]["member_id"],
            "form": {"assessment_date": TODAY, "outcome": "cleared", "clearance_valid_until": "2099-01-01",
                     **({"notes": notes} if notes else {})}}


async def _health_events(http: httpx.AsyncClient, driver: CaseDriver, case_id: str) -> list[dict[str, Any]]:
    events = (await http.get(f"/api/v1/cases/{case_id}/events", headers=await driver.login("fatma"))).json()
    return [e for e in events if e["type"] == "HealthAssessmentRecorded"]


async def test_the_same_message_five_times_in_a_row_and_at_once_is_applied_once(
        stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    clinic = await _key(http, driver, ["health_result"])
    case = await driver.advance(await driver.refer(referral(size=2)), until=Stage.HEALTH)
    in_a_row, at_once = uuid.uuid4().hex, uuid.uuid4().hex

    sequential = [await send(http, clinic["api_key"], _result(case, 0), key=in_a_row) for _ in range(5)]
    concurrent = await asyncio.gather(*(send(http, clinic["api_key"], _result(case, 1), key=at_once)
                                        for _ in range(5)))
    for answers in (sequential, concurrent):
        assert {r.status_code for r in answers} == {202}, [r.text for r in answers]
        assert len({r.json()["inbox_id"] for r in answers}) == 1  # one message, the first answer replayed
        assert len([r for r in answers if r.headers.get("idempotent-replayed") == "true"]) == 4
    assert sequential[0].headers["location"] == sequential[0].json()["status_url"]
    for answers in (sequential, concurrent):
        assert (await settled(http, clinic["api_key"], answers[0].json()["inbox_id"]))["status"] == "applied"

    # Once applied, the same request again still gets its first answer, and applies nothing.
    again = await send(http, clinic["api_key"], _result(case, 0), key=in_a_row)
    assert again.status_code == 202 and again.json() == sequential[0].json()
    recorded = await _health_events(http, driver, case["case_id"])
    assert sorted(e["data"]["member_id"] for e in recorded) == sorted(m["member_id"] for m in case["members"])
    async with stack.pool.acquire() as conn:
        kept = await conn.fetchval("SELECT count(*) FROM integration_messages WHERE key_id = $1", clinic["key_id"])
    assert kept == 2


async def test_a_key_is_one_request_per_api_key_remembered_for_the_retention_period(
        stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    clinic = await _key(http, driver, ["health_result"])
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.HEALTH)
    key = uuid.uuid4().hex
    first = await send(http, clinic["api_key"], _result(case), key=key)
    assert first.status_code == 202, first.text

    other_body = await send(http, clinic["api_key"], _result(case, notes="another body"), key=key)
    assert other_body.status_code == 422, other_body.text
    assert other_body.json()["error"]["code"] == "idempotency_key_reused"
    assert other_body.json()["error"]["details"][0]["field"] == "header.Idempotency-Key"

    no_key = await http.post("/api/v1/integrations/messages", headers={"X-API-Key": clinic["api_key"]},
                             json=_result(case))
    assert no_key.status_code == 400 and no_key.json()["error"]["code"] == "idempotency_key_required"
    assert "Idempotency-Key" in no_key.json()["error"]["message"]
    assert no_key.json()["error"]["details"][0]["field"] == "header.Idempotency-Key"

    # Keys are the API key's own: another partner's same key is another message.
    other_partner = await _key(http, driver, ["health_result"])
    elsewhere = await send(http, other_partner["api_key"], _result(case, notes="another body"), key=key)
    assert elsewhere.status_code == 202 and elsewhere.json()["inbox_id"] != first.json()["inbox_id"]
    # ... and a partner cannot read another partner's message.
    assert (await http.get(first.json()["status_url"], headers={"X-API-Key": other_partner["api_key"]})
            ).status_code == 404

    # After the retention period the key is purged and may name a new request.
    async with stack.pool.acquire() as conn:
        await conn.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' "
                           "WHERE scope = $1 AND key = $2", f"integration:{clinic['key_id']}", key)
        assert await inbox_store.purge_keys(conn, 24) >= 1
        assert await conn.fetchval("SELECT count(*) FROM idempotency_keys WHERE scope = $1 AND key = $2",
                                   f"integration:{clinic['key_id']}", key) == 0
    reused = await send(http, clinic["api_key"], _result(case, notes="another body"), key=key)
    assert reused.status_code == 202 and reused.json()["inbox_id"] != first.json()["inbox_id"]


async def test_an_early_message_is_held_until_its_stage_opens(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    clinic = await _key(http, driver, ["health_result"])
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.INTERVIEW)
    assert case["stage"] == "interview"
    sent = await send(http, clinic["api_key"], _result(case))
    assert sent.status_code == 202 and sent.json()["status"] == "pending"
    inbox_id = sent.json()["inbox_id"]

    seen: dict[str, Any] = {}

    async def held() -> bool:
        seen.update(await inbox_status(http, clinic["api_key"], inbox_id))
        return seen["held_reason"] is not None

    await eventually(held, timeout=20, what=lambda: f"the message to be held: {seen}")
    assert seen["status"] == "pending" and "health" in seen["held_reason"] and seen["held_until"]

    await driver.advance(case, until=Stage.HEALTH)  # the health stage opens: the message is applied
    applied = await settled(http, clinic["api_key"], inbox_id)
    assert applied["status"] == "applied" and applied["result"]["stage"] == "orientation", applied
    assert applied["held_reason"] is None
    assert len(await _health_events(http, driver, case["case_id"])) == 1


async def test_an_early_message_whose_stage_never_opens_is_rejected_after_the_hold(
        stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    clinic = await _key(http, driver, ["health_result"])
    case = await driver.refer(referral(size=1))  # at referral: its health stage is far off
    inbox_id = (await send(http, clinic["api_key"], _result(case))).json()["inbox_id"]
    await eventually(lambda: _held(http, clinic["api_key"], inbox_id), timeout=20, what="the message to be held")
    async with stack.pool.acquire() as conn:  # ITINERA_INBOX_HOLD_HOURS later
        await conn.execute("UPDATE integration_messages SET held_until = now() - interval '1 second', "
                           "next_attempt_at = now() WHERE id = $1", inbox_id)
    rejected = await settled(http, clinic["api_key"], inbox_id)
    assert rejected["status"] == "rejected" and rejected["error"]["code"] == "no_matching_task", rejected
    assert rejected["error"]["message"].startswith("held for 72 h"), rejected


async def _held(http: httpx.AsyncClient, api_key: str, inbox_id: int) -> bool:
    return (await inbox_status(http, api_key, inbox_id))["held_reason"] is not None


async def test_a_rejected_message_is_retried_after_the_fix_or_dismissed_with_a_reason(
        http: httpx.AsyncClient, driver: CaseDriver) -> None:
    clinic = await _key(http, driver, ["health_result"])
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.HEALTH)
    fatma = await driver.login("fatma")
    assert (await http.post(f"/api/v1/cases/{case['case_id']}/hold", headers=fatma,
                            json={"reason": "identity documents to be checked again"})).status_code == 200

    sent = await send(http, clinic["api_key"], _result(case))
    assert sent.status_code == 202
    inbox_id = sent.json()["inbox_id"]
    rejected = await settled(http, clinic["api_key"], inbox_id)
    assert rejected["status"] == "rejected" and rejected["error"]["code"] == "case_on_hold", rejected
    assert "on hold" in rejected["error"]["message"]

    # The office's supervisor sees it as work; another office's does not; a caseworker may not.
    work = (await http.get("/api/v1/integrations/inbox", headers=fatma)).json()
    assert inbox_id in [m["id"] for m in work]
    assert inbox_id not in [m["id"] for m in (await http.get("/api/v1/integrations/inbox",
                                                             headers=await driver.login("ali"))).json()]
    assert (await http.get("/api/v1/integrations/inbox", headers=await driver.login("ayse"))).status_code == 403
    assert (await http.post(f"/api/v1/integrations/inbox/{inbox_id}/retry",
                            headers=await driver.login("ali"))).status_code == 404

    # Fixed (resumed), then retried: applied.
    assert (await http.post(f"/api/v1/cases/{case['case_id']}/resume", headers=fatma,
                            json={"reason": "documents checked"})).status_code == 200
    retried = await http.post(f"/api/v1/integrations/inbox/{inbox_id}/retry", headers=fatma)
    assert retried.status_code == 200, retried.text
    assert retried.json()["retried_by"] == "fatma"
    applied = await settled(http, clinic["api_key"], inbox_id)
    assert applied["status"] == "applied" and applied["result"]["stage"] == "orientation", applied
    assert len(await _health_events(http, driver, case["case_id"])) == 1
    assert (await http.post(f"/api/v1/integrations/inbox/{inbox_id}/retry", headers=fatma)).status_code == 409

    # A late duplicate under a new key: the task is done, the case has moved on: rejected;
    # the supervisor dismisses it, with a reason.
    late = await send(http, clinic["api_key"], _result(case, notes="sent twice by the clinic's system"))
    late_id = late.json()["inbox_id"]
    late_status = await settled(http, clinic["api_key"], late_id)
    assert late_status["error"]["code"] == "no_matching_task", late_status
    assert (await http.post(f"/api/v1/integrations/inbox/{late_id}/dismiss", headers=fatma,
                            json={})).status_code == 422
    dismissed = await http.post(f"/api/v1/integrations/inbox/{late_id}/dismiss", headers=fatma,
                                json={"reason": "duplicate of message %d" % inbox_id})
    assert dismissed.status_code == 200, dismissed.text
    assert (dismissed.json()["status"], dismissed.json()["dismissed_by"]) == ("dismissed", "fatma")
    assert (await inbox_status(http, clinic["api_key"], late_id))["status"] == "dismissed"
    assert (await http.post(f"/api/v1/integrations/inbox/{late_id}/retry", headers=fatma)).status_code == 409

    # A message refused when it was sent (the partner was told) is dismissed, never retried.
    refused = await send(http, clinic["api_key"], {"event_type": "health_result", "case_id": case["case_id"],
                                                   "colour": "blue"})
    assert refused.status_code == 422
    [kept] = [m for m in (await http.get("/api/v1/integrations/inbox", headers=fatma)).json()
              if m["key_id"] == clinic["key_id"] and not m["accepted"]]
    assert (await http.post(f"/api/v1/integrations/inbox/{kept['id']}/retry", headers=fatma)).json()["error"][
        "code"] == "not_retryable"

    # Both the retry and the dismissal are audited, with the supervisor and the case.
    audit = (await http.get("/api/v1/audit", params={"case_id": case["case_id"], "limit": 200},
                            headers=fatma)).json()
    actions = {(a["action"], a["actor_id"], a["status"]) for a in audit}
    assert ("POST /api/v1/integrations/inbox/{inbox_id}/retry", "fatma", 200) in actions
    assert ("POST /api/v1/integrations/inbox/{inbox_id}/dismiss", "fatma", 200) in actions


async def test_case_referrals_and_task_completions_honour_an_idempotency_key(
        http: httpx.AsyncClient, driver: CaseDriver) -> None:
    ayse = await driver.login("ayse")
    body = referral(size=1)
    key = uuid.uuid4().hex
    first = await http.post("/api/v1/cases", json=body, headers={**ayse, "Idempotency-Key": key})
    assert first.status_code == 201, first.text
    again = await http.post("/api/v1/cases", json=body, headers={**ayse, "Idempotency-Key": key})
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    other = await http.post("/api/v1/cases", json=referral(size=1), headers={**ayse, "Idempotency-Key": key})
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    without = await http.post("/api/v1/cases", json=body, headers=ayse)  # optional here: the referral's own rule
    assert without.status_code == 200

    task = first.json()["open_tasks"][0]
    form = example_form(task, datetime.now(UTC).date(), case=first.json())
    path = f"/api/v1/tasks/{task['task_id']}/complete"
    # The referral's key names the referral: a completion under it is another request.
    reused = await http.post(path, json={"form": form}, headers={**ayse, "Idempotency-Key": key})
    assert reused.status_code == 422 and reused.json()["error"]["code"] == "idempotency_key_reused"
    key = uuid.uuid4().hex
    completions = await asyncio.gather(*(http.post(path, json={"form": form}, headers={**ayse, "Idempotency-Key": key})
                                         for _ in range(3)))
    assert {r.status_code for r in completions} <= {200, 409}, [r.text for r in completions]
    applied = [r for r in completions if r.status_code == 200]
    assert applied and len({r.json()["version"] for r in applied}) == 1
    for r in completions:
        if r.status_code == 409:
            assert r.json()["error"]["code"] == "idempotency_key_in_progress", r.text
    events = (await http.get(f"/api/v1/cases/{first.json()['case_id']}/events", headers=ayse)).json()
    replay = await http.post(path, json={"form": form}, headers={**ayse, "Idempotency-Key": key})
    assert replay.status_code == 200 and replay.headers.get("idempotent-replayed") == "true"
    assert replay.json() == applied[0].json()
    after = (await http.get(f"/api/v1/cases/{first.json()['case_id']}/events", headers=ayse)).json()
    assert len(after) == len(events)
    # The same key and body sent to another task is another request: refused, not a replay that
    # would tell the client a task was completed that was not.
    elsewhere = await http.post(f"/api/v1/tasks/{task['task_id']}X/complete", json={"form": form},
                                headers={**ayse, "Idempotency-Key": key})
    assert elsewhere.status_code in (404, 422) and "idempotent-replayed" not in elsewhere.headers, elsewhere.text


async def test_a_supervisor_works_rejected_messages_in_the_ui(stack, http: httpx.AsyncClient,
                                                              driver: CaseDriver) -> None:
    from tests.support.pages import Page
    from tests.test_ui import signed_in

    clinic = await _key(http, driver, ["health_result"])
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.HEALTH)
    fatma = await driver.login("fatma")
    await http.post(f"/api/v1/cases/{case['case_id']}/hold", headers=fatma, json={"reason": "checking documents"})
    first = (await send(http, clinic["api_key"], _result(case))).json()["inbox_id"]
    second = (await send(http, clinic["api_key"], _result(case, notes="again"))).json()["inbox_id"]
    for inbox_id in (first, second):
        assert (await settled(http, clinic["api_key"], inbox_id))["status"] == "rejected"

    async with signed_in(stack, "ayse") as caseworker:
        assert "Messages" not in Page((await caseworker.get("/ui")).text).body_text
        assert (await caseworker.get("/ui/messages")).status_code == 403
    async with signed_in(stack, "fatma") as browser:
        page = Page((await browser.get("/ui/messages")).text)
        assert page.find("a", href="/ui/messages")  # in the navigation
        assert page.find("form", action=f"/ui/messages/{first}/retry")
        assert "Case on hold" in page.body_text or "case_on_hold" in page.body_text.lower().replace(" ", "_")

        done = await browser.post(f"/ui/messages/{second}/dismiss", data={"csrf_token": page.csrf,
                                                                         "reason": "duplicate"})
        assert done.status_code == 200 and f"Message {second} is dismissed" in Page(done.text).body_text
        await http.post(f"/api/v1/cases/{case['case_id']}/resume", headers=fatma, json={"reason": "checked"})
        page = Page(done.text)
        sent = await browser.post(f"/ui/messages/{first}/retry", data={"csrf_token": page.csrf})
        assert f"Message {first} is sent to its case again" in Page(sent.text).body_text
    assert (await settled(http, clinic["api_key"], first))["status"] == "applied"
    assert (await inbox_status(http, clinic["api_key"], second))["status"] == "dismissed"
    audit = (await http.get("/api/v1/audit", params={"case_id": case["case_id"], "limit": 200},
                            headers=fatma)).json()
    assert {"POST /ui/messages/{inbox_id}/retry", "POST /ui/messages/{inbox_id}/dismiss"} <= {
        a["action"] for a in audit if a["actor_id"] == "fatma"}
