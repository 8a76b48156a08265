"""Temporal side of operations: the request id in headers, activity metrics, the SDK runtime.

``RequestIdInterceptor`` (a client and a worker interceptor, given to ``Client.connect`` so
every worker built on that client uses it too):

* client: the current request id (``observability.context``) goes into a Temporal header
  of every workflow start, update, update-with-start and signal;
* workflow: an update or signal handler runs with that request id, and every activity it
  starts carries it in its own header; the updates being handled in this process are
  known (``updates_in_flight``), so that a worker shutting down can answer them first;
* activity: runs with that request id and its case (the workflow id) in its log context;
  around ``record_case_events`` it counts attempts, retries, completions and the projection
  lag (``observability.metrics``) and logs one line per committed command.

The header holds an id only (no case data); headers are not encrypted by the payload codec,
and need not be.  Nothing here changes what a workflow decides or writes to history
(activity headers are not compared on replay).

``runtime`` is the SDK runtime of the process: the SDK core's (Rust) log lines are forwarded
to the ``temporalio.core`` logger, so they come out as JSON like every other line, and, when
an address is given, the SDK's own metrics are served for Prometheus.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import temporalio.activity
import temporalio.client
import temporalio.worker
import temporalio.workflow
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadConverter
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from domain.records import RECORD_CASE_EVENTS
from observability import metrics
from observability.context import REQUEST_ID_HEADER, case_id_var, request_id_var
from observability.logs import get_logger

log = get_logger("itinera.worker")
_converter = PayloadConverter.default


def _with_request_id(headers: Mapping[str, Payload]) -> Mapping[str, Payload]:
    request_id = request_id_var.get()
    if request_id is None or REQUEST_ID_HEADER in headers:
        return headers
    return {**headers, REQUEST_ID_HEADER: _converter.to_payloads([request_id])[0]}


def request_id_of(headers: Mapping[str, Payload]) -> str | None:
    payload = headers.get(REQUEST_ID_HEADER)
    if payload is None:
        return None
    try:
        value = _converter.from_payloads([payload])[0]
    except Exception:  # a header someone else wrote: not ours to fail on
        return None
    return value if isinstance(value, str) and len(value) <= 128 else None


# --- client ------------------------------------------------------------------------------------


class _ClientOutbound(temporalio.client.OutboundInterceptor):
    async def start_workflow(self, input: temporalio.client.StartWorkflowInput) -> Any:
        input.headers = _with_request_id(input.headers)
        return await super().start_workflow(input)

    async def start_workflow_update(self, input: temporalio.client.StartWorkflowUpdateInput) -> Any:
        input.headers = _with_request_id(input.headers)
        return await super().start_workflow_update(input)

    async def start_update_with_start_workflow(self, input: temporalio.client.StartWorkflowUpdateWithStartInput) -> Any:
        input.start_workflow_input.headers = _with_request_id(input.start_workflow_input.headers)
        input.update_workflow_input.headers = _with_request_id(input.update_workflow_input.headers)
        return await super().start_update_with_start_workflow(input)

    async def signal_workflow(self, input: temporalio.client.SignalWorkflowInput) -> None:
        input.headers = _with_request_id(input.headers)
        await super().signal_workflow(input)


# --- workflow (runs inside the workflow sandbox: context variables only, no I/O) --------------


def _reset(token: Any) -> None:
    try:
        request_id_var.reset(token)
    except ValueError:  # finalized in another context (an evicted workflow's coroutine)
        pass


# (workflow id, update id) of the update handlers running in this process: a worker that is
# shutting down answers these before it stops (``worker.run_worker``).  Bookkeeping beside
# the workflow, never read by it.
_updates_in_flight: set[tuple[str, str]] = set()


def updates_in_flight() -> frozenset[tuple[str, str]]:
    return frozenset(_updates_in_flight)


class _WorkflowInbound(temporalio.worker.WorkflowInboundInterceptor):
    def init(self, outbound: temporalio.worker.WorkflowOutboundInterceptor) -> None:
        super().init(_WorkflowOutbound(outbound))

    async def handle_update_handler(self, input: temporalio.worker.HandleUpdateInput) -> Any:
        # Each update handler runs in a task of its own: the request id stays with it.
        key = (temporalio.workflow.info().workflow_id, input.id)
        _updates_in_flight.add(key)
        token = request_id_var.set(request_id_of(input.headers))
        try:
            return await super().handle_update_handler(input)
        finally:
            _reset(token)
            _updates_in_flight.discard(key)

    async def handle_signal(self, input: temporalio.worker.HandleSignalInput) -> None:
        token = request_id_var.set(request_id_of(input.headers))
        try:
            await super().handle_signal(input)
        finally:
            _reset(token)


class _WorkflowOutbound(temporalio.worker.WorkflowOutboundInterceptor):
    def start_activity(self, input: temporalio.worker.StartActivityInput) -> Any:
        input.headers = _with_request_id(input.headers)
        return super().start_activity(input)

    def start_local_activity(self, input: temporalio.worker.StartLocalActivityInput) -> Any:
        input.headers = _with_request_id(input.headers)
        return super().start_local_activity(input)


# --- activity ----------------------------------------------------------------------------------


class _ActivityInbound(temporalio.worker.ActivityInboundInterceptor):
    async def execute_activity(self, input: temporalio.worker.ExecuteActivityInput) -> Any:
        info = temporalio.activity.info()
        tokens = (request_id_var.set(request_id_of(input.headers)), case_id_var.set(info.workflow_id))
        try:
            if info.activity_type != RECORD_CASE_EVENTS:
                return await super().execute_activity(input)
            return await self._record(input, info)
        finally:
            case_id_var.reset(tokens[1])
            request_id_var.reset(tokens[0])

    async def _record(self, input: temporalio.worker.ExecuteActivityInput, info: temporalio.activity.Info) -> Any:
        if info.attempt > 1:
            metrics.RECORDING_RETRIES.inc()
            log.warning("recording case events again", attempt=info.attempt)
        started = time.perf_counter()
        try:
            new_events = await super().execute_activity(input)
        except BaseException as exc:
            metrics.RECORDINGS.labels("failed").inc()
            log.warning("recording case events failed", attempt=info.attempt, error=type(exc).__name__)
            raise
        batch = input.args[0] if input.args else None
        metrics.observe_recording(batch, new_events)
        log.info("case events recorded", attempt=info.attempt, new_events=new_events,
                 event_types=[e.type for e in getattr(batch, "events", None) or []],
                 duration_ms=round((time.perf_counter() - started) * 1000, 1))
        return new_events


class RequestIdInterceptor(temporalio.client.Interceptor, temporalio.worker.Interceptor):
    """See the module docstring.  Give it to ``Client.connect``: workers on that client use it too."""

    def intercept_client(self, next: temporalio.client.OutboundInterceptor) -> temporalio.client.OutboundInterceptor:
        return _ClientOutbound(next)

    def intercept_activity(self, next: temporalio.worker.ActivityInboundInterceptor
                           ) -> temporalio.worker.ActivityInboundInterceptor:
        return _ActivityInbound(next)

    def workflow_interceptor_class(self, input: temporalio.worker.WorkflowInterceptorClassInput
                                   ) -> type[temporalio.worker.WorkflowInboundInterceptor]:
        return _WorkflowInbound


# --- runtime -----------------------------------------------------------------------------------

_runtimes: dict[str, Runtime] = {}


def runtime(metrics_address: str = "") -> Runtime:
    """The SDK runtime of this process (one per metrics address): core logs forwarded to the
    ``temporalio.core`` logger (warnings and errors), and the SDK's metrics served for
    Prometheus on ``metrics_address`` (``host:port``) when given."""
    if metrics_address not in _runtimes:
        _runtimes[metrics_address] = Runtime(telemetry=TelemetryConfig(
            logging=LoggingConfig(filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                                  forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core"))),
            metrics=PrometheusConfig(bind_address=metrics_address) if metrics_address else None,
        ))
    return _runtimes[metrics_address]
