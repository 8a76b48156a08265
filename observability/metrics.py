"""Prometheus metrics of the API and the worker (prometheus-client, the process's default registry).

API (``GET /metrics`` on the API's port when ``ITINERA_API_METRICS_ENABLED``):

* ``itinera_http_request_duration_seconds{method, route, status}``  a histogram per route
  *template* (``/api/v1/tasks/{task_id}/complete``), never the raw path; requests no route
  matched count as ``route="<unmatched>"``;
* ``itinera_http_requests_in_flight``  requests being answered right now;
* ``itinera_open_tasks{office, role, overdue}``  inbox depth: open tasks, read from the read
  model when scraped (every API process reports the same numbers: take ``max``, not ``sum``).

Worker (``ITINERA_WORKER_METRICS_ADDRESS``, its own HTTP server):

* ``itinera_task_completions_total{event_type}``  tasks completed (a task-completing event
  committed to the event store), by event type, e.g. ``InterviewCompleted``;
* ``itinera_case_events_recorded_total``  events committed to the event store;
* ``itinera_recordings_total{outcome}``  ``record_case_events`` attempts that ``succeeded``
  or ``failed`` (a failed attempt is retried by Temporal unless the error is final);
* ``itinera_recording_retries_total``  attempts of ``record_case_events`` after the first
  (PostgreSQL down, a deadlock, a worker killed mid-write);
* ``itinera_projection_lag_seconds``  projection lag: from the moment the workflow decided a
  command's events (workflow time) to their commit in the event store and the read model,
  observed by the recording activity.  The read model is written before a command answers,
  so this is also the share of a command's latency spent getting its events stored.

The Temporal SDK's own metrics (``temporal_*``: task slots, poll and schedule-to-start
latencies, workflow task failures, ...) are served by the SDK's runtime on
``ITINERA_TEMPORAL_METRICS_ADDRESS`` (see ``observability.temporal``).

Labels are bounded (methods, route templates, statuses, offices, roles, event types): no
case id, no user.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest, start_http_server

HTTP_REQUEST_DURATION = Histogram(
    "itinera_http_request_duration_seconds", "Time to answer an HTTP request, by route template and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
HTTP_REQUESTS_IN_FLIGHT = Gauge("itinera_http_requests_in_flight", "HTTP requests being answered.")
OPEN_TASKS = Gauge("itinera_open_tasks", "Open tasks (inbox depth) by office, role and whether overdue.",
                   ["office", "role", "overdue"])

TASK_COMPLETIONS = Counter("itinera_task_completions", "Tasks completed (committed to the event store).",
                           ["event_type"])
CASE_EVENTS_RECORDED = Counter("itinera_case_events_recorded", "Case events committed to the event store.")
RECORDINGS = Counter("itinera_recordings", "Attempts of record_case_events, by outcome.", ["outcome"])
RECORDING_RETRIES = Counter("itinera_recording_retries", "Attempts of record_case_events after the first.")
PROJECTION_LAG = Histogram(
    "itinera_projection_lag_seconds", "From a command's decision in the workflow to its events' commit.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"

_OPEN_TASKS_QUERY = """
SELECT office, role, due_at < now() AS overdue, count(*) AS n
FROM tasks WHERE status = 'open' GROUP BY 1, 2, 3
"""


def observe_recording(batch: Any, new_events: Any) -> None:
    """After ``record_case_events`` committed ``batch`` (``new_events`` of its events were new)."""
    from domain.events import TaskCompletion

    RECORDINGS.labels("succeeded").inc()
    events = getattr(batch, "events", None) or []
    if not isinstance(new_events, int) or new_events <= 0 or not events:
        return  # a retry of an attempt that had committed: counted then
    CASE_EVENTS_RECORDED.inc(new_events)
    for recorded in events:
        if isinstance(recorded.event, TaskCompletion):
            TASK_COMPLETIONS.labels(recorded.event.type).inc()
    decided = min(e.occurred_at for e in events)
    if decided.tzinfo is None:
        decided = decided.replace(tzinfo=UTC)
    PROJECTION_LAG.observe(max(0.0, (datetime.now(UTC) - decided).total_seconds()))


async def refresh_open_tasks(pool: Any, timeout: float = 2.0) -> None:
    """Inbox depth from the read model (at scrape time: one grouped count of open tasks)."""
    async with pool.acquire() as conn:
        rows = await asyncio.wait_for(conn.fetch(_OPEN_TASKS_QUERY), timeout)
    OPEN_TASKS.clear()
    for row in rows:
        OPEN_TASKS.labels(row["office"], row["role"], "true" if row["overdue"] else "false").set(row["n"])


def exposition() -> tuple[bytes, str]:
    """The registry in Prometheus' text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def parse_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[::]:9464`` for IPv6) -> (host, port)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected host:port, got {address!r}")
    return host.strip("[]"), int(port)


def serve_metrics(address: str) -> Callable[[], None]:
    """Serve ``/metrics`` on ``address`` (a thread of prometheus-client); returns how to stop it."""
    host, port = parse_address(address)
    server, thread = start_http_server(port, addr=host)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop
