"""JSON log lines for the API and the worker: one object per line on standard output.

Configured once per process by ``configure_logging`` (``itinera api`` / ``itinera worker``
call it first).  Everything goes through the standard library's ``logging`` and one
structlog ``ProcessorFormatter``: the project's own structlog loggers, uvicorn, the
Temporal SDK (``temporalio.*``, and the SDK core's Rust logs forwarded by
``observability.temporal``), asyncpg, warnings.  Every line has ``timestamp``, ``level``,
``logger``, ``service`` and ``event`` (the message), and, where there is one:

* ``request_id``  the HTTP request's id (also in a workflow update handler and in the
  activities it starts, see ``observability.context``);
* ``case_id`` and ``workflow_id``  (the same value: a case's workflow id is its case id);
* ``activity_type`` / ``attempt`` / ``workflow_type``  from the Temporal SDK's loggers.

Never personal data or secrets: the project logs ids, route templates, statuses, event
types and counts, never a name, a form field, a query string, a header or a token; as a
second line of defence, values under keys that name a secret are replaced.

structlog is pointed at the standard library when this module is imported, so a
structlog logger never prints on its own (e.g. in tests, where pytest captures records).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from structlog.stdlib import ProcessorFormatter

from observability.context import current_case_id, request_id_var

_SECRET_KEYS = frozenset({"password", "token", "access_token", "refresh_token", "authorization", "api_key",
                          "secret", "cookie", "jwt", "signing_key"})

_service: str | None = None


def add_context_ids(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Request id, case id and workflow id of the work being done, where there are any."""
    request_id = request_id_var.get()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    record = event_dict.get("_record")
    if record is not None:  # a standard-library record: the Temporal SDK's loggers add these
        temporal = getattr(record, "temporal_activity", None) or getattr(record, "temporal_workflow", None)
        if isinstance(temporal, dict):
            workflow_id = temporal.get("workflow_id")
            if workflow_id:
                event_dict.setdefault("workflow_id", workflow_id)
                event_dict.setdefault("case_id", workflow_id)
            for key in ("workflow_type", "activity_type", "attempt", "update_name"):
                if temporal.get(key) is not None:
                    event_dict.setdefault(key, temporal[key])
    case_id = current_case_id()
    if case_id is not None:
        event_dict.setdefault("case_id", case_id)
        event_dict.setdefault("workflow_id", case_id)
    if _service is not None:
        event_dict.setdefault("service", _service)
    return event_dict


def redact_secrets(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in event_dict.keys() & _SECRET_KEYS:
        event_dict[key] = "[redacted]"
    return event_dict


_TIMESTAMP = structlog.processors.TimeStamper(fmt="iso", utc=True)

# For the project's own structlog loggers: at the call, in the caller's context.
_STRUCTLOG_CHAIN: list[Any] = [
    structlog.stdlib.filter_by_level,
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    _TIMESTAMP,
    add_context_ids,
    redact_secrets,
    structlog.processors.StackInfoRenderer(),
    ProcessorFormatter.wrap_for_formatter,
]
# For records of other libraries (uvicorn, temporalio, asyncpg, ...): in the handler, which
# runs synchronously in the context of the code that logged.
_FOREIGN_CHAIN: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    _TIMESTAMP,
    add_context_ids,
    redact_secrets,
]


def _route_structlog_to_stdlib() -> None:
    structlog.configure(
        processors=_STRUCTLOG_CHAIN,
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


_route_structlog_to_stdlib()


def formatter(fmt: str = "json") -> logging.Formatter:
    renderer: Any = (structlog.processors.JSONRenderer(default=str) if fmt == "json"
                     else structlog.dev.ConsoleRenderer(colors=False))
    return ProcessorFormatter(
        foreign_pre_chain=_FOREIGN_CHAIN,
        processors=[ProcessorFormatter.remove_processors_meta, structlog.processors.format_exc_info, renderer],
    )


def configure_logging(level: str = "INFO", fmt: str = "json", service: str | None = None,
                      stream: TextIO | None = None) -> None:
    """Send every log record of this process, as one JSON object per line, to ``stream``
    (standard output).  Call once, before anything logs; calling again replaces the handler."""
    global _service
    _service = service
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's loggers propagate to the root handler (``itinera api`` passes log_config=None);
    # the access log stays off: its lines carry raw paths and query strings (names).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Ids become keys of their own (``add_context_ids``) instead of a dict appended to the message.
    import temporalio.activity
    import temporalio.workflow

    temporalio.activity.logger.activity_info_on_message = False
    temporalio.workflow.logger.workflow_info_on_message = False
    logging.captureWarnings(True)


def get_logger(name: str) -> Any:
    """A structlog logger writing through the standard library's ``logging`` under ``name``."""
    return structlog.stdlib.get_logger(name)
