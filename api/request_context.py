"""The HTTP request a command is sent from, for the audit row written with its events.

A command's audit row is written by the recording activity in the same transaction as the
command's events (``domain.records.AuditStamp``), so an applied change can never lack it,
even when the API process is killed right after the workflow answered.  The route that
sends the command is known only once routing is done; this pure ASGI middleware keeps the
request's scope in a context variable so ``api.commands`` can stamp any command, from the
JSON API, the UI or an integration, without every caller passing the request along.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from domain.records import AuditStamp

_scope: ContextVar[Scope | None] = ContextVar("itinera_request_scope", default=None)


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _scope.set(scope)
        try:
            await self.app(scope, receive, send)
        finally:
            _scope.reset(token)


def route_template(scope: Scope) -> str | None:
    """The route that served the request, as its template (``/api/v1/cases/{case_id}``),
    with the prefix of a router included under one (the UI's ``/ui``), which FastAPI
    leaves out of the route's own path."""
    path = getattr(scope.get("route"), "path", None)
    if path is None:
        return None
    served = scope.get("path", "")
    for prefix in ("/ui",):
        if served.startswith(prefix + "/") and not path.startswith(prefix):
            return prefix + path
    return path


def current_stamp(status: int = 200) -> AuditStamp | None:
    """The audit stamp of the request being served, or None outside a request."""
    scope = _scope.get()
    if scope is None:
        return None
    route = route_template(scope) or scope.get("path", "")
    state: dict[str, Any] = scope.setdefault("state", {})
    client = scope.get("client")
    return AuditStamp(action=f"{scope.get('method', '')} {route}", status=status,
                      source_ip=state.get("client_ip") or (client[0] if client else None))


def record_cases_shown(case_ids: Iterable[str], context: str) -> None:
    """This answer shows personal data of these cases beyond its own (a movement's manifest, a
    session's participants): the audit middleware writes a row in each case's trail, the
    action naming ``context`` (the movement or session), so a case's audit answers "who saw
    this family's names on which flight"."""
    scope = _scope.get()
    if scope is None:
        return
    shown: dict[str, str] = scope.setdefault("state", {}).setdefault("audit_cases_shown", {})
    for case_id in case_ids:
        shown.setdefault(case_id, context)


def mark_audited_with_command() -> None:
    """The command's audit row went in with its events: the audit middleware writes no second one."""
    scope = _scope.get()
    if scope is not None:
        scope.setdefault("state", {})["audit_written_with_command"] = True


def record_refusal(status: int) -> None:
    """The request was refused with this status (403, 404, 409, 422), though its answer says
    otherwise: the UI answers a refused action with a redirect and an error message.  The
    audit middleware records the refusal (denied or failed, with this status), not the redirect."""
    scope = _scope.get()
    if scope is not None:
        scope.setdefault("state", {})["audit_refused_status"] = status


def current_idempotency_key() -> str | None:
    """The request's ``Idempotency-Key`` header, if it sent one."""
    scope = _scope.get()
    if scope is None:
        return None
    for name, value in scope.get("headers", ()):
        if name == b"idempotency-key":
            return value.decode("latin-1")[:200]
    return None


def current_app() -> Any:
    """The application serving the current request (its state holds the connection pools)."""
    scope = _scope.get()
    if scope is None:
        raise RuntimeError("not serving a request")
    return scope["app"]
