"""Operations: what the API and the worker tell an operator while they run.

* ``logs``     JSON log lines (structlog, configured once per process), each with the
               request id, case id and workflow id where there is one;
* ``context``  the request id and case of the work being done (context variables), and
               how the request id travels: HTTP ``X-Request-ID`` -> Temporal header ->
               workflow update handler -> activity;
* ``metrics``  Prometheus metrics of the API (``/metrics`` when enabled) and the worker;
* ``tracing``  OpenTelemetry spans API -> Temporal -> activities, when enabled;
* ``temporal`` the Temporal interceptors and runtime (SDK logs forwarded, SDK metrics);
* ``asgi``     the API middleware that ties them to each HTTP request.

Nothing here reads case data beyond ids, event types and counts: no name, no form field.
"""
