"""A command sent again after an outage gets the first one's outcome (explore3, findings 1-3),
on a deployment of real processes (tests/support/fault_stack.py).

* A completion answered 503 because the worker was stopped is applied once the worker runs
  again; the same completion sent again (with or without an Idempotency-Key) answers 200 with
  the case, not 409 task_not_open.  Another form, or another person, still gets 409 naming who
  completed the task.
* While commands wait on a stopped worker, they hold no database connection: reads answer
  and /readyz says PostgreSQL is up.
* A PostgreSQL backend killed with SIGKILL (PostgreSQL then restarts every backend) while
  completions are in flight: every answer is 200 or 503 with Retry-After, never 500, and each
  completion sent again answers 200.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from tests.support.factories import referral
from tests.support.fault_stack import ProcessStack, ResilientClient, started_process_stack
from tests.support.forms import example_form
from tests.support.users import TEST_PASSWORD
from tests.support.waiting import eventually

TODAY = datetime.now(UTC).date()


deployment = pytest.fixture(scope="module")(started_process_stack)  # real processes, one stack per module


@contextmanager
def worker_stopped(stack: ProcessStack) -> Iterator[None]:
    """The worker frozen (SIGSTOP): Temporal accepts Updates, nobody applies them."""
    pid = stack.workers[0].pid
    os.killpg(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(pid, signal.SIGCONT)


async def _token(client: httpx.AsyncClient, user: str) -> str:
    r = await client.post("/api/v1/auth/token", data={"username": user, "password": TEST_PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


async def _open_cases(stack: ProcessStack, count: int) -> list[dict[str, Any]]:
    """``count`` new IST cases, each with its first task (verify_referral) open."""
    client = ResilientClient(stack.base_url)
    cases = await asyncio.gather(*(client.send("POST", "/api/v1/cases", user="ayse", json=referral(size=1))
                                   for _ in range(count)))
    assert all(c.status_code == 201 for c in cases), [c.text for c in cases]
    return [c.json() for c in cases]


def _first_task(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    task = case["open_tasks"][0]
    assert task["task_type"] == "verify_referral", task
    return task, example_form(task, TODAY, case=case)


def _is_clean_outage(response: httpx.Response) -> bool:
    return (response.status_code == 503 and bool(response.headers.get("retry-after"))
            and "error" in response.json())


async def _case_events(stack: ProcessStack, case_id: str, token: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        r = await client.get(f"/api/v1/cases/{case_id}/events", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_completion_sent_again_after_a_503_gets_its_first_outcome(deployment: ProcessStack) -> None:
    keyed, unkeyed = await _open_cases(deployment, 2)
    keyed_task, keyed_form = _first_task(keyed)
    bare_task, bare_form = _first_task(unkeyed)
    key = f"retry-{uuid.uuid4()}"
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=60) as client:
        ayse = {"Authorization": f"Bearer {await _token(client, 'ayse')}"}
        fatma = {"Authorization": f"Bearer {await _token(client, 'fatma')}"}

        async def complete(task: dict[str, Any], form: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
            return await client.post(f"/api/v1/tasks/{task['task_id']}/complete", headers=headers, json={"form": form})

        with worker_stopped(deployment):
            first = await asyncio.gather(complete(keyed_task, keyed_form, {**ayse, "Idempotency-Key": key}),
                                         complete(bare_task, bare_form, ayse))
        assert all(_is_clean_outage(r) for r in first), [(r.status_code, r.text) for r in first]

        # The worker runs again and applies the Updates Temporal accepted; the same requests again:
        again = await complete(keyed_task, keyed_form, {**ayse, "Idempotency-Key": key})
        assert again.status_code == 200, again.text
        assert keyed_task["task_id"] not in {t["task_id"] for t in again.json()["open_tasks"]}
        replayed = await complete(keyed_task, keyed_form, {**ayse, "Idempotency-Key": key})
        assert (replayed.status_code, replayed.headers.get("idempotent-replayed")) == (200, "true"), replayed.text
        bare_again = await complete(bare_task, bare_form, ayse)
        assert bare_again.status_code == 200, bare_again.text
        assert bare_again.json()["case_id"] == unkeyed["case_id"]

        # Not the same completion: another form from the same caseworker, or another person.
        other_form = {**bare_form, "notes": "A different note: another completion."}
        for response in (await complete(bare_task, other_form, ayse), await complete(bare_task, bare_form, fatma)):
            assert response.status_code == 409, response.text
            error = response.json()["error"]
            assert error["code"] == "task_not_open" and "by ayse" in error["message"], error

    for case in (keyed, unkeyed):  # each applied once
        events = await _case_events(deployment, case["case_id"], ayse["Authorization"].split()[1])
        assert [e["type"] for e in events].count("ReferralVerified") == 1, [e["type"] for e in events]


async def test_reads_and_readiness_answer_while_commands_wait_on_a_stopped_worker(deployment: ProcessStack) -> None:
    cases = await _open_cases(deployment, 14)  # more than the API's pool of 10 connections
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=60) as client:
        ayse = {"Authorization": f"Bearer {await _token(client, 'ayse')}"}

        async def complete(case: dict[str, Any]) -> httpx.Response:
            task, form = _first_task(case)
            return await client.post(f"/api/v1/tasks/{task['task_id']}/complete", headers=ayse, json={"form": form})

        with worker_stopped(deployment):
            waiting = [asyncio.create_task(complete(c)) for c in cases]
            await asyncio.sleep(1.5)  # let every completion reach its wait on the workflow
            # Bounded waits, well inside the commands' 8 s time-out: these answer while they wait.
            async with httpx.AsyncClient(base_url=deployment.base_url, timeout=5) as reader:
                ready = await reader.get("/readyz")
                listed = await reader.get("/api/v1/cases?limit=5", headers=ayse)
            still_waiting = sum(not w.done() for w in waiting)
        answers = await asyncio.gather(*waiting)
    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "temporal": True, "database": True,
                                                       "down": []}), ready.text
    assert listed.status_code == 200, listed.text
    assert still_waiting == len(cases), "the reads were answered only after the commands"
    assert all(r.status_code == 200 or _is_clean_outage(r) for r in answers), [r.text for r in answers]
    retry = ResilientClient(deployment.base_url)
    for case, answer in zip(cases, answers, strict=True):
        if answer.status_code != 200:
            task, form = _first_task(case)
            again = await retry.send("POST", f"/api/v1/tasks/{task['task_id']}/complete", user="ayse",
                                     json={"form": form})
            assert again.status_code == 200, again.text


def _charter(number: int) -> dict[str, Any]:
    departs = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    return {"kind": "charter", "flight_number": f"XC{4400 + number}", "carrier": "Corendon",
            "departure_airport": "IST", "arrival_airport": "OSL", "departure_at": departs.isoformat(),
            "departure_time_zone": "Europe/Istanbul", "seat_capacity": 40,
            "escorts": [{"name": "Elif Arslan", "kind": "operational"}], "office": "IST"}


async def test_movement_commands_waiting_on_a_stopped_worker_hold_no_connection(deployment: ProcessStack) -> None:
    """More movements being created than the API has connections, their workflow's worker
    frozen: each request gives its connection back while it waits on Temporal, so reads and
    readiness still answer; afterwards every creation answered 201 or a clean 503."""
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=60) as client:
        emre = {"Authorization": f"Bearer {await _token(client, 'emre')}"}
        with worker_stopped(deployment):
            waiting = [asyncio.create_task(client.post("/api/v1/movements", headers=emre, json=_charter(n)))
                       for n in range(14)]
            await asyncio.sleep(1.5)  # let every creation reach its wait on the workflow
            async with httpx.AsyncClient(base_url=deployment.base_url, timeout=5) as reader:
                ready = await reader.get("/readyz")
                listed = await reader.get("/api/v1/movements?limit=5", headers=emre)
            still_waiting = sum(not w.done() for w in waiting)
        answers = await asyncio.gather(*waiting)
    assert ready.status_code == 200 and ready.json()["database"] is True, ready.text
    assert listed.status_code == 200, listed.text
    assert still_waiting == len(waiting), "the reads were answered only after the commands"
    assert all(r.status_code == 201 or _is_clean_outage(r) for r in answers), [r.text for r in answers]


async def _app_backends(stack: ProcessStack) -> list[int]:
    conn = await asyncpg.connect(stack.database_url)
    try:
        return [r["pid"] for r in await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND usename = 'itinera_app' "
            "AND pid <> pg_backend_pid()")]
    finally:
        await conn.close()


async def test_a_postgres_backend_crash_answers_503_and_the_retry_the_first_outcome(deployment: ProcessStack) -> None:
    cases = await _open_cases(deployment, 8)
    keys = {c["case_id"]: f"crash-{uuid.uuid4()}" for c in cases}
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=60) as client:
        ayse = {"Authorization": f"Bearer {await _token(client, 'ayse')}"}

        async def complete(case: dict[str, Any]) -> httpx.Response:
            task, form = _first_task(case)
            return await client.post(f"/api/v1/tasks/{task['task_id']}/complete", json={"form": form},
                                     headers={**ayse, "Idempotency-Key": keys[case["case_id"]]})

        with worker_stopped(deployment):
            waiting = [asyncio.create_task(complete(c)) for c in cases]
            await asyncio.sleep(1.0)
            backends = await _app_backends(deployment)
            assert backends, "no backend of the application role to kill"
            os.kill(backends[0], signal.SIGKILL)  # PostgreSQL restarts every backend (crash recovery)
        answers = await asyncio.gather(*waiting)
    assert all(r.status_code == 200 or _is_clean_outage(r) for r in answers), \
        [(r.status_code, r.text) for r in answers]
    retry = ResilientClient(deployment.base_url)
    for case in cases:
        task, form = _first_task(case)
        again = await retry.send("POST", f"/api/v1/tasks/{task['task_id']}/complete", user="ayse",
                                 json={"form": form}, headers={"Idempotency-Key": keys[case["case_id"]]})
        assert again.status_code == 200, again.text
        assert task["task_id"] not in {t["task_id"] for t in again.json()["open_tasks"]}
    assert not retry.server_errors(), retry.server_errors()


async def test_a_withdrawal_sent_again_after_a_503_gets_its_first_outcome(deployment: ProcessStack) -> None:
    """The command closes the case, so its workflow has finished when the same request comes
    again: Temporal still answers an Update id it completed."""
    (case,) = await _open_cases(deployment, 1)
    key = f"withdraw-{uuid.uuid4()}"
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=60) as client:
        fatma = {"Authorization": f"Bearer {await _token(client, 'fatma')}", "Idempotency-Key": key}
        path = f"/api/v1/cases/{case['case_id']}/withdraw"
        with worker_stopped(deployment):
            first = await client.post(path, headers=fatma, json={"reason": "The family withdrew."})
        assert _is_clean_outage(first), first.text
        temporal = await Client.connect(deployment.temporal.address)
        handle = temporal.get_workflow_handle(case["case_id"])

        async def finished() -> bool:
            return (await handle.describe()).status != WorkflowExecutionStatus.RUNNING

        await eventually(finished, timeout=60, what="the withdrawn case's workflow to finish")
        again = await client.post(path, headers=fatma, json={"reason": "The family withdrew."})
        assert again.status_code == 200, again.text
        assert again.json()["status"] == "closed"


async def test_with_temporal_stopped_reads_answer_and_readiness_names_only_temporal(deployment: ProcessStack) -> None:
    """Completions waiting on a stopped Temporal hold no database connection: /readyz says the
    engine is down and PostgreSQL is not, the case list answers, and once Temporal is back
    each completion sent again answers 200."""
    cases = await _open_cases(deployment, 14)
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=60) as client:
        ayse = {"Authorization": f"Bearer {await _token(client, 'ayse')}"}

        async def complete(case: dict[str, Any]) -> httpx.Response:
            task, form = _first_task(case)
            return await client.post(f"/api/v1/tasks/{task['task_id']}/complete", headers=ayse, json={"form": form})

        deployment.temporal.stop()
        try:
            waiting = [asyncio.create_task(complete(c)) for c in cases]
            await asyncio.sleep(1.5)
            async with httpx.AsyncClient(base_url=deployment.base_url, timeout=5) as reader:
                ready = await reader.get("/readyz")
                listed = await reader.get("/api/v1/cases?limit=5", headers=ayse)
            answers = await asyncio.gather(*waiting)
        finally:
            await deployment.temporal.start()
    assert ready.status_code == 503 and ready.json()["down"] == ["temporal"], ready.text
    assert ready.json()["database"] is True
    assert listed.status_code == 200, listed.text
    assert all(_is_clean_outage(r) for r in answers), [(r.status_code, r.text) for r in answers]
    retry = ResilientClient(deployment.base_url)
    for case in cases:
        task, form = _first_task(case)
        again = await retry.send("POST", f"/api/v1/tasks/{task['task_id']}/complete", user="ayse",
                                 json={"form": form})
        assert again.status_code == 200, again.text
    assert not retry.server_errors(), retry.server_errors()
