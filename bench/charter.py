"""Workload 6: a charter's departure fanned out to every case on its manifest (issue 13).

Set-up (not timed): ``cases`` resettlement families of 1-7 people, ``people`` in all, worked
through the HTTP API to the movement stage; a charter created, every case added (ten per
request), the
manifest locked (every case booked on the charter by the fan-out), the fit-to-travel checks
done.  Timed: ``POST /api/v1/movements/{id}/departure`` until every case's workflow has
recorded the departure (its ``cases.departed_at`` in PostgreSQL, polled every 10 ms: a case's
events are written before its workflow moves on); then, reported apart, until the movement
itself shows every case's answer (``GET`` every 20 ms, ``fan_out.pending`` 0).  Against: the
same number of bare Temporal Updates (one per BenchBaselineCase workflow, all at once) in
the same run, just before.  Ratio = Itinera's time / the bare fan-out's; target <= 1.5.
The movement workflow's history-event count is reported too.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from bench.baseline_workflow import BaselineCaseWorkflow, StageCompletion
from demo.driver import demo_client
from domain.model import Stage

TARGET_RATIO = 1.5
ADD_BATCH = 10


def family_sizes(cases: int, people: int) -> list[int]:
    """``cases`` family sizes of 1-7 that add up to ``people`` (a spread, not all alike)."""
    sizes = [1 + (n * 5) % 7 for n in range(cases)]
    n = 0
    while sum(sizes) != people:
        i = n % cases
        if sum(sizes) < people and sizes[i] < 7:
            sizes[i] += 1
        elif sum(sizes) > people and sizes[i] > 1:
            sizes[i] -= 1
        n += 1
    return sizes


async def charter(bench: Any, cases: int, people: int, *, lanes: int = 10) -> dict[str, Any]:
    from bench.workloads import WORKER, referral_body  # noqa: PLC0415 (no import cycle at module load)

    run = bench.run
    sizes = family_sizes(cases, people)
    officer = WORKER[("movement_officer", "IST")]
    task = bench.progress.add_task(f"6 charter: {cases} cases, {people} people to the movement stage", total=cases)
    async with httpx.AsyncClient(base_url=bench.stack.api_url, timeout=120) as http:
        client = demo_client(http)
        for username in ("ayse", "selin", "deniz", officer):
            await client.login(username)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(cases):
            queue.put_nowait(n)
        made: dict[int, dict[str, Any]] = {}

        async def lane() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                body = referral_body(f"BENCH-{run}-charter-{n:04d}", "IST", sizes[n], 50_000 + n)
                made[n] = await client.advance(await client.refer(body), until=Stage.MOVEMENT)
                bench.progress.advance(task)

        await asyncio.gather(*[lane() for _ in range(lanes)])
        case_ids = [made[n]["case_id"] for n in range(cases)]
        # The host state's exit permission (ITINERA_EXIT_PERMISSIONS: Istanbul requires one)
        # is recorded before a case may join a manifest.
        permits = [t for n in range(cases) for t in made[n]["open_tasks"]
                   if t["task_type"] == "record_host_exit_permission"]
        for i in range(0, len(permits), lanes):
            await asyncio.gather(*[client.complete(t, "IST") for t in permits[i:i + lanes]])
        headers = await client.login(officer)

        async def call(method: str, path: str, key: str | None = None, **kwargs: Any) -> dict[str, Any]:
            # A command is sent again as it was (same Idempotency-Key: applied once) while the
            # engine answers 503.
            sent = {**headers, **({"Idempotency-Key": key} if key else {})}
            for _ in range(60):
                r = await http.request(method, path, headers=sent, **kwargs)
                if r.status_code != 503:
                    break
                bench.progress.console.log(f"{method} {path}: 503, sent again")
            if r.status_code >= 300:
                raise RuntimeError(f"{method} {path} -> {r.status_code}: {r.text[:500]}")
            return r.json()

        # Leaves within the hours ahead that a departure may be recorded in (at most 12 hours before
        # the scheduled time): the charter departs right after its families are checked fit to travel.
        departs = (datetime.now(UTC) + timedelta(hours=6)).replace(microsecond=0)
        movement = await call("POST", "/api/v1/movements", json={
            "kind": "charter", "flight_number": "XC4401", "charter_id": f"BENCH-{run}", "carrier": "Bench Air",
            "departure_airport": "IST", "arrival_airport": "OSL", "departure_at": departs.isoformat(),
            "departure_time_zone": "Europe/Istanbul", "seat_capacity": people + 10, "office": "IST",
            "escorts": [{"name": "Elif Arslan", "kind": "operational"}]})
        movement_id = movement["movement_id"]
        add_started = time.perf_counter()
        for i in range(0, cases, ADD_BATCH):  # families added ten at a time
            await call("POST", f"/api/v1/movements/{movement_id}/cases", key=f"add-{movement_id}-{i}",
                       json={"case_ids": case_ids[i:i + ADD_BATCH]})
        add_seconds = time.perf_counter() - add_started

        async def fan_out_done() -> dict[str, Any]:
            while True:
                seen = await call("GET", f"/api/v1/movements/{movement_id}")
                if seen["fan_out"]["pending"] == 0:
                    return seen
                await asyncio.sleep(0.02)

        lock_started = time.perf_counter()
        await call("POST", f"/api/v1/movements/{movement_id}/lock", key=f"lock-{movement_id}")
        locked = await fan_out_done()
        lock_seconds = time.perf_counter() - lock_started
        if locked["fan_out"]["not_applied"]:
            raise RuntimeError(f"charter {movement_id}: bookings not applied: {locked['manifest']}")
        checks = [t for case_id in case_ids for t in (await call("GET", f"/api/v1/cases/{case_id}"))["open_tasks"]
                  if t["task_type"] == "check_fit_to_travel"]
        for i in range(0, len(checks), lanes):
            await asyncio.gather(*[client.complete(t, "IST") for t in checks[i:i + lanes]])

        # The bare fan-out: as many Updates as there are cases, one per workflow, all at once.
        handles = await asyncio.gather(*[
            bench.bare.start_workflow(BaselineCaseWorkflow.run, f"bench-{run}-charter-base-{n:04d}",
                                      id=f"bench-{run}-charter-base-{n:04d}", task_queue=bench.stack.baseline_queue)
            for n in range(cases)])
        update = StageCompletion(stage="referral", form={"charter": movement_id}, actor=officer)
        bench.monitor.begin()
        started = time.perf_counter()
        await asyncio.gather(*[h.execute_update(BaselineCaseWorkflow.complete_stage, update) for h in handles])
        baseline_seconds = time.perf_counter() - started
        bench.monitor.end()

        db = await asyncpg.connect(bench.stack.database_url)

        async def every_case_departed() -> None:
            # A case's departure is in PostgreSQL before its workflow answers the Update.
            while await db.fetchval("SELECT count(*) FROM cases WHERE case_id = ANY($1::text[]) "
                                    "AND departed_at IS NOT NULL", case_ids) < cases:
                await asyncio.sleep(0.01)

        bench.monitor.begin()
        started = time.perf_counter()
        await call("POST", f"/api/v1/movements/{movement_id}/departure", key=f"departure-{movement_id}",
                   json={"departed_at": datetime.now(UTC).replace(microsecond=0).isoformat()})
        answered = time.perf_counter() - started
        await every_case_departed()
        seconds = time.perf_counter() - started
        departed = await fan_out_done()
        recorded_on_movement = time.perf_counter() - started
        usage = bench.monitor.end()
        await db.close()
        if departed["fan_out"]["applied"] != cases:
            raise RuntimeError(f"charter {movement_id}: departure not applied everywhere: {departed['fan_out']}")
        for h in handles:
            await h.terminate("bench: charter baseline done")

    history = [e async for e in bench.itinera.get_workflow_handle(movement_id).fetch_history_events()]
    ratio = seconds / baseline_seconds if baseline_seconds else None
    return {
        "movement_id": movement_id, "cases": cases, "people": people, "family_sizes": sizes,
        "departure_s": round(seconds, 3), "departure_answered_s": round(answered, 3),
        "departure_on_movement_s": round(recorded_on_movement, 3),
        "baseline_updates": cases, "baseline_s": round(baseline_seconds, 3),
        "ratio": round(ratio, 2) if ratio else None, "target_ratio": TARGET_RATIO,
        "meets_target": ratio is not None and ratio <= TARGET_RATIO,
        "lock_and_booking_s": round(lock_seconds, 3), "add_cases_s": round(add_seconds, 3),
        "movement_history_events": len(history), "cpu_s": usage.as_dict().get("cpu_s", {}),
    }
