"""Graceful shutdown (issue 10): SIGTERM to the worker and the API while commands are in flight,
and every one of them is answered — none lost, none a 500.

Real processes (``itinera worker``, ``itinera api``) against the session's PostgreSQL and
Temporal.  To have commands truly in flight when the signals arrive, with no timing guess,
the test holds a row lock on the cases: each completion's recording activity is then
running in the worker, waiting on PostgreSQL, while its HTTP request waits in the API.  The
test sees exactly that (the activities' database sessions blocked by its own), signals
both processes, checks that they wait (the API refuses new connections but keeps its
in-flight requests; the worker polls no more activities but keeps its running ones), and
releases the lock.  The stopping worker is the only worker: it answers the updates itself
(its workflow worker stops only after the activity worker has drained and the updates
handled there have been answered).
"""

from __future__ import annotations

import asyncio
import signal
import uuid

import httpx

from consistency import wait_until_consistent
from store.db import connect, create_pool
from temporal_client import connect_temporal
from tests.support.factories import referral
from tests.support.processes import Process, complete_first_task, itinera_env, token, wait_for_api
from tests.support.stack import free_port, stack_settings
from tests.support.waiting import eventually
from worker import build_worker

IN_FLIGHT = 4


async def _blocked_by(conn, pid: int) -> int:
    return await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", pid)


async def test_sigterm_to_worker_and_api_answers_every_update_in_flight(stack, tmp_path) -> None:
    queue, api_port = f"shutdown-{uuid.uuid4().hex[:8]}", free_port()
    # Commands wait for the engine longer than this test could take, and both processes give
    # their in-flight work a minute: nothing here may end by a time-out.
    env = itinera_env(stack, queue, api_port=str(api_port), command_timeout_seconds="120",
                      worker_shutdown_seconds="120", api_shutdown_seconds="120")
    base_url = f"http://127.0.0.1:{api_port}"
    worker, api = Process.start("worker", env, tmp_path), Process.start("api", env, tmp_path)
    try:
        await wait_for_api(base_url, api)
        await worker.wait_for_line("worker started")
        async with httpx.AsyncClient(base_url=base_url, timeout=180) as client:
            tokens = {"ayse": await token(client, "ayse")}
            cases = []
            for _ in range(IN_FLIGHT):
                r = await client.post("/api/v1/cases", json=referral(size=1),
                                      headers={"Authorization": f"Bearer {tokens['ayse']}"})
                assert r.status_code == 201, r.text
                cases.append(r.json())
            ids = [c["case_id"] for c in cases]

            lock = await connect(stack.database_url)
            watch = await connect(stack.database_url)
            try:
                hold = lock.transaction()
                await hold.start()
                await lock.execute("SELECT 1 FROM cases WHERE case_id = ANY($1::text[]) FOR UPDATE", ids)
                pid = await lock.fetchval("SELECT pg_backend_pid()")
                completions = [asyncio.create_task(complete_first_task(client, case, tokens)) for case in cases]

                async def all_waiting() -> bool:  # every recording is running, and waits on the lock
                    assert not any(c.done() for c in completions), [c.result().text for c in completions if c.done()]
                    return await _blocked_by(watch, pid) >= IN_FLIGHT

                await eventually(all_waiting, timeout=90, what=f"{IN_FLIGHT} recordings to wait on the lock",
                                 interval=0.1)

                worker.popen.send_signal(signal.SIGTERM)
                api.popen.send_signal(signal.SIGTERM)
                await worker.wait_for_line("worker stopping: no new tasks, in-flight work finishing")
                await api.wait_for_line("Waiting for connections to close. (CTRL+C to force quit)")
                # The API accepts no new connection; both processes wait for their work in flight.
                async with httpx.AsyncClient(base_url=base_url, timeout=5) as newcomer:
                    try:
                        await newcomer.get("/livez")
                    except httpx.ConnectError:
                        pass
                    else:
                        raise AssertionError("the API accepted a connection after SIGTERM")
                assert worker.alive() and api.alive()
                assert await _blocked_by(watch, pid) == IN_FLIGHT and not any(c.done() for c in completions)

                # The database lets the recordings through.
                await hold.rollback()
            finally:
                await lock.close()
                await watch.close()

            answers = await asyncio.gather(*completions)
        assert [a.status_code for a in answers] == [200] * IN_FLIGHT, [a.text for a in answers]
        assert all(a.json()["version"] > c["version"] for a, c in zip(answers, cases))

        # Both exit on their own once their work is done (uvicorn re-raises the SIGTERM it
        # deferred, hence -SIGTERM for the API).
        assert worker.popen.wait(60) == 0
        assert api.popen.wait(60) in (0, -signal.SIGTERM)
        lines = worker.lines()
        [stopping] = [x for x in lines if x["event"] == "worker stopping: no new tasks, in-flight work finishing"]
        assert stopping["updates_in_flight"] == IN_FLIGHT
        [answered] = [x for x in lines if x["event"] == "updates in flight at shutdown answered"]
        assert answered["updates"] == IN_FLIGHT
        events = [x["event"] for x in lines]
        assert events.index(stopping["event"]) < events.index(answered["event"]) < events.index("worker stopped")
        recorded = [x for x in lines if x["event"] == "case events recorded"]
        assert {x["case_id"] for x in recorded if "ReferralVerified" in x["event_types"]} == set(ids)

        # A worker again (the workflows answer the checker's queries): the workflows, the
        # event store and the read model tell one story.
        conn, pool = await connect(stack.database_url), await create_pool(stack.settings.database_url)
        try:
            temporal = await connect_temporal(stack_settings(temporal_address=stack.settings.temporal_address,
                                                             temporal_task_queue=queue))
            async with build_worker(temporal, pool, queue):
                report = await wait_until_consistent(conn, temporal, ids, timeout=60)
            assert report.clean, "\n".join(str(d) for d in report.differences)
        finally:
            await conn.close()
            await pool.close()
    finally:
        api.kill()
        worker.kill()
