"""Operations (issue 10): JSON logs with request, case and workflow ids; Prometheus metrics of the
API and the worker; OpenTelemetry spans API -> Temporal -> activities in one trace.

The log and metrics tests run ``itinera worker`` and ``itinera api`` as their own processes,
as an operator starts them, against the session's PostgreSQL and Temporal (on a task queue
of their own), and read what they print.  The tracing test serves the app in-process with
an in-memory span exporter.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from store.db import create_pool
from temporal_client import connect_temporal
from tests.support.factories import referral
from tests.support.processes import Process, complete_first_task, itinera_env, token, wait_for_api
from tests.support.stack import TEST_PAYLOAD_KEYS, free_port, serving, stack_settings
from tests.support.users import TEST_PASSWORD
from worker import build_worker


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
        for secret in (TEST_PASSWORD, *tokens.values(), "Haddad", "1987-05-12", TEST_PAYLOAD_KEYS[10:40]):
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
    exporter = memory_exporter()
    assert exporter is not None
    trace_id, parent_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    try:
        async with build_worker(client, pool, settings.temporal_task_queue), \
                serving(create_app(settings), settings.api_port), \
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.api_port}", timeout=60) as http:
            tokens = {"ayse": await token(http, "ayse")}
            refer = await http.post("/api/v1/cases", json=referral(size=1),
                                    headers={"Authorization": f"Bearer {tokens['ayse']}"})
            assert refer.status_code == 201, refer.text
            done = await complete_first_task(http, refer.json(), tokens, traceparent=f"00-{trace_id}-{parent_id}-01")
            assert done.status_code == 200, done.text
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
