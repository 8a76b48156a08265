"""Outbound webhooks (issue 14): subscriptions, the transactional outbox, signed deliveries
retried with backoff and recorded per attempt, health data only where allowed, rotation.

A tiny receiver (a Starlette app under uvicorn on loopback) records what it is sent and can
be told to fail; a ``WebhookDispatcher`` runs in the test with short delays."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.model import Stage
from store.db import create_pool
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.stack import free_port, serving
from tests.support.waiting import eventually
from webhook_dispatch import SIGNATURE_HEADER, WebhookDispatcher, sign, verify
from store import webhooks as store_webhooks
from stored_secrets import SecretSealer
from webhook_targets import TargetRefused, check_target, networks


class Receiver:
    def __init__(self) -> None:
        self.received: dict[str, list[dict[str, Any]]] = {}
        self.fail_first: dict[str, int] = {}
        self.calls: dict[str, int] = {}

    async def endpoint(self, request: Request) -> Response:
        name = request.path_params["name"]
        self.calls[name] = self.calls.get(name, 0) + 1
        if self.calls[name] <= self.fail_first.get(name, 0):
            return Response("try later", status_code=503)
        body = await request.body()
        self.received.setdefault(name, []).append({"headers": dict(request.headers), "raw": body,
                                                   "json": json.loads(body)})
        return Response(status_code=204)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    rec = Receiver()
    app = Starlette(routes=[Route("/hooks/{name}", rec.endpoint, methods=["POST"])])
    port = free_port()
    async with serving(app, port):
        yield rec, f"http://127.0.0.1:{port}/hooks"


@pytest.fixture
async def dispatcher(stack) -> AsyncIterator[WebhookDispatcher]:
    pool = await create_pool(stack.settings.database_url)  # as the application role, like the worker
    d = WebhookDispatcher(pool, sealer=SecretSealer.from_settings(stack.settings), poll_interval=0.05, base_delay=0.2, max_delay=1.0, max_attempts=3, timeout=5,
                          allowed_networks=networks(stack.settings.webhook_allowed_networks))
    d.start()
    try:
        yield d
    finally:
        await d.stop()
        await pool.close()


async def _subscribe(http: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    answer = await http.post("/api/v1/webhooks/subscriptions", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_signed_deliveries_retries_health_data_and_rotation(stack, http: httpx.AsyncClient, driver: CaseDriver,
                                                                 receiver, dispatcher) -> None:
    rec, base = receiver
    fatma = await driver.login("fatma")
    plain = await _subscribe(http, fatma, url=f"{base}/plain", event_types=["case.stage_changed", "case.arrived"],
                             offices=["IST"])
    medical = await _subscribe(http, fatma, url=f"{base}/medical", event_types=["case.health_assessed",
                                                                                 "case.stage_changed"],
                               offices=["IST"], include_health_data=True)
    assert plain["secret"].startswith("whsec_") and not plain["include_health_data"]
    listed = (await http.get("/api/v1/webhooks/subscriptions", headers=fatma)).json()
    assert all("secret" not in s for s in listed)  # shown once
    rec.fail_first["plain"] = 2  # the first delivery is refused twice, then accepted

    try:
        case = await driver.refer(referral(size=1))
        case = await driver.advance(case, until=Stage.CLOSED)
        assert case["status"] == "closed"
        case_id = case["case_id"]

        async with stack.pool.acquire() as conn:
            stages = await conn.fetchval("SELECT count(*) FROM case_events WHERE case_id = $1 "
                                         "AND event_type IN ('StageEntered', 'CaseClosed')", case_id)
            arrivals = await conn.fetchval("SELECT count(*) FROM case_events WHERE case_id = $1 "
                                           "AND event_type = 'ArrivalConfirmed'", case_id)
            outbox = await conn.fetchval("SELECT count(*) FROM webhook_outbox WHERE case_id = $1", case_id)
        assert arrivals == 1 and stages >= 8
        health_events = outbox - stages - arrivals
        assert health_events == 1  # one person, one health assessment

        def mine(name: str) -> list[dict[str, Any]]:
            return [r for r in rec.received.get(name, []) if r["json"]["case"]["case_id"] == case_id]

        await eventually(lambda: len(mine("plain")) == stages + arrivals and len(mine("medical")) == stages + 1,
                         timeout=30, what=lambda: f"deliveries: plain {len(mine('plain'))}/{stages + arrivals}, "
                                                  f"medical {len(mine('medical'))}/{stages + 1}")

        # Signed: the receiver's check passes with the subscription's secret only, and only fresh.
        for name, sub in (("plain", plain), ("medical", medical)):
            for r in mine(name):
                header = r["headers"][SIGNATURE_HEADER.lower()]
                assert verify(header, r["raw"], sub["secret"])
                assert not verify(header, r["raw"], "whsec_wrong")
                assert not verify(header, r["raw"] + b" ", sub["secret"])
                assert not verify(header, r["raw"], sub["secret"], now=time.time() + 3600)
                assert r["headers"]["itinera-event-id"] == r["json"]["id"]

        # No health data leaves for the plain subscription; the medical one has it.
        plain_types = {r["json"]["type"] for r in mine("plain")}
        assert plain_types == {"case.stage_changed", "case.arrived"}
        assert "outcome" not in json.dumps([r["json"] for r in mine("plain")])
        assessed = [r["json"] for r in mine("medical") if r["json"]["type"] == "case.health_assessed"]
        assert assessed and assessed[0]["data"]["outcome"] and "health_details_withheld" not in assessed[0]
        arrived = next(r["json"] for r in mine("plain") if r["json"]["type"] == "case.arrived")
        assert arrived["data"]["arrived_on"] and "notes" not in arrived["data"]
        assert "full_name" not in json.dumps([r["json"] for r in mine("plain")])  # no names either

        # Each attempt is recorded: the receiver's first two answers were 503 (to whichever
        # deliveries came first: they run concurrently); those were tried again and went through.
        # The dispatcher records an attempt once the receiver has answered: the receiver may
        # hold the last body before its delivery is marked delivered, so wait for the record.
        ours: list[dict[str, Any]] = []

        async def all_recorded_delivered() -> bool:
            nonlocal ours
            deliveries = (await http.get(f"/api/v1/webhooks/subscriptions/{plain['subscription_id']}/deliveries",
                                         params={"limit": 500}, headers=fatma)).json()
            ours = [d for d in deliveries if d["case_id"] == case_id]
            return len(ours) == stages + arrivals and all(d["status"] == "delivered" for d in ours)

        await eventually(all_recorded_delivered, timeout=30,
                         what=lambda: f"every plain delivery recorded delivered: "
                                      f"{[(d['delivery_id'], d['status'], d['attempts']) for d in ours]}")
        logs = [[a["status_code"] for a in d["attempt_log"]] for d in ours]
        assert sum(log.count(503) for log in logs) == 2
        assert all(log[-1] == 204 and set(log[:-1]) <= {503} and len(log) == d["attempts"]
                   for log, d in zip(logs, ours))

        # Rotation: a new secret, shown once; the old one signs alongside during its grace period.
        rotated = (await http.post(f"/api/v1/webhooks/subscriptions/{plain['subscription_id']}/rotate",
                                   headers=fatma)).json()
        assert rotated["secret"] != plain["secret"] and rotated["previous_secret_until"]
        before = len(rec.received["plain"])
        another = await driver.refer(referral(size=1))
        await eventually(lambda: len(rec.received["plain"]) > before, timeout=30, what="a delivery after rotation")
        newest = rec.received["plain"][-1]
        assert newest["json"]["case"]["case_id"] == another["case_id"]
        header = newest["headers"][SIGNATURE_HEADER.lower()]
        assert verify(header, newest["raw"], rotated["secret"]) and verify(header, newest["raw"], plain["secret"])

        # At rest the secrets are sealed (stored_secrets.py): a copy of the database cannot sign.
        async with stack.pool.acquire() as conn:
            stored = await conn.fetchrow("SELECT secret, previous_secret FROM webhook_subscriptions "
                                         "WHERE subscription_id = $1", plain["subscription_id"])
        assert all(v.startswith("sealed:v1:test-2:") for v in stored.values())
        assert rotated["secret"] not in stored["secret"] and plain["secret"] not in stored["previous_secret"]
    finally:
        for sub in (plain, medical):
            await http.post(f"/api/v1/webhooks/subscriptions/{sub['subscription_id']}/deactivate", headers=fatma)


async def test_a_receiver_that_never_answers_well_is_given_up_after_the_last_attempt(
        stack, http: httpx.AsyncClient, driver: CaseDriver, receiver, dispatcher) -> None:
    rec, base = receiver
    fatma = await driver.login("fatma")
    sub = await _subscribe(http, fatma, url=f"{base}/down", event_types=["case.stage_changed"], offices=["IST"])
    rec.fail_first["down"] = 10_000
    try:
        case = await driver.refer(referral(size=1))

        async def given_up() -> bool:
            async with stack.pool.acquire() as conn:
                return await conn.fetchval(
                    "SELECT count(*) FROM webhook_deliveries d JOIN webhook_outbox o USING (outbox_id) "
                    "WHERE d.subscription_id = $1 AND o.case_id = $2 AND d.status = 'failed'",
                    sub["subscription_id"], case["case_id"]) >= 1

        await eventually(given_up, timeout=30, what="the delivery to be given up")
        deliveries = (await http.get(f"/api/v1/webhooks/subscriptions/{sub['subscription_id']}/deliveries",
                                     headers=fatma)).json()
        failed = next(d for d in deliveries if d["case_id"] == case["case_id"])
        assert failed["attempts"] == 3 and [a["status_code"] for a in failed["attempt_log"]] == [503, 503, 503]
        gaps = [a["attempted_at"] for a in failed["attempt_log"]]
        assert gaps == sorted(gaps)
    finally:
        await http.post(f"/api/v1/webhooks/subscriptions/{sub['subscription_id']}/deactivate", headers=fatma)


async def test_subscriptions_are_supervisors_and_offices_and_health_needs_consent(
        http: httpx.AsyncClient, driver: CaseDriver) -> None:
    fatma = await driver.login("fatma")
    body = {"url": "https://partner.example/hooks", "event_types": ["case.stage_changed"], "offices": ["IST"]}
    assert (await http.post("/api/v1/webhooks/subscriptions", json=body,
                            headers=await driver.login("ayse"))).status_code == 403
    assert (await http.post("/api/v1/webhooks/subscriptions", json={**body, "offices": ["IZM"]},
                            headers=fatma)).status_code == 403
    refused = await http.post("/api/v1/webhooks/subscriptions", json={**body, "event_types": ["case.health_assessed"]},
                              headers=fatma)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "health_data_not_allowed"
    assert (await http.post("/api/v1/webhooks/subscriptions", json={**body, "url": "ftp://x"},
                            headers=fatma)).status_code == 422
    made = (await http.post("/api/v1/webhooks/subscriptions", json=body, headers=fatma)).json()
    sub_id = made["subscription_id"]
    assert (await http.get(f"/api/v1/webhooks/subscriptions/{sub_id}", headers=await driver.login("ali"))).status_code == 404
    off = (await http.post(f"/api/v1/webhooks/subscriptions/{sub_id}/deactivate", headers=fatma)).json()
    assert off["active"] is False


def test_the_documented_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    body = b'{"id":"e1"}'
    expected = hmac.new(b"whsec_k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("whsec_k", 1700000000, body) == expected
    assert verify(f"t=1700000000,v1={expected}", body, "whsec_k", now=1700000100)
    assert not verify(f"t=1700000000,v1={expected}", body, "whsec_k", now=1700000400)  # older than 5 minutes


async def test_webhooks_never_go_to_the_deployments_own_network(
        stack, http: httpx.AsyncClient, driver: CaseDriver, dispatcher) -> None:
    """Server-side request forgery: a subscription URL on a private, link-local or loopback
    address is refused with the field and the reason, unless the deployment allows the network."""
    fatma = await driver.login("fatma")
    body = {"event_types": ["case.stage_changed"], "offices": ["IST"]}
    for url in ("http://10.0.0.5:7233/", "http://169.254.169.254/latest/meta-data/", "http://[fd00::1]/hooks",
                "http://[::ffff:192.168.1.1]/", "http://0.0.0.0:5432/"):
        refused = await http.post("/api/v1/webhooks/subscriptions", json={**body, "url": url}, headers=fatma)
        assert refused.status_code == 422, (url, refused.text)
        detail = refused.json()["error"]["details"][0]
        assert detail["field"] == "body.url" and "public" in detail["reason"], detail
    listed = (await http.get("/api/v1/webhooks/subscriptions", headers=fatma)).json()
    assert not any(s["url"].startswith(("http://10.", "http://169.254")) for s in listed)

    # Loopback is allowed in the tests' settings (as in `itinera dev`), and not by default.
    await check_target("http://127.0.0.1:9/", networks(["127.0.0.0/8"]))
    with pytest.raises(TargetRefused, match="127.0.0.1"):
        await check_target("http://127.0.0.1:9/")
    with pytest.raises(TargetRefused, match="does not resolve"):
        await check_target("https://partner.invalid/hooks")
    await check_target("https://partner.invalid/hooks", unresolved_ok=True)  # made before the partner's DNS


async def test_a_delivery_to_an_address_that_became_private_is_not_sent(
        stack, http: httpx.AsyncClient, driver: CaseDriver, receiver) -> None:
    """Checked again before every delivery: DNS may point elsewhere since the subscription."""
    rec, base = receiver
    fatma = await driver.login("fatma")
    sub = await _subscribe(http, fatma, url=f"{base}/moved", event_types=["case.stage_changed"], offices=["IST"])
    pool = await create_pool(stack.settings.database_url)
    strict = WebhookDispatcher(pool, sealer=SecretSealer.from_settings(stack.settings), poll_interval=0.05, base_delay=0.2, max_delay=1.0, max_attempts=1, timeout=5)
    strict.start()  # a worker that allows no private network
    try:
        case = await driver.refer(referral(size=1))

        async def refused() -> list[dict[str, Any]]:
            deliveries = (await http.get(f"/api/v1/webhooks/subscriptions/{sub['subscription_id']}/deliveries",
                                         headers=fatma)).json()
            return [d for d in deliveries if d["case_id"] == case["case_id"] and d["status"] == "failed"]

        await eventually(refused, timeout=30, what="the delivery to be refused")
        failed = (await refused())[0]
        assert failed["attempt_log"][0]["status_code"] is None
        assert "not sent" in failed["last_error"] and "127.0.0.1" in failed["last_error"]
        assert not [r for r in rec.received.get("moved", []) if r["json"]["case"]["case_id"] == case["case_id"]]
    finally:
        await strict.stop()
        await pool.close()
        await http.post(f"/api/v1/webhooks/subscriptions/{sub['subscription_id']}/deactivate", headers=fatma)


async def test_settled_outbox_rows_lose_their_case_data_after_the_retention(
        stack, http: httpx.AsyncClient, driver: CaseDriver, receiver, dispatcher) -> None:
    rec, base = receiver
    fatma = await driver.login("fatma")
    sub = await _subscribe(http, fatma, url=f"{base}/kept", event_types=["case.stage_changed"], offices=["IST"])
    try:
        case = await driver.refer(referral(size=1))
        await eventually(lambda: [r for r in rec.received.get("kept", []) if r["json"]["case"]["case_id"] == case["case_id"]],
                         timeout=30, what="the delivery")
        await store_webhooks.purge_settled(stack.pool, 30)  # not yet past the retention: kept
        async with stack.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT payload, purged_at FROM webhook_outbox WHERE case_id = $1", case["case_id"])
            assert row["purged_at"] is None and row["payload"]["case"]["case_id"] == case["case_id"]
            await conn.execute("UPDATE webhook_outbox SET recorded_at = now() - interval '31 days' WHERE case_id = $1",
                               case["case_id"])
        assert await store_webhooks.purge_settled(stack.pool, 30) >= 1
        async with stack.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT payload, purged_at FROM webhook_outbox WHERE case_id = $1", case["case_id"])
        assert row["purged_at"] is not None and row["payload"] == {}
        deliveries = (await http.get(f"/api/v1/webhooks/subscriptions/{sub['subscription_id']}/deliveries",
                                     headers=fatma)).json()
        assert any(d["case_id"] == case["case_id"] and d["status"] == "delivered" for d in deliveries)  # the log stays
    finally:
        await http.post(f"/api/v1/webhooks/subscriptions/{sub['subscription_id']}/deactivate", headers=fatma)


async def test_a_committed_event_wakes_the_dispatcher_without_waiting_for_its_poll(
        stack, http: httpx.AsyncClient, driver: CaseDriver, receiver) -> None:
    """The outbox NOTIFYs on commit and the dispatcher LISTENs: with a poll interval of ten
    minutes, only the notification can bring the delivery within the wait below."""
    rec, base = receiver
    fatma = await driver.login("fatma")
    sub = await _subscribe(http, fatma, url=f"{base}/woken", event_types=["case.stage_changed"], offices=["IST"])
    pool = await create_pool(stack.settings.database_url)
    sleepy = WebhookDispatcher(pool, sealer=SecretSealer.from_settings(stack.settings), poll_interval=600,
                               allowed_networks=networks(stack.settings.webhook_allowed_networks))
    sleepy.start()
    try:
        await asyncio.sleep(0.5)  # its first round is done: from now on it sleeps unless woken
        case = await driver.refer(referral(size=1))
        await eventually(lambda: [r for r in rec.received.get("woken", []) if r["json"]["case"]["case_id"] == case["case_id"]],
                         timeout=60, what="the delivery woken by the outbox's notification")
    finally:
        await sleepy.stop()
        await pool.close()
        await http.post(f"/api/v1/webhooks/subscriptions/{sub['subscription_id']}/deactivate", headers=fatma)


async def test_a_url_that_cannot_be_sent_to_is_refused_and_never_stops_the_others(
        stack, http: httpx.AsyncClient, driver: CaseDriver, receiver, dispatcher) -> None:
    """A subscription URL with a line break or an impossible port is a 422 naming body.url (in
    the served schema too); and a stored one httpx refuses (written before this rule) fails
    its own delivery only: every other subscription's events keep arriving."""
    rec, base = receiver
    fatma = await driver.login("fatma")
    body = {"event_types": ["case.stage_changed"], "offices": ["IST"]}
    for url in (f"{base}/x\nInjected: 1", "http://example.com:99999/", "http://exa mple.com/"):
        r = await http.post("/api/v1/webhooks/subscriptions", json={**body, "url": url}, headers=fatma)
        assert r.status_code == 422, r.text
        assert [d["field"] for d in r.json()["error"]["details"]] == ["body.url"], r.text
    schema = (await http.get("/openapi.json")).json()["components"]["schemas"]["SubscriptionRequest"]
    assert "pattern" in schema["properties"]["url"]

    bad = await _subscribe(http, fatma, url=f"{base}/bad", **body)
    good = await _subscribe(http, fatma, url=f"{base}/good", **body)
    async with stack.pool.acquire() as conn:  # as a row stored before the rule would be
        await conn.execute("UPDATE webhook_subscriptions SET url = $2 WHERE subscription_id = $1",
                           bad["subscription_id"], f"{base}/bad\nInjected: 1")
    try:
        case = await driver.refer(referral(size=1))

        def arrived(name: str) -> list[dict[str, Any]]:
            return [r for r in rec.received.get(name, []) if r["json"]["case"]["case_id"] == case["case_id"]]
        await eventually(lambda: arrived("good"), timeout=30, what="the good subscription's delivery")
        case = await driver.complete(case["open_tasks"][0], "IST")  # a later event: the dispatcher is alive
        await eventually(lambda: len(arrived("good")) >= 2, timeout=30, what="a second delivery after the bad one")

        async def failed() -> list[dict[str, Any]]:
            rows = (await http.get(f"/api/v1/webhooks/subscriptions/{bad['subscription_id']}/deliveries",
                                   headers=fatma)).json()
            return [d for d in rows if d["case_id"] == case["case_id"] and d["last_error"]]
        await eventually(failed, timeout=30, what="the bad subscription's delivery to fail")
        assert "InvalidURL" in (await failed())[0]["last_error"] and not arrived("bad")
    finally:
        for sub in (bad, good):
            await http.post(f"/api/v1/webhooks/subscriptions/{sub['subscription_id']}/deactivate", headers=fatma)
