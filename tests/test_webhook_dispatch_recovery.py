"""The worker's webhook dispatcher survives a PostgreSQL crash (explore finding: it stopped for
good, silently, once PostgreSQL had restarted its backends).

Real processes (tests/support/fault_stack.py): PostgreSQL, Temporal, ``itinera worker`` (whose
dispatcher delivers the outbox) and ``itinera api``.  The backend the dispatcher LISTENs on is
SIGKILLed, so PostgreSQL restarts every backend (crash recovery); the pool then takes the dead
listener connection back.  An event recorded afterwards is still delivered to the receiver, and
the dispatcher LISTENs again on a new connection."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.factories import referral
from tests.support.fault_stack import ProcessStack, ResilientClient
from tests.support.stack import free_port, serving
from tests.support.waiting import eventually


class _LoopbackWebhooks(ProcessStack):
    """A deployment whose API and worker may send webhooks to loopback (as ``itinera dev``)."""

    def env(self) -> dict[str, str]:
        return {**super().env(), "ITINERA_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8"}


@pytest.fixture(scope="module")
async def deployment() -> AsyncIterator[ProcessStack]:
    stack = _LoopbackWebhooks()
    try:
        await stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
async def received() -> AsyncIterator[tuple[list[dict[str, Any]], str]]:
    bodies: list[dict[str, Any]] = []

    async def endpoint(request: Request) -> Response:
        bodies.append(json.loads(await request.body()))
        return Response(status_code=204)

    port = free_port()
    async with serving(Starlette(routes=[Route("/hooks", endpoint, methods=["POST"])]), port):
        yield bodies, f"http://127.0.0.1:{port}/hooks"


async def _listeners(stack: ProcessStack) -> list[int]:
    """The application role's backends LISTENing (the dispatcher's); none while PostgreSQL is away."""
    try:
        conn = await asyncpg.connect(stack.database_url, timeout=5)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        return []
    try:
        return [r["pid"] for r in await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE usename = 'itinera_app' AND query LIKE 'LISTEN%' "
            "AND pid <> pg_backend_pid()")]
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return []
    finally:
        await conn.close()


async def test_webhooks_are_still_delivered_after_the_listeners_backend_is_killed(
        deployment: ProcessStack, received: tuple[list[dict[str, Any]], str]) -> None:
    bodies, url = received
    client = ResilientClient(deployment.base_url)
    made = await client.send("POST", "/api/v1/webhooks/subscriptions", user="fatma",
                             json={"url": url, "event_types": ["case.stage_changed"], "offices": ["IST"]})
    assert made.status_code == 201, made.text

    def delivered(case_id: str) -> bool:
        return any(b["case"]["case_id"] == case_id for b in bodies)

    before = await client.send("POST", "/api/v1/cases", user="ayse", json=referral(size=1))
    assert before.status_code == 201, before.text
    await eventually(lambda: delivered(before.json()["case_id"]), timeout=60,
                     what=lambda: "the first delivery\n" + deployment.log("worker"))
    await eventually(lambda: _listeners(deployment), timeout=30, what="the dispatcher's LISTEN backend")

    (listener,) = await _listeners(deployment)
    os.kill(listener, signal.SIGKILL)  # PostgreSQL restarts every backend (crash recovery)

    after = await client.send("POST", "/api/v1/cases", user="ayse", json=referral(size=1))
    assert after.status_code == 201, after.text
    case_id = after.json()["case_id"]
    await eventually(lambda: delivered(case_id), timeout=90,
                     what=lambda: f"the delivery of {case_id}'s event recorded after the crash\n"
                                  + deployment.log("worker"))

    async def listening_again() -> bool:
        return any(pid != listener for pid in await _listeners(deployment))
    await eventually(listening_again, timeout=30, what="the dispatcher to LISTEN on a new connection")
    assert not client.server_errors(), client.server_errors()
