"""The integration inbox through outages (issue 14), on a deployment of real processes
(tests/support/fault_stack.py): a message accepted while Temporal is stopped, while the
worker is dead and the API is killed mid-delivery, or sent while PostgreSQL is stopped,
is applied exactly once when they are back; nothing is lost."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from domain.model import Stage
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.fault_stack import ProcessStack
from tests.support.inbox import inbox_status, send, settled
from tests.support.waiting import eventually

TODAY = datetime.now(UTC).date().isoformat()


class InboxStack(ProcessStack):
    """Short retry pauses, so a test waits seconds, not a minute, after an outage ends."""

    def env(self) -> dict[str, str]:
        return {**super().env(), "ITINERA_INBOX_RETRY_MAX_SECONDS": "2", "ITINERA_INBOX_POLL_SECONDS": "0.5"}


@pytest.fixture(scope="module")
async def deployment() -> AsyncIterator[InboxStack]:
    stack = InboxStack()
    try:
        await stack.start()
        yield stack
    finally:
        stack.stop()


async def _clinic(http: httpx.AsyncClient, driver: CaseDriver) -> str:
    r = await http.post("/api/v1/admin/integration-keys", headers=await driver.login("admin"),
                        json={"name": "clinic", "event_types": ["health_result", "referral"], "offices": ["IST"]})
    assert r.status_code == 201, r.text
    assert (await http.post(f"/api/v1/integrations/keys/{r.json()['key_id']}/approve",
                            headers=await driver.login("fatma"))).status_code == 200
    return r.json()["api_key"]


def _result(case: dict[str, Any], member: int) -> dict[str, Any]:
    return {"event_type": "health_result", "case_id": case["case_id"], "member_id": case["members"][member]["member_id"],
            "form": {"assessment_date": TODAY, "outcome": "cleared", "clearance_valid_until": "2099-01-01"}}


async def _health_events(http: httpx.AsyncClient, driver: CaseDriver, case_id: str) -> list[str]:
    events = (await http.get(f"/api/v1/cases/{case_id}/events", headers=await driver.login("fatma"))).json()
    return [e["data"]["member_id"] for e in events if e["type"] == "HealthAssessmentRecorded"]


async def _failed_once(http: httpx.AsyncClient, api_key: str, inbox_id: int) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def failed() -> bool:
        seen.update(await inbox_status(http, api_key, inbox_id))
        return seen["status"] == "pending" and seen["last_failure"] is not None

    await eventually(failed, timeout=60, interval=0.2, what=lambda: f"a failed delivery attempt: {seen}")
    return seen


async def test_messages_accepted_during_outages_are_applied_once_after(deployment: InboxStack) -> None:
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=60) as http:
        driver = CaseDriver(http)
        api_key = await _clinic(http, driver)
        case = await driver.advance(await driver.refer(referral(size=3, office="IST")), until=Stage.HEALTH)

        # 1. Temporal stopped: accepted (PostgreSQL is enough), pending, retried, applied once back.
        deployment.temporal.stop()
        try:
            sent = await send(http, api_key, _result(case, 0))
            assert sent.status_code == 202, sent.text
            new_referral = referral(size=1, office="IST")
            referred = await send(http, api_key, {"event_type": "referral", "referral": new_referral})
            assert referred.status_code == 202, referred.text
            pending = await _failed_once(http, api_key, sent.json()["inbox_id"])
            assert pending["attempts"] >= 1 and pending["next_attempt_at"], pending
        finally:
            await deployment.temporal.start()
        applied = await settled(http, api_key, sent.json()["inbox_id"], timeout=90)
        assert applied["status"] == "applied", applied
        print(f"\nTemporal stopped: {applied['attempts']} attempts (last failure {pending['last_failure']}), then applied")
        opened = await settled(http, api_key, referred.json()["inbox_id"], timeout=90)
        assert opened["status"] == "applied" and opened["case_id"] == referred.json()["case_id"], opened
        assert (await http.get(f"/api/v1/cases/{opened['case_id']}", headers=await driver.login("ayse"))
                ).json()["external_referral_id"] == new_referral["external_referral_id"]

        # 2. The worker dead, then the API killed while it delivers: the new API takes the
        #    message over once its lease ends, and the worker's return applies it, once.
        deployment.kill_worker()
        sent = await send(http, api_key, _result(case, 1))
        assert sent.status_code == 202, sent.text
        await eventually(lambda: _attempted(http, api_key, sent.json()["inbox_id"]), timeout=30, interval=0.2,
                         what="a delivery attempt to start")
        deployment.kill_api()
        await deployment.start_api()
        deployment.start_worker()
        applied = await settled(http, api_key, sent.json()["inbox_id"], timeout=120)
        assert applied["status"] == "applied", (applied, deployment.log("api"))
        assert applied["attempts"] >= 2, applied  # the killed API's attempt, and the new API's
        print(f"\nworker dead, API killed mid-delivery: {applied['attempts']} attempts, then applied")

        # 3. PostgreSQL stopped: nothing can be accepted (503 with Retry-After: the partner
        #    sends it again under the same key); once it is back, accepted and applied once.
        key = uuid.uuid4().hex
        deployment.postgres.stop()
        try:
            during = await send(http, api_key, _result(case, 2), key=key)
            assert during.status_code == 503 and during.headers.get("retry-after"), during.text
        finally:
            deployment.postgres.start()
        after = await _until_answered(http, api_key, _result(case, 2), key)
        assert after.status_code == 202, after.text
        again = await send(http, api_key, _result(case, 2), key=key)
        assert again.json()["inbox_id"] == after.json()["inbox_id"]
        assert (await settled(http, api_key, after.json()["inbox_id"], timeout=90))["status"] == "applied"

        # Every member's result exactly once.
        recorded = await _health_events(http, driver, case["case_id"])
        assert sorted(recorded) == sorted(m["member_id"] for m in case["members"]), recorded


async def _until_answered(http: httpx.AsyncClient, api_key: str, body: dict[str, Any], key: str) -> httpx.Response:
    """Sent again, unchanged, after a 503 or no answer (as a partner must)."""
    answer: list[httpx.Response] = []

    async def answered() -> bool:
        try:
            answer[:] = [await send(http, api_key, body, key=key)]
        except httpx.TransportError:
            return False
        return answer[0].status_code != 503

    await eventually(answered, timeout=120, interval=0.5, what=lambda: f"an answer other than 503: {answer}")
    return answer[0]


async def _attempted(http: httpx.AsyncClient, api_key: str, inbox_id: int) -> bool:
    return (await inbox_status(http, api_key, inbox_id))["attempts"] >= 1
