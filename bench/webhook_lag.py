"""Workload 7: webhook lag (issue 14), from a case event to its signed delivery at a partner.

A receiver (aiohttp, in this process, on loopback: the bench stack's worker allows loopback,
``ITINERA_WEBHOOK_ALLOWED_NETWORKS``) is subscribed by the Istanbul supervisor to
``case.stage_changed`` and ``case.arrived``; ``cases`` one-person cases are worked through the
HTTP API to their end, ``lanes`` at a time.  For every delivery: lag = its arrival at the
receiver - the event's ``occurred_at`` (when the workflow decided it), so it includes the
recording, the outbox fan-out, the dispatcher's polling (``poll_interval`` 1 s) and the
signed POST.  Reported: p50 / p95 / p99 / max and the count; every event must arrive once
(deduplicated on ``Itinera-Event-Id``; a repeat is counted apart).  No target in the issue:
the figure says how fresh a partner's view is.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import httpx
from aiohttp import web

from bench.stack import free_port
from bench.stats import percentile
from demo.driver import demo_client
from domain.model import Stage


async def webhook_lag(bench: Any, cases: int, *, lanes: int = 10) -> dict[str, Any]:
    from bench.workloads import referral_body  # noqa: PLC0415 (no import cycle at module load)

    arrivals: dict[str, float] = {}
    repeats = 0

    async def receive(request: web.Request) -> web.Response:
        nonlocal repeats
        body = await request.json()
        at = time.time()
        if body["id"] in arrivals:
            repeats += 1
        else:
            arrivals[body["id"]] = at - datetime.fromisoformat(body["occurred_at"]).timestamp()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hooks", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    task = bench.progress.add_task(f"7 webhooks: {cases} cases, {lanes} at a time", total=cases)
    try:
        async with httpx.AsyncClient(base_url=bench.stack.api_url, timeout=120) as http:
            client = demo_client(http)
            supervisor = await client.login("fatma")
            made = await http.post("/api/v1/webhooks/subscriptions", headers=supervisor, json={
                "url": f"http://127.0.0.1:{port}/hooks", "event_types": ["case.stage_changed", "case.arrived"],
                "offices": ["IST"], "description": "bench: webhook lag"})
            made.raise_for_status()
            subscription = made.json()["subscription_id"]
            queue: asyncio.Queue[int] = asyncio.Queue()
            for n in range(cases):
                queue.put_nowait(n)
            run = bench.run

            async def lane() -> None:
                while not queue.empty():
                    n = queue.get_nowait()
                    body = referral_body(f"BENCH-{run}-hooks-{n:04d}", "IST", 1, 70_000 + n)
                    await client.advance(await client.refer(body), until=Stage.CLOSED)
                    bench.progress.advance(task)

            await asyncio.gather(*[lane() for _ in range(lanes)])
            # Every case: 7 stages entered (referral ... arrival), its closure, and its arrival.
            expected = cases * 9
            deadline = time.monotonic() + 120
            while len(arrivals) < expected and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            await http.post(f"/api/v1/webhooks/subscriptions/{subscription}/deactivate", headers=supervisor)
    finally:
        await runner.cleanup()
    lags = sorted(arrivals.values())
    return {
        "cases": cases, "lanes": lanes, "deliveries": len(lags), "expected": expected, "repeats": repeats,
        "lag_p50_s": round(percentile(lags, 50), 3) if lags else None,
        "lag_p95_s": round(percentile(lags, 95), 3) if lags else None,
        "lag_p99_s": round(percentile(lags, 99), 3) if lags else None,
        "lag_max_s": round(lags[-1], 3) if lags else None,
    }
