"""One slow webhook receiver holds only its own deliveries (tester's finding: a receiver that
sent its answer's head and then a byte every 5 s stalled every office's webhooks; the
delivery sat pending with no attempt and an expired lease until the receiver was killed).

Real receivers on 127.0.0.1 (Starlette under uvicorn, in the test's loop), the session's
PostgreSQL, Temporal and API, and a ``WebhookDispatcher`` as the worker runs it, with a
deadline of ``DEADLINE`` seconds per attempt:

* ``slow`` answers 200 at once, then one byte every few seconds until the test lets it go;
* ``flood`` answers 200 with a body that does not end (only its first bytes are read);
* ``healthy`` answers 204.

A case event recorded while the slow attempt is under way reaches ``healthy`` (the outbox is
fanned out and delivered beside it, not after it), the flood's answer delivers, and the slow
attempt ends as a failed attempt, its error recorded and a retry scheduled with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from store.db import create_pool
from stored_secrets import SecretSealer
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.stack import free_port, serving
from tests.support.waiting import eventually
from webhook_dispatch import WebhookDispatcher
from webhook_targets import networks

DEADLINE = 30.0  # the dispatcher's per-attempt deadline here; every wait for "it arrived" is shorter
ARRIVES_WITHIN = 20.0  # a generous bound for a delivery beside the slow one (normally under a second)
TRICKLE_EVERY = 3.0  # below the per-read timeout: only a deadline over the whole exchange ends it
RECEIVER_MOST = 120.0  # no receiver streams longer than this, whatever happens


class Receivers:
    def __init__(self) -> None:
        self.healthy: list[dict[str, Any]] = []
        self.slow_calls = 0
        self.flood_calls = 0
        self.released = asyncio.Event()  # set by the test: the streams end

    async def _until_released(self, every: float) -> bool:
        """Wait ``every`` seconds or until released; whether to go on."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.released.wait(), every)
        return not self.released.is_set()

    async def slow(self, request: Request) -> Response:
        await request.body()
        self.slow_calls += 1
        deadline = time.monotonic() + RECEIVER_MOST

        async def trickle() -> AsyncIterator[bytes]:
            yield b"."
            while time.monotonic() < deadline and await self._until_released(TRICKLE_EVERY):
                yield b"."

        return StreamingResponse(trickle(), status_code=200, media_type="text/plain")

    async def flood(self, request: Request) -> Response:
        await request.body()
        self.flood_calls += 1
        deadline = time.monotonic() + RECEIVER_MOST
        chunk = b"x" * 65536

        async def endless() -> AsyncIterator[bytes]:
            while time.monotonic() < deadline and not self.released.is_set():
                yield chunk
                await asyncio.sleep(0)

        return StreamingResponse(endless(), status_code=200, media_type="text/plain")

    async def ok(self, request: Request) -> Response:
        self.healthy.append(json.loads(await request.body()))
        return Response(status_code=204)


@pytest.fixture
async def receivers() -> AsyncIterator[tuple[Receivers, str]]:
    rec = Receivers()
    app = Starlette(routes=[Route("/slow", rec.slow, methods=["POST"]), Route("/flood", rec.flood, methods=["POST"]),
                            Route("/healthy", rec.ok, methods=["POST"])])
    port = free_port()
    async with serving(app, port):
        try:
            yield rec, f"http://127.0.0.1:{port}"
        finally:
            rec.released.set()  # the streams end, so the server can stop


@pytest.fixture
async def dispatcher(stack) -> AsyncIterator[WebhookDispatcher]:
    pool = await create_pool(stack.settings.database_url)  # as the application role, like the worker
    d = WebhookDispatcher(pool, sealer=SecretSealer.from_settings(stack.settings), poll_interval=0.05,
                          timeout=DEADLINE, base_delay=600, max_attempts=3,
                          allowed_networks=networks(stack.settings.webhook_allowed_networks))
    d.start()
    try:
        yield d
    finally:
        await d.stop()
        await pool.close()


async def _subscribe(http: httpx.AsyncClient, headers: dict[str, str], url: str) -> dict[str, Any]:
    answer = await http.post("/api/v1/webhooks/subscriptions", headers=headers,
                             json={"url": url, "event_types": ["case.stage_changed"], "offices": ["IST"]})
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_a_trickling_receiver_holds_back_neither_the_outbox_nor_other_subscriptions(
        stack, http: httpx.AsyncClient, driver: CaseDriver, receivers: tuple[Receivers, str],
        dispatcher: WebhookDispatcher) -> None:
    rec, base = receivers
    fatma = await driver.login("fatma")
    slow = await _subscribe(http, fatma, f"{base}/slow")
    flood = await _subscribe(http, fatma, f"{base}/flood")
    healthy = await _subscribe(http, fatma, f"{base}/healthy")

    async def deliveries(sub: dict[str, Any], case_id: str) -> list[dict[str, Any]]:
        rows = (await http.get(f"/api/v1/webhooks/subscriptions/{sub['subscription_id']}/deliveries",
                               params={"limit": 500}, headers=fatma)).json()
        return [d for d in rows if d["case_id"] == case_id]

    def reached_healthy(case_id: str) -> bool:
        return any(b["case"]["case_id"] == case_id for b in rec.healthy)

    try:
        first = await driver.refer(referral(size=1))
        await eventually(lambda: rec.slow_calls >= 1 and reached_healthy(first["case_id"]), timeout=ARRIVES_WITHIN,
                         what=lambda: f"the slow receiver to be called ({rec.slow_calls}) and the healthy one "
                                      f"to have the first case's event ({len(rec.healthy)} bodies)")

        # Recorded while the slow receiver still trickles its answer: fanned out and delivered beside it.
        later = await driver.refer(referral(size=1))
        await eventually(lambda: reached_healthy(later["case_id"]), timeout=ARRIVES_WITHIN,
                         what="the later case's event at the healthy receiver while the slow one trickles")

        # An answer whose body does not end: its status decides, its first bytes only are read.
        async def flood_delivered() -> bool:
            rows = await deliveries(flood, first["case_id"])
            return bool(rows) and all(d["status"] == "delivered" for d in rows)
        await eventually(flood_delivered, timeout=ARRIVES_WITHIN,
                         what="the flooding receiver's 200 to deliver without its endless body")
        assert rec.flood_calls >= 1

        # The slow attempt ends at the deadline: a failed attempt, its error said, tried again later.
        async def slow_attempted() -> list[dict[str, Any]]:
            return [d for d in await deliveries(slow, first["case_id"]) if d["attempts"] >= 1]
        await eventually(slow_attempted, timeout=DEADLINE + 30,
                         what="the slow delivery's attempt to be recorded as failed")
        failed = (await slow_attempted())[0]
        assert failed["status"] == "pending" and failed["attempts"] == 1, failed
        assert failed["last_error"].startswith(f"no complete answer within {DEADLINE:g} s"), failed
        (attempt,) = failed["attempt_log"]
        assert attempt["status_code"] is None and attempt["error"] == failed["last_error"], attempt
        async with stack.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT lease_until, next_attempt_at > now() + interval '5 minutes' AS later "
                                      "FROM webhook_deliveries WHERE delivery_id = $1", failed["delivery_id"])
        assert row["lease_until"] is None and row["later"], dict(row)  # not leased; retried after the backoff
    finally:
        rec.released.set()
        for sub in (slow, flood, healthy):
            await http.post(f"/api/v1/webhooks/subscriptions/{sub['subscription_id']}/deactivate", headers=fatma)
