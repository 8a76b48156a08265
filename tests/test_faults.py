"""Faults injected into a real deployment: processes killed and servers stopped mid-load.

Each scenario works a handful of cases from referral to closure through the API while
something dies, with a client that sends the same request again after a 503 or a dropped
connection (as integrations must).  Each ends the same way: every case closed, no answer
was a 500 or a 503 without ``Retry-After``, and ``itinera check`` finds the workflow, the
event store and the read model telling one story for every case.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.client import Client

from consistency import CheckReport, wait_until_consistent
from store.db import connect
from temporal_client import connect_temporal
from tests.support.factories import referral
from tests.support.fault_stack import ProcessStack, ResilientClient, started_process_stack, work_case_to_the_end
from tests.support.stack import stack_settings
from tests.support.waiting import eventually


CASES_PER_SCENARIO = 6


deployment = pytest.fixture(scope="module")(started_process_stack)  # real processes, one stack per module


async def _engine(stack: ProcessStack) -> tuple[asyncpg.Connection, Client]:
    settings = stack_settings(temporal_address=stack.temporal.address, temporal_task_queue=stack.task_queue)
    return await connect(stack.database_url), await connect_temporal(settings)


async def _work_cases_while(stack: ProcessStack, fault: Any, *, pause: float = 0.1) -> tuple[ResilientClient, list[dict]]:
    """Work CASES_PER_SCENARIO cases concurrently while ``fault()`` runs; all must close."""
    client = ResilientClient(stack.base_url)
    referrals = [referral(size=1 + i % 2, office="IST") for i in range(CASES_PER_SCENARIO)]
    work = asyncio.gather(*(work_case_to_the_end(client, r, pause=pause) for r in referrals))
    faulting = asyncio.create_task(fault(client))
    cases = await work
    await faulting
    assert [c["status"] for c in cases] == ["closed"] * len(cases)
    return client, cases


async def _mid_load(client: ResilientClient, answers: int = 40) -> None:
    """Until the load is well under way (by progress, not by the clock: a fast machine would
    finish the cases before a timed fault)."""
    await eventually(lambda: len(client.answers) >= answers, timeout=180, what=f"{answers} answers to the clients")


async def _outage_seen(client: ResilientClient, since: int, statuses: tuple[int, ...]) -> None:
    """Until a client has been answered with one of ``statuses`` (0: no answer) after its
    ``since``-th answer: the outage lasts until the clients have met it."""
    await eventually(lambda: any(a.status in statuses for a in client.answers[since:]), timeout=120,
                     what=f"a client to meet the outage (an answer {statuses})")


async def _readiness_reports(stack: ProcessStack, down: list[str]) -> tuple[int, dict]:
    """Until /readyz answers 503 naming ``down``; that answer."""
    answers: list[tuple[int, dict]] = []

    async def reported() -> bool:
        answers.append(await _probe(stack, "/readyz"))
        return answers[-1][0] == 503 and answers[-1][1]["down"] == down

    await eventually(reported, timeout=30, what=lambda: f"/readyz to report {down} down (it answered {answers[-1]})",
                     interval=0.2)
    return answers[-1]


async def _assert_one_story(stack: ProcessStack, cases: list[dict]) -> None:
    conn, temporal = await _engine(stack)
    try:
        report: CheckReport = await wait_until_consistent(conn, temporal, [c["case_id"] for c in cases], timeout=60)
        assert report.clean, "\n".join(str(d) for d in report.differences)
        everything = await wait_until_consistent(conn, temporal, None, timeout=30)
        assert everything.clean, "\n".join(str(d) for d in everything.differences)
    finally:
        await conn.close()


def _assert_outages_answered_cleanly(client: ResilientClient) -> None:
    statuses = Counter(a.status for a in client.answers)
    slowest = max((a.seconds for a in client.answers), default=0.0)
    print(f"\nanswers by status (0 = no answer): {dict(sorted(statuses.items()))}; slowest {slowest:.1f} s")
    bad = client.server_errors()
    assert not bad, [(a.method, a.path, a.status, a.body) for a in bad[:5]]


async def test_worker_killed_at_random_points(deployment: ProcessStack) -> None:
    rng = random.Random(7)

    async def kill_the_worker_again_and_again(client: ResilientClient) -> None:
        await _mid_load(client, 20)
        for _ in range(4):
            await asyncio.sleep(rng.uniform(0.2, 2.0))
            deployment.kill_worker()
            deployment.start_worker()

    client, cases = await _work_cases_while(deployment, kill_the_worker_again_and_again)
    _assert_outages_answered_cleanly(client)
    await _assert_one_story(deployment, cases)


async def _probe(stack: ProcessStack, path: str) -> tuple[int, dict]:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=10) as client:
        r = await client.get(path)
        return r.status_code, r.json()


async def test_temporal_stopped_and_restarted_mid_load(deployment: ProcessStack) -> None:
    probes: list[tuple[int, dict]] = []

    async def stop_temporal_for_a_while(client: ResilientClient) -> None:
        await _mid_load(client)
        deployment.temporal.stop()
        began = len(client.answers)
        probes.extend([await _readiness_reports(deployment, ["temporal"]), await _probe(deployment, "/livez")])
        await _outage_seen(client, began, (503,))
        await deployment.temporal.start()

    client, cases = await _work_cases_while(deployment, stop_temporal_for_a_while)
    assert probes[0][0] == 503 and probes[0][1]["down"] == ["temporal"], probes
    assert probes[1] == (200, {"status": "ok"})
    assert await _probe(deployment, "/readyz") == (200, {"status": "ready", "temporal": True, "database": True,
                                                         "down": []})
    _assert_outages_answered_cleanly(client)
    assert any(a.status == 503 for a in client.answers), "the outage was never seen: the test proves nothing"
    await _assert_one_story(deployment, cases)


async def test_postgres_stopped_and_restarted_mid_load(deployment: ProcessStack) -> None:
    probes: list[tuple[int, dict]] = []

    async def stop_postgres_for_a_while(client: ResilientClient) -> None:
        await _mid_load(client)
        deployment.postgres.stop()
        began = len(client.answers)
        probes.append(await _readiness_reports(deployment, ["database"]))
        await _outage_seen(client, began, (0, 503))
        deployment.postgres.start()

    client, cases = await _work_cases_while(deployment, stop_postgres_for_a_while)
    assert probes[0][0] == 503 and probes[0][1]["down"] == ["database"], probes
    _assert_outages_answered_cleanly(client)
    assert any(a.status in (0, 503) for a in client.answers), "the outage was never seen: the test proves nothing"
    await _assert_one_story(deployment, cases)


async def test_api_killed_mid_burst_leaves_no_change_without_its_audit_row(deployment: ProcessStack) -> None:
    async def kill_the_api(client: ResilientClient) -> None:
        for _ in range(2):
            await _mid_load(client, len(client.answers) + 30)
            deployment.kill_api()
            await asyncio.sleep(0.5)
            await deployment.start_api()

    client, cases = await _work_cases_while(deployment, kill_the_api)
    _assert_outages_answered_cleanly(client)
    await _assert_one_story(deployment, cases)
    conn = await connect(deployment.database_url)
    try:
        ids = [c["case_id"] for c in cases]
        # Every task a person completed has the audit row of its completion.
        unaudited = await conn.fetch(
            """SELECT t.task_id FROM tasks t
               WHERE t.case_id = ANY($1) AND t.status = 'completed' AND t.completed_by <> 'itinera'
                 AND NOT EXISTS (SELECT 1 FROM audit_log a
                                 WHERE a.case_id = t.case_id AND a.outcome = 'allowed'
                                   AND a.action = 'POST /api/v1/tasks/{task_id}/complete'
                                   AND a.actor_id = t.completed_by)""", ids)
        assert not unaudited, [r["task_id"] for r in unaudited]
        referred = await conn.fetchval(
            "SELECT count(DISTINCT case_id) FROM audit_log WHERE case_id = ANY($1) AND action = 'POST /api/v1/cases' "
            "AND outcome = 'allowed'", ids)
        assert referred == len(ids)
    finally:
        await conn.close()


async def test_two_workers_share_the_queue_and_one_is_killed(deployment: ProcessStack) -> None:
    deployment.start_worker()

    async def kill_one_worker(client: ResilientClient) -> None:
        await _mid_load(client)
        deployment.kill_worker(0)

    client, cases = await _work_cases_while(deployment, kill_one_worker)
    _assert_outages_answered_cleanly(client)
    await _assert_one_story(deployment, cases)


async def test_async_referrals_accepted_then_the_worker_killed_are_each_recorded_once(deployment: ProcessStack) -> None:
    """``Prefer: respond-async``: a 202 means the referral is in the case's history, so a worker
    killed right after the answers (some recordings not yet run, some mid-write) loses none of
    them and records none twice; the next worker finishes them."""
    client = ResilientClient(deployment.base_url)
    bodies = [referral(size=1 + i % 3, office="IST") for i in range(12)]
    answers = await asyncio.gather(*(client.send("POST", "/api/v1/cases", user="ayse", json=body,
                                                 headers={"Prefer": "respond-async"}) for body in bodies))
    deployment.kill_worker()
    assert [a.status_code for a in answers] == [202] * len(bodies), [a.text for a in answers if a.status_code != 202]
    case_ids = [a.json()["case_id"] for a in answers]
    deployment.start_worker()

    async def all_recorded() -> bool:
        found = [(await client.send("GET", f"/api/v1/cases/{case_id}", user="ayse")).status_code for case_id in case_ids]
        return found == [200] * len(case_ids)

    await eventually(all_recorded, timeout=90, what="every accepted referral in the read model", interval=0.5)
    conn, _ = await _engine(deployment)
    try:
        referred = await conn.fetch("SELECT case_id, count(*) AS n FROM case_events WHERE case_id = ANY($1::text[]) "
                                    "AND event_type = 'CaseReferred' GROUP BY case_id", case_ids)
    finally:
        await conn.close()
    assert sorted((r["case_id"], r["n"]) for r in referred) == sorted((c, 1) for c in case_ids)
    await _assert_one_story(deployment, [{"case_id": c} for c in case_ids])


async def test_a_worker_started_while_temporal_and_postgres_are_down_comes_up_when_they_return(
        deployment: ProcessStack) -> None:
    """A worker (re)started during an outage waits for its dependencies (each failure logged)
    instead of exiting on the first refused connection: once they are back it serves cases
    with nobody restarting it (ITINERA_WORKER_STARTUP_WAIT_SECONDS, default 120)."""
    while deployment.workers:
        deployment.kill_worker()
    deployment.temporal.stop()
    deployment.postgres.stop()
    worker = deployment.start_worker()
    await eventually(lambda: "waiting for a dependency" in deployment.log("worker"), timeout=60,
                     what="the worker to say it waits for Temporal")
    assert worker.poll() is None, deployment.log("worker")  # still there, waiting
    await deployment.temporal.start()
    await asyncio.sleep(2)  # Temporal back first: now it waits for PostgreSQL
    assert worker.poll() is None, deployment.log("worker")
    deployment.postgres.start()

    client = ResilientClient(deployment.base_url)
    case = await work_case_to_the_end(client, referral(size=1, office="IST"))
    assert case["status"] == "closed" and worker.poll() is None
    assert "PostgreSQL" in deployment.log("worker")
    await _assert_one_story(deployment, [case])
