"""OpenTelemetry tracing API -> Temporal -> activities, switched on by ``ITINERA_OTEL_ENABLED``.

One trace per HTTP request: the API's server span (``POST /api/v1/tasks/{task_id}/complete``,
continuing an incoming W3C ``traceparent`` when there is one), then Temporal's
``contrib.opentelemetry`` spans: the client's ``StartWorkflowUpdate:complete_task``, the
workflow's ``HandleUpdate:complete_task``, ``StartActivity:record_case_events`` and the
worker's ``RunActivity:record_case_events``.  A referral's trace also holds the
workflow's ``RunWorkflow`` (update-with-start).

Temporal's ``TracingInterceptor`` puts an update handler's span in the trace of the
workflow's *start* (the referral) and only links the update's request to it; so that a
command's spans are one trace with the request that sent it, ``CommandTracingInterceptor``
parents the update handler (and the activities it starts) on the update's own header.
The workflow code is unchanged: the interceptors are configured on the Client (and so on
every worker built on it).

Exporters (``ITINERA_OTEL_EXPORTER``): ``otlp`` (OTLP over HTTP to ``ITINERA_OTEL_ENDPOINT``,
else the OpenTelemetry default / ``OTEL_EXPORTER_OTLP_*`` variables), ``console`` (standard
error, so the JSON logs on standard output stay parseable) or ``memory`` (kept in this
process, for tests: ``memory_exporter()``).  Sampling follows ``OTEL_TRACES_SAMPLER`` (every
trace by default).  Span attributes hold ids, route templates and statuses, never case data.
"""

from __future__ import annotations

import sys
import threading
from functools import cache
from typing import TYPE_CHECKING, Any

from settings import Settings

# OpenTelemetry and Temporal's contrib module are imported only when tracing is on: a second
# or so of start-up that processes without tracing need not pay.
if TYPE_CHECKING:
    import opentelemetry.trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from temporalio.contrib.opentelemetry import TracingInterceptor

_lock = threading.Lock()
_provider: TracerProvider | None = None
_memory: InMemorySpanExporter | None = None


def setup_tracing(settings: Settings, service_name: str = "itinera") -> TracerProvider | None:
    """The process's tracer provider (created on first call, also made the global one), or
    None when tracing is off."""
    global _provider, _memory
    if not settings.otel_enabled:
        return None
    with _lock:
        if _provider is None:
            import opentelemetry.trace
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

            provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
            if settings.otel_exporter == "memory":
                from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

                _memory = InMemorySpanExporter()
                provider.add_span_processor(SimpleSpanProcessor(_memory))
            elif settings.otel_exporter == "console":
                provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
            else:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

                provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otel_endpoint or None)))
            opentelemetry.trace.set_tracer_provider(provider)
            _provider = provider
    return _provider


def tracer(settings: Settings) -> opentelemetry.trace.Tracer | None:
    provider = setup_tracing(settings)
    return provider.get_tracer("itinera") if provider is not None else None


def temporal_interceptor(settings: Settings) -> TracingInterceptor | None:
    """Temporal's tracing interceptor for ``Client.connect`` (and so every worker on that client)."""
    found = tracer(settings)
    return _interceptor_class()(found) if found is not None else None


def memory_exporter() -> InMemorySpanExporter | None:
    """The in-memory exporter, when ``ITINERA_OTEL_EXPORTER=memory``."""
    return _memory


@cache
def _interceptor_class() -> type[TracingInterceptor]:
    import opentelemetry.trace
    import temporalio.worker
    from temporalio.contrib.opentelemetry import TracingInterceptor, TracingWorkflowInboundInterceptor
    from temporalio.contrib.opentelemetry._context import attached_context

    class CommandTracingWorkflowInbound(TracingWorkflowInboundInterceptor):
        """An update handler's spans in the trace of the request that sent the update.

        Relies on ``TracingWorkflowInboundInterceptor``'s helpers (temporalio is pinned in
        pyproject; tests/test_observability.py fails if they change)."""

        async def handle_update_handler(self, input: temporalio.worker.HandleUpdateInput) -> Any:
            header = input.headers.get(self.header_key)
            if not header:
                return await super().handle_update_handler(input)
            carrier = self.payload_converter.from_payloads([header])[0]
            context = self._set_on_context(self.text_map_propagator.extract(carrier))
            with attached_context(context):
                self._completed_span(f"HandleUpdate:{input.update}",
                                     link_context_carrier=self._load_workflow_context_carrier(),
                                     kind=opentelemetry.trace.SpanKind.SERVER)
                return await self.next.handle_update_handler(input)

    class CommandTracingInterceptor(TracingInterceptor):
        def workflow_interceptor_class(self, input: temporalio.worker.WorkflowInterceptorClassInput
                                       ) -> type[TracingWorkflowInboundInterceptor]:
            super().workflow_interceptor_class(input)  # registers the span extern function
            return CommandTracingWorkflowInbound

    return CommandTracingInterceptor


def detach_quietly(token: Any) -> None:
    import opentelemetry.context

    try:
        opentelemetry.context.detach(token)
    except Exception:  # pragma: no cover - a context finalized elsewhere
        pass
