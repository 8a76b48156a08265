"""The API's observability middleware: request id, log context, metrics, a server span, /metrics.

Installed by ``api.app.create_app`` just inside ``RequestContext`` (which stays outermost),
so it sees every answer, including those of the body-size limit and the audit middleware.
For each HTTP request it

* takes a sane ``X-Request-ID`` from the client or makes one, echoes it in the answer's
  ``X-Request-ID`` header, and puts it in the context of everything the request does (log
  lines, the Temporal header of its commands);
* logs one line when answered (``http request``: method, route template, status,
  duration, and request and case id; never the raw path, query string or a header);
* observes ``itinera_http_request_duration_seconds`` by route template and status;
* with tracing on, opens the request's server span (continuing an incoming
  ``traceparent``), the parent of the Temporal client's spans.

``GET /metrics`` is answered here, before routing, when ``ITINERA_API_METRICS_ENABLED``: it
is not an API route, needs no token, and never reaches the audit middleware (metrics carry
no case data).  When the setting is off, ``/metrics`` is an unknown address (404).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from observability import metrics
from observability.context import (
    HTTP_REQUEST_ID_HEADER,
    accept_request_id,
    current_case_id,
    http_scope_var,
    request_id_var,
)
from observability.logs import get_logger

log = get_logger("itinera.http")

METRICS_PATH = "/metrics"
# Probes and scrapes are logged at debug level only: a line every few seconds says nothing.
_QUIET_PATHS = frozenset({"/livez", "/readyz", METRICS_PATH})


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, *, serve_metrics: bool = False, tracer: Any = None) -> None:
        self.app = app
        self.serve_metrics = serve_metrics
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.serve_metrics and scope["path"] == METRICS_PATH:
            await self._metrics(scope, send)
            return

        headers = dict(scope.get("headers") or ())
        raw = headers.get(HTTP_REQUEST_ID_HEADER.encode())
        request_id = accept_request_id(raw.decode("latin-1") if raw else None)
        scope.setdefault("state", {})["request_id"] = request_id
        tokens = (request_id_var.set(request_id), http_scope_var.set(scope))
        status = 500  # if the app raises before answering, the server answers 500
        echo = (HTTP_REQUEST_ID_HEADER.encode(), request_id.encode())

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), echo]
            await send(message)

        span, span_token = self._start_span(scope, headers, request_id)
        metrics.HTTP_REQUESTS_IN_FLIGHT.inc()
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            seconds = time.perf_counter() - started
            metrics.HTTP_REQUESTS_IN_FLIGHT.dec()
            method = scope.get("method", "")
            method_label = method if method in metrics.METHODS else "other"
            route = getattr(scope.get("route"), "path", None) or metrics.UNMATCHED_ROUTE
            metrics.HTTP_REQUEST_DURATION.labels(method_label, route, str(status)).observe(seconds)
            if span is not None:
                self._end_span(span, span_token, method_label, route, status)
            log.log(logging.DEBUG if scope["path"] in _QUIET_PATHS else logging.INFO, "http request",
                    method=method_label, route=route, status=status, duration_ms=round(seconds * 1000, 1))
            http_scope_var.reset(tokens[1])
            request_id_var.reset(tokens[0])

    async def _metrics(self, scope: Scope, send: Send) -> None:
        if scope.get("method") not in ("GET", "HEAD"):
            await _answer(send, 405, b"method not allowed\n", "text/plain; charset=utf-8")
            return
        pool = getattr(getattr(scope.get("app"), "state", None), "pool", None)
        if pool is not None:
            try:
                await metrics.refresh_open_tasks(pool)
            except Exception as exc:  # the database is down: the other metrics still answer
                log.warning("inbox depth not refreshed", error=type(exc).__name__)
        body, content_type = metrics.exposition()
        await _answer(send, 200, body if scope["method"] == "GET" else b"", content_type)

    # --- tracing ------------------------------------------------------------------------------

    def _start_span(self, scope: Scope, headers: dict[bytes, bytes], request_id: str) -> tuple[Any, Any]:
        if self.tracer is None:
            return None, None
        import opentelemetry.context
        import opentelemetry.propagate
        import opentelemetry.trace

        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers.items()
                   if k in (b"traceparent", b"tracestate", b"baggage")}
        parent = opentelemetry.propagate.extract(carrier)
        method = scope.get("method", "")
        span = self.tracer.start_span(method, context=parent, kind=opentelemetry.trace.SpanKind.SERVER,
                                      attributes={"http.request.method": method, "itinera.request_id": request_id})
        token = opentelemetry.context.attach(opentelemetry.trace.set_span_in_context(span, parent))
        return span, token

    def _end_span(self, span: Any, token: Any, method: str, route: str, status: int) -> None:
        from opentelemetry.trace import Status, StatusCode

        from observability.tracing import detach_quietly

        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        case_id = current_case_id()
        if case_id is not None:
            span.set_attribute("itinera.case_id", case_id)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        span.end()
        detach_quietly(token)


async def _answer(send: Send, status: int, body: bytes, content_type: str) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def install(app: Any, settings: Any) -> None:
    """Add the middleware to a FastAPI app (call just before adding ``RequestContext``)."""
    from observability.tracing import tracer

    app.add_middleware(ObservabilityMiddleware, serve_metrics=settings.api_metrics_enabled, tracer=tracer(settings))
