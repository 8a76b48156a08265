"""The request and the case a piece of work belongs to, for its log lines (and its spans).

Context variables, so they follow the work and never leak between concurrent requests:

* in the API, ``ObservabilityMiddleware`` sets the request id and the request's scope (the
  case is read from the route's path parameters once routing has matched);
* in a workflow, an update or signal handler runs with the request id of the request that
  sent it (a Temporal header, ``REQUEST_ID_HEADER``), and passes it on to the activities
  it starts;
* in an activity, the request id comes from that header and the case is the workflow id
  (a case's workflow id is its case id).

A request id is accepted from the client's ``X-Request-ID`` only when it looks like an id
(letters, digits, ``._:-``, at most 128 characters); anything else is replaced by a fresh
one, so a log line never carries free text a client chose.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from typing import Any

# The Temporal header that carries the request id (client -> workflow -> activity).
REQUEST_ID_HEADER = "itinera-request-id"
# The HTTP header read from the client and echoed in every answer.
HTTP_REQUEST_ID_HEADER = "x-request-id"

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

request_id_var: ContextVar[str | None] = ContextVar("itinera_request_id", default=None)
# Set where the case is known up front (an activity: its workflow id).
case_id_var: ContextVar[str | None] = ContextVar("itinera_case_id", default=None)
# The ASGI scope of the HTTP request being served (its case is known once routing matched).
http_scope_var: ContextVar[dict[str, Any] | None] = ContextVar("itinera_http_scope", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(value: str | None) -> str:
    """The client's request id if it is a sane id, else a fresh one."""
    if value and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return new_request_id()


def case_of_path(path_params: dict[str, Any]) -> str | None:
    """The case a route's path names: ``{case_id}``, or the case a ``{task_id}`` belongs to."""
    case_id = path_params.get("case_id")
    if isinstance(case_id, str) and case_id:
        return case_id
    task_id = path_params.get("task_id")
    if isinstance(task_id, str) and "-T" in task_id:
        return task_id.rsplit("-T", 1)[0]
    return None


def current_case_id() -> str | None:
    """The case of the work being done, if any: an activity's workflow, or the HTTP request's
    path (``/cases/{case_id}``, ``/tasks/{task_id}``), or the case a referral opened."""
    case_id = case_id_var.get()
    if case_id is not None:
        return case_id
    scope = http_scope_var.get()
    if scope is None:
        return None
    found = case_of_path(scope.get("path_params") or {})
    if found is None:
        state = scope.get("state")
        found = state.get("audit_case_id") if isinstance(state, dict) else None
    return found if isinstance(found, str) else None
