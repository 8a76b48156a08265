"""Every read of case data and every change leaves an audit row, allowed or not.

A middleware, so no route can forget it (a route that learns its case only while running,
like a referral, names it in ``request.state.audit_case_id``): after the route has answered, it records who
(the principal the auth dependency identified, or "anonymous"), the route template as the
action (``GET /api/v1/cases/{case_id}``), the case (from the path; a task id names its
case), the outcome and the caller's address.  Liveness, docs and static files are not
case data and are not recorded, unless they fail: every 5xx is recorded, routed or not.
An answer that shows other cases' people (a movement's manifest, a session's participants)
names them (``record_cases_shown``) and gets a row in each of those cases' trails too.
A route that raises unexpectedly reaches this middleware as a 500 answer
(``api.errors.UnexpectedErrors`` runs inside it), and a request the edge refuses
(``api.input_guard``, also inside) as a 422 on its route: both are recorded like any other.
A UI action refused with a redirect and an error message (``request_context.record_refusal``)
is recorded as the refusal it is: denied (403, 404) or failed (409, 422), with that status,
not "allowed 303".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from api.request_context import route_template
from api.outages import DATABASE_OUTAGES, DATABASE_RETRY_AFTER_SECONDS, database_unavailable_body

from store import audit as audit_store

_NOT_AUDITED = ("/openapi.json", "/docs", "/redoc", "/api/v1/health", "/api/v1/auth/me", "/ui/static")
_PROBES = ("/livez", "/readyz")


def _case_of(path_params: dict[str, str]) -> str | None:
    if "case_id" in path_params:
        return path_params["case_id"]
    task_id = path_params.get("task_id")
    return task_id.rsplit("-T", 1)[0] if task_id and "-T" in task_id else None


def _outcome(status: int) -> str:
    if status < 400:
        return "allowed"
    return "denied" if status in (401, 403, 404) else "failed"


def install_audit(app: FastAPI) -> None:
    @app.middleware("http")
    async def audit(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        route_path = route_template(request.scope)
        if route_path in _PROBES:
            return response  # liveness and readiness: no case data, and 503 is their job in an outage
        if response.status_code < 500 and (route_path is None or route_path == "/"
                                           or route_path.startswith(_NOT_AUDITED)
                                           or (request.method == "GET" and route_path.startswith("/ui/login"))):
            return response
        route_path = route_path or "(no route)"  # every 5xx is recorded, routed or not
        status = _status_of(request, response)
        with_command = status < 400 and getattr(request.state, "audit_written_with_command", False)
        # (the command's own row: the recording activity wrote it with the command's events)
        shown = getattr(request.state, "audit_cases_shown", None) if status < 400 else None
        if with_command and not shown:
            return response
        try:
            await _append(request, status, route_path, own_row=not with_command, shown=shown or {})
        except DATABASE_OUTAGES:
            if status >= 400:
                return response  # a refusal carries no case data: it goes out, unaudited, in an outage
            # No answer without its audit row: while PostgreSQL cannot take the row, the
            # answer (which may carry case data) is withheld and the client told to retry.
            return JSONResponse(database_unavailable_body("the audit trail cannot be written right now; try again"),
                                status_code=503, headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})
        return response


def _status_of(request: Request, response: Response) -> int:
    """The answer's status, or, for a refusal the UI answered with a redirect, the refusal's."""
    refused = getattr(request.state, "audit_refused_status", None)
    return refused if isinstance(refused, int) and response.status_code < 400 else response.status_code


async def _append(request: Request, status: int, route_path: str, *, own_row: bool = True,
                  shown: dict[str, str] | None = None) -> None:
    """The request's row (unless its command wrote it), and one per case whose data the answer
    showed besides (``request_context.record_cases_shown``)."""
    principal = getattr(request.state, "principal", None)
    actor = getattr(request.state, "audit_actor", None) or (
        {"kind": principal.kind.value, "id": principal.username, "role": principal.role.value,
         "offices": list(principal.offices)} if principal else
        {"kind": "anonymous", "id": "anonymous", "role": None, "offices": []})
    if shown:
        await audit_store.append_for_cases(
            request.app.state.audit_pool, actor_kind=actor["kind"], actor_id=actor["id"], actor_role=actor["role"],
            actor_offices=actor["offices"], action=f"{request.method} {route_path}", shown=shown,
            outcome=_outcome(status), status=status,
            source_ip=request.client.host if request.client else None)
    if not own_row:
        return
    await audit_store.append(
        request.app.state.audit_pool,
        actor_kind=actor["kind"],
        actor_id=actor["id"],
        actor_role=actor["role"],
        actor_offices=actor["offices"],
        action=f"{request.method} {route_path}",
        case_id=getattr(request.state, "audit_case_id", None) or _case_of(request.scope.get("path_params", {})),
        outcome=_outcome(status),
        status=status,
        source_ip=request.client.host if request.client else None,
    )
