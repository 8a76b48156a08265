"""A revoked integration key's messages are never applied later (explore finding: a message
accepted before the revocation and held until its stage opened was applied with the revoked
key as its actor).  At delivery the key is judged as authentication judges it: revoked, or its
rotation's overlap over, and the message is rejected ``key_revoked`` (saying when), visible to
the office's supervisors; a supervisor's retry is refused the same way."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from domain.model import Stage
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.inbox import inbox_status, send
from tests.support.waiting import eventually

TODAY = datetime.now(UTC).date().isoformat()


async def _clinic(http: httpx.AsyncClient, driver: CaseDriver) -> dict[str, Any]:
    made = await http.post("/api/v1/admin/integration-keys", headers=await driver.login("admin"),
                           json={"name": f"clinic {uuid.uuid4().hex[:6]}", "event_types": ["health_result"],
                                 "offices": ["IST"]})
    assert made.status_code == 201, made.text
    approved = await http.post(f"/api/v1/integrations/keys/{made.json()['key_id']}/approve",
                               headers=await driver.login("fatma"))
    assert approved.status_code == 200, approved.text
    return made.json()


def _result(case: dict[str, Any]) -> dict[str, Any]:
    return {"event_type": "health_result", "case_id": case["case_id"], "member_id": case["members"][0]["member_id"],
            "form": {"assessment_date": TODAY, "outcome": "cleared", "clearance_valid_until": "2099-01-01"}}


async def _held_message(http: httpx.AsyncClient, key: dict[str, Any], case: dict[str, Any]) -> int:
    """A health result sent while the case is still at referral: held until the health stage."""
    sent = await send(http, key["api_key"], _result(case))
    assert sent.status_code == 202, sent.text
    inbox_id = sent.json()["inbox_id"]

    async def held() -> bool:
        return (await inbox_status(http, key["api_key"], inbox_id))["held_reason"] is not None

    await eventually(held, timeout=20, what="the early message to be held")
    return inbox_id


async def _supervisors_view(http: httpx.AsyncClient, driver: CaseDriver, inbox_id: int, status: str
                            ) -> dict[str, Any] | None:
    listed = await http.get("/api/v1/integrations/inbox", params={"status": status, "limit": 500},
                            headers=await driver.login("fatma"))
    assert listed.status_code == 200, listed.text
    return next((m for m in listed.json() if m["id"] == inbox_id), None)


async def _rejected(http: httpx.AsyncClient, driver: CaseDriver, inbox_id: int) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def rejected() -> bool:
        found = await _supervisors_view(http, driver, inbox_id, "rejected")
        seen.update(found or {})
        return found is not None

    await eventually(rejected, timeout=60, interval=0.2, what=lambda: f"message {inbox_id} to be rejected: {seen}")
    return seen


async def _health_events(http: httpx.AsyncClient, driver: CaseDriver, case_id: str) -> list[dict[str, Any]]:
    events = (await http.get(f"/api/v1/cases/{case_id}/events", headers=await driver.login("fatma"))).json()
    return [e for e in events if e["type"] == "HealthAssessmentRecorded"]


async def test_a_held_message_of_a_key_revoked_meanwhile_is_rejected_not_applied(
        http: httpx.AsyncClient, driver: CaseDriver) -> None:
    clinic = await _clinic(http, driver)
    case = await driver.refer(referral(size=1))  # at referral: its health stage is ahead
    inbox_id = await _held_message(http, clinic, case)

    revoked = await http.post(f"/api/v1/admin/integration-keys/{clinic['key_id']}/revoke",
                              headers=await driver.login("admin"))
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked", revoked.text
    revoked_at = datetime.fromisoformat(revoked.json()["revoked_at"])

    case = await driver.advance(case, until=Stage.HEALTH)  # the stage the message waited for opens
    assert case["stage"] == "health"
    message = await _rejected(http, driver, inbox_id)
    assert message["error"]["code"] == "key_revoked", message
    assert clinic["key_id"] in message["error"]["message"]
    assert revoked_at.astimezone(UTC).isoformat(timespec="seconds") in message["error"]["message"], message
    assert message["held_reason"] is None and message["case_id"] == case["case_id"]
    assert not await _health_events(http, driver, case["case_id"])  # nothing recorded from it
    assert [t["task_type"] for t in case["open_tasks"]] == ["assess_health"]  # still the clinic's to do

    # A supervisor's retry sends it again, and it is refused again in the same way.
    retried = await http.post(f"/api/v1/integrations/inbox/{inbox_id}/retry", headers=await driver.login("fatma"))
    assert retried.status_code == 200, retried.text

    async def rejected_again() -> bool:
        found = await _supervisors_view(http, driver, inbox_id, "rejected")
        return found is not None and found["retried_by"] == "fatma"

    await eventually(rejected_again, timeout=30, interval=0.2, what="the retried message to be rejected again")
    again = await _supervisors_view(http, driver, inbox_id, "rejected")
    assert again is not None and again["error"]["code"] == "key_revoked", again
    assert not await _health_events(http, driver, case["case_id"])


async def test_a_held_message_of_a_rotated_key_whose_overlap_ended_is_rejected(
        stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    clinic = await _clinic(http, driver)
    case = await driver.refer(referral(size=1))
    inbox_id = await _held_message(http, clinic, case)

    rotated = await http.post(f"/api/v1/admin/integration-keys/{clinic['key_id']}/rotate",
                              json={"old_key_valid_hours": 24}, headers=await driver.login("admin"))
    assert rotated.status_code in (200, 201), rotated.text
    async with stack.pool.acquire() as conn:  # the overlap's 24 hours later
        await conn.execute("UPDATE integration_keys SET revoked_at = now() - interval '1 second' WHERE key_id = $1",
                           clinic["key_id"])

    case = await driver.advance(case, until=Stage.HEALTH)
    message = await _rejected(http, driver, inbox_id)
    assert message["error"]["code"] == "key_revoked", message
    assert not await _health_events(http, driver, case["case_id"])


async def test_a_held_message_of_a_key_still_in_its_overlap_is_applied(
        http: httpx.AsyncClient, driver: CaseDriver) -> None:
    """A rotation's overlap is the time the old key still works: its held message is applied."""
    clinic = await _clinic(http, driver)
    case = await driver.refer(referral(size=1))
    inbox_id = await _held_message(http, clinic, case)
    rotated = await http.post(f"/api/v1/admin/integration-keys/{clinic['key_id']}/rotate",
                              json={"old_key_valid_hours": 24}, headers=await driver.login("admin"))
    assert rotated.status_code in (200, 201), rotated.text
    keys = (await http.get("/api/v1/admin/integration-keys", headers=await driver.login("admin"))).json()
    assert next(k for k in keys if k["key_id"] == clinic["key_id"])["status"] == "active"  # in its overlap

    await driver.advance(case, until=Stage.HEALTH)

    async def applied() -> bool:
        return await _supervisors_view(http, driver, inbox_id, "applied") is not None

    await eventually(applied, timeout=60, interval=0.2, what="the message to be applied")
    assert len(await _health_events(http, driver, case["case_id"])) == 1
