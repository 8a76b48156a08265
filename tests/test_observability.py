"""Operations (issue 10): JSON logs with request, case and workflow ids; Prometheus metrics of the
API and the worker; OpenTelemetry spans API -> Temporal -> activities in one trace.

The log and metrics tests run ``itinera worker`` and ``itinera api`` as their own processes,
as an operator starts them, against the session's PostgreSQL and Temporal (on a task queue
of their own), and read what they print.  The tracing test serves the app in-process with
an in-memory span exporter.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from demo.driver import _WORKER_BY_ROLE_AND_OFFICE, example_form
from demo.users import DEMO_PASSWORD
from store.db import create_pool
from temporal_client import connect_temporal
from tests.conftest import TEST_PAYLOAD_KEYS, free_port, stack_settings
from tests.factories import referral
from worker import build_worker

PROJECT = Path(__file__).resolve().parent.parent


# --- processes as an operator starts them ----------------------------------------------------------


def itinera_env(stack, task_queue: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ITINERA_", "OTEL_"))}
    return env | {
        "ITINERA_DATABASE_URL": stack.settings.database_url,
        "ITINERA_TEMPORAL_ADDRESS": stack.settings.temporal_address,
        "ITINERA_TEMPORAL_TASK_QUEUE": task_queue,
        "ITINERA_DATA_DIR": str(stack.data_dir),
        "ITINERA_JWT_SIGNING_KEY": stack.settings.jwt_signing_key.get_secret_value(),
        "ITINERA_PAYLOAD_KEYS": TEST_PAYLOAD_KEYS,
        "ITINERA_PAYLOAD_ACTIVE_KEY": "test-2",
        "ITINERA_LOG_LEVEL": "INFO",
    } | {f"ITINERA_{k.upper()}": v for k, v in settings.items()}


@dataclass
class Process:
    """``itinera <command>`` with its standard output and standard error in files of their own."""

    command: str
    popen: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    @classmethod
    def start(cls, command: str, env: dict[str, str], folder: Path) -> Process:
        stdout, stderr = folder / f"{command}-{uuid.uuid4().hex[:6]}.out", folder / f"{command}-{uuid.uuid4().hex[:6]}.err"
        with open(stdout, "wb") as out, open(stderr, "wb") as err:
            popen = subprocess.Popen([sys.executable, "-m", "itinera_cli", command], env=env, cwd=PROJECT,
                                     stdout=out, stderr=err, start_new_session=True)
        return cls(command, popen, stdout, stderr)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM, and wait for the process to exit; its exit code."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
            raise AssertionError(f"itinera {self.command} did not stop within {timeout} s of SIGTERM") from None

    def kill(self) -> None:
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def text(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")

    def lines(self) -> list[dict[str, Any]]:
        """Every line it printed on standard output, each parsed as JSON (fails on any other line)."""
        lines = []
        for number, line in enumerate(self.stdout.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                lines.append(json.loads(line))
            except ValueError:
                raise AssertionError(f"itinera {self.command}, line {number} is not JSON: {line[:300]}") from None
        return lines

    async def wait_for_line(self, event: str, timeout: float = 60) -> dict[str, Any]:
        for _ in range(int(timeout * 10)):
            found = [line for line in self.lines() if line.get("event") == event]
            if found:
                return found[0]
            assert self.alive(), f"itinera {self.command} exited: {self.text()[-2000:]}"
            await asyncio.sleep(0.1)
        raise AssertionError(f"itinera {self.command} did not log {event!r} within {timeout} s")


async def wait_for_api(base_url: str, process: Process, timeout: float = 60) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        for _ in range(int(timeout * 10)):
            assert process.alive(), f"itinera api exited: {process.text()[-2000:]}"
            try:
                if (await client.get("/livez")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"itinera api did not answer within {timeout} s")


async def token(client: httpx.AsyncClient, username: str) -> str:
    r = await client.post("/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


async def complete_first_task(client: httpx.AsyncClient, case: dict[str, Any], tokens: dict[str, str],
                              **headers: str) -> httpx.Response:
    task = case["open_tasks"][0]
    user = _WORKER_BY_ROLE_AND_OFFICE[(task["role"], case["office"])]
    if user not in tokens:
        tokens[user] = await token(client, user)
    form = example_form(task, datetime.now(UTC).date(), case=case)
    return await client.post(f"/api/v1/tasks/{task['task_id']}/complete", json={"form": form},
                             headers={"Authorization": f"Bearer {tokens[user]}", **headers})


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Prometheus text -> {(sample name, labels): value}."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(metrics: dict, name: str, **labels: str) -> float:
    return metrics.get((name, frozenset(labels.items())), 0.0)


# --- logs and metrics from real processes -------------------------------------------------------


@dataclass
class Deployment:
    api: Process
    worker: Process
    base_url: str
    worker_metrics: str
    temporal_metrics: str


@pytest.fixture(scope="module")
async def deployment(stack, tmp_path_factory) -> AsyncIterator[Deployment]:
    folder = tmp_path_factory.mktemp("observability")
    api_port, worker_metrics, temporal_metrics = free_port(), free_port(), free_port()
    env = itinera_env(stack, f"obs-{uuid.uuid4().hex[:8]}", api_port=str(api_port), api_metrics_enabled="true",
                      worker_metrics_address=f"127.0.0.1:{worker_metrics}",
                      temporal_metrics_address=f"127.0.0.1:{temporal_metrics}")
    worker = Process.start("worker", env, folder)
    api = Process.start("api", env, folder)
    try:
        await wait_for_api(f"http://127.0.0.1:{api_port}", api)
        await worker.wait_for_line("worker started")
        yield Deployment(api, worker, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{worker_metrics}/metrics",
                         f"http://127.0.0.1:{temporal_metrics}/metrics")
    finally:
        api.kill()
        worker.kill()


async def test_json_logs_metrics_and_request_ids_from_the_api_and_the_worker(stack, deployment: Deployment) -> None:
    d = deployment
    referral_id, completion_id = f"obs-ref-{uuid.uuid4().hex[:8]}", f"obs-done-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=d.base_url, timeout=60) as client:
        tokens = {"ayse": await token(client, "ayse")}
        api_before = samples((await client.get("/metrics")).text)
        worker_before = samples((await client.get(d.worker_metrics)).text)

        refer = await client.post("/api/v1/cases", json=referral(size=1),
                                  headers={"Authorization": f"Bearer {tokens['ayse']}", "X-Request-ID": referral_id})
        assert refer.status_code == 201, refer.text
        assert refer.headers["x-request-id"] == referral_id
        case = refer.json()
        done = await complete_first_task(client, case, tokens, **{"X-Request-ID": completion_id})
        assert done.status_code == 200, done.text
        assert done.headers["x-request-id"] == completion_id
        # A request id that is not a sane id is replaced by a fresh one.
        odd = await client.get("/livez", headers={"X-Request-ID": "not an id; <script>" + "x" * 200})
        assert odd.headers["x-request-id"] != "" and " " not in odd.headers["x-request-id"]
        assert len(odd.headers["x-request-id"]) == 32
        fresh = await client.get("/livez")
        assert len(fresh.headers["x-request-id"]) == 32 and fresh.headers["x-request-id"] != odd.headers["x-request-id"]

        # The counters moved: the API's request latency by route template and status, the
        # worker's completions, recordings and projection lag; inbox depth from the read model.
        api_after = samples((await client.get("/metrics")).text)
        route = {"method": "POST", "route": "/api/v1/tasks/{task_id}/complete", "status": "200"}
        count = "itinera_http_request_duration_seconds_count"
        assert value(api_after, count, **route) == value(api_before, count, **route) + 1
        refer_route = {"method": "POST", "route": "/api/v1/cases", "status": "201"}
        assert value(api_after, count, **refer_route) == value(api_before, count, **refer_route) + 1
        assert not any(name == count and dict(labels).get("route", "").count("C-") for name, labels in api_after)
        assert any(name == "itinera_open_tasks" and dict(labels)["office"] == "IST" and v >= 1
                   for (name, labels), v in api_after.items())

        worker_after = samples((await client.get(d.worker_metrics)).text)
        completions = "itinera_task_completions_total"
        assert (value(worker_after, completions, event_type="ReferralVerified")
                == value(worker_before, completions, event_type="ReferralVerified") + 1)
        lag = "itinera_projection_lag_seconds_count"
        assert value(worker_after, lag) == value(worker_before, lag) + 2  # the referral and the completion
        ok = "itinera_recordings_total"
        assert value(worker_after, ok, outcome="succeeded") == value(worker_before, ok, outcome="succeeded") + 2
        assert ("itinera_recording_retries_total", frozenset()) in worker_after

        # The Temporal SDK's own metrics, from the worker's runtime.
        sdk = (await client.get(d.temporal_metrics)).text
        assert "temporal_" in sdk and "itinera-cases" not in sdk

    # /metrics is not an API route: not audited.
    async with stack.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action LIKE '%/metrics%'") == 0

    # Both stop on SIGTERM (uvicorn re-raises the signal once it has shut down gracefully).
    assert d.api.terminate() in (0, -signal.SIGTERM) and d.worker.terminate() == 0

    api_lines, worker_lines = d.api.lines(), d.worker.lines()
    for line in api_lines + worker_lines:
        assert {"timestamp", "level", "event", "logger", "service"} <= line.keys(), line
    # The API: a line per request, with its request id and the case it was about.
    [referred] = [x for x in api_lines if x.get("request_id") == referral_id and x["event"] == "http request"]
    assert referred["route"] == "/api/v1/cases" and referred["status"] == 201
    assert referred["case_id"] == referred["workflow_id"] == case["case_id"]
    [completed] = [x for x in api_lines if x.get("request_id") == completion_id and x["event"] == "http request"]
    assert completed["route"] == "/api/v1/tasks/{task_id}/complete" and completed["case_id"] == case["case_id"]
    # uvicorn's own lines, through the same JSON formatting.
    assert any(x["logger"].startswith("uvicorn") for x in api_lines)
    assert {x["service"] for x in api_lines} == {"api"}

    # The worker: the request id travelled API -> Temporal header -> update handler -> activity.
    recorded = [x for x in worker_lines if x["event"] == "case events recorded"]
    by_request = {x.get("request_id"): x for x in recorded}
    assert by_request[completion_id]["case_id"] == by_request[completion_id]["workflow_id"] == case["case_id"]
    assert by_request[completion_id]["event_types"][0] == "ReferralVerified"
    assert by_request[referral_id]["case_id"] == case["case_id"]
    # The Temporal SDK's lines too (its graceful shutdown), as JSON.
    assert any(x["logger"].startswith("temporalio") for x in worker_lines)
    assert {x["service"] for x in worker_lines} == {"worker"}

    # Never personal data or secrets, on either stream.
    for process in (d.api, d.worker):
        text = process.text()
        for secret in (DEMO_PASSWORD, *tokens.values(), "Haddad", "1987-05-12", TEST_PAYLOAD_KEYS[10:40]):
            assert secret not in text, f"{secret[:12]}... in the {process.command}'s output"
        assert process.stderr.read_text().strip() == "", process.stderr.read_text()[-2000:]


async def test_metrics_are_off_unless_enabled(http: httpx.AsyncClient) -> None:
    r = await http.get("/metrics")
    assert r.status_code == 404
    assert len(r.headers["x-request-id"]) == 32  # every answer names its request
    assert (await http.get("/livez", headers={"X-Request-ID": "lb-7f3a:42"})).headers["x-request-id"] == "lb-7f3a:42"


# --- tracing -----------------------------------------------------------------------------------


async def test_one_trace_from_the_http_request_to_the_recording_activity(stack) -> None:
    from observability.tracing import memory_exporter

    settings = stack_settings(data_dir=stack.data_dir, database_url=stack.settings.database_url,
                              temporal_address=stack.settings.temporal_address, api_port=free_port(),
                              temporal_task_queue=f"otel-{uuid.uuid4().hex[:8]}", otel_enabled=True,
                              otel_exporter="memory")
    pool = await create_pool(settings.database_url)
    client = await connect_temporal(settings)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=settings.api_port,
                                           log_level="warning", access_log=False))
    exporter = memory_exporter()
    assert exporter is not None
    trace_id, parent_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    try:
        async with build_worker(client, pool, settings.temporal_task_queue):
            serving = asyncio.create_task(server.serve())
            while not server.started:
                await asyncio.sleep(0.05)
            try:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.api_port}", timeout=60) as http:
                    tokens = {"ayse": await token(http, "ayse")}
                    refer = await http.post("/api/v1/cases", json=referral(size=1),
                                            headers={"Authorization": f"Bearer {tokens['ayse']}"})
                    assert refer.status_code == 201, refer.text
                    done = await complete_first_task(http, refer.json(), tokens,
                                                     traceparent=f"00-{trace_id}-{parent_id}-01")
                    assert done.status_code == 200, done.text
            finally:
                server.should_exit = True
                await serving
    finally:
        await pool.close()

    spans = [s for s in exporter.get_finished_spans() if format(s.context.trace_id, "032x") == trace_id]
    by_name = {s.name: s for s in spans}
    request = by_name["POST /api/v1/tasks/{task_id}/complete"]
    assert format(request.parent.span_id, "016x") == parent_id  # continues the caller's trace
    assert request.attributes["http.response.status_code"] == 200
    update = by_name["StartWorkflowUpdate:complete_task"]
    assert update.parent.span_id == request.context.span_id
    handler = by_name["HandleUpdate:complete_task"]
    start_activity = by_name["StartActivity:record_case_events"]
    run_activity = by_name["RunActivity:record_case_events"]
    assert handler.parent.span_id == start_activity.parent.span_id == update.context.span_id
    assert run_activity.parent.span_id == start_activity.context.span_id
    # The referral's trace: the workflow started by update-with-start, its handler and activity.
    referral_trace = {s.name for s in exporter.get_finished_spans() if s.name.startswith("RunWorkflow:")
                      or s.name == "HandleUpdate:refer"}
    assert {"HandleUpdate:refer"} <= referral_trace and any(n.startswith("RunWorkflow:") for n in referral_trace)
