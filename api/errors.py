"""Every error the API returns has one JSON shape: a machine-readable code, a human message
and, for invalid input, which field, why, and what is allowed.

    {"error": {"code": "invalid_request", "message": "...",
               "details": [{"field": "body.members.0.nationality", "reason": "...", "allowed": [...]}]}}

That holds beyond the routes too: malformed input refused at the edge (``api.input_guard``)
and a failure nobody expected (``UnexpectedErrors``: a 500 with this body, not Starlette's
plain text, and the traceback in the log, never in the answer).  A database outage that
escaped the routes' handlers (raised while cleaning up, or chained to another error) is
still an outage there: 503 with ``Retry-After``, never 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.input_guard import InputGuard
from api.outages import DATABASE_OUTAGES, DATABASE_RETRY_AFTER_SECONDS, database_unavailable_body
from domain.errors import RejectionCode, plain_reason

log = logging.getLogger("itinera.api")


class ErrorDetail(BaseModel):
    field: str
    reason: str
    allowed: Any | None = None


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = []


class ErrorBody(BaseModel):
    error: ErrorInfo


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or []
        self.headers = headers


REJECTION_STATUS: dict[RejectionCode, int] = {
    RejectionCode.CASE_NOT_FOUND: 404,
    RejectionCode.TASK_NOT_FOUND: 404,
    RejectionCode.WRONG_STAGE: 409,
    RejectionCode.TASK_NOT_OPEN: 409,
    RejectionCode.CASE_CLOSED: 409,
    RejectionCode.REFERRAL_CONFLICT: 409,
    RejectionCode.INVALID_FORM: 422,
    RejectionCode.CASE_ON_HOLD: 409,
    RejectionCode.NOT_ON_HOLD: 409,
    RejectionCode.FIT_TO_TRAVEL_MISSING: 409,
    RejectionCode.MEMBER_NOT_FOUND: 404,
    RejectionCode.FOUR_EYES: 403,
    RejectionCode.WRONG_PROGRAMME: 409,
    RejectionCode.CONSENT_NOT_RECONFIRMED: 409,
    RejectionCode.ESCORT_NOT_ARRANGED: 409,
    RejectionCode.EXIT_PERMISSION_MISSING: 409,
}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing, expired or invalid bearer token."},
    403: {"model": ErrorBody, "description": "Authenticated, but this role may not do this."},
    404: {"model": ErrorBody, "description": "No such case or task (or not visible to the caller)."},
    409: {"model": ErrorBody, "description": "Conflicts with the case's state: wrong stage, task not open, ..."},
    422: {"model": ErrorBody, "description": "Invalid field: which field, why, and what is allowed."},
}


def _body(code: str, message: str, details: list[dict[str, Any]]) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def internal_error_response() -> JSONResponse:
    """The answer to a failure nobody expected: nothing about it beyond that it happened."""
    return JSONResponse(_body("internal_error", "an unexpected error occurred; it has been logged", []),
                        status_code=500)


def database_outage_in(exc: BaseException) -> BaseException | None:
    """The database outage behind ``exc``: itself, what it was raised from or during
    (``__cause__`` / ``__context__``), or one of a group's; None if there is none."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, DATABASE_OUTAGES):
            return current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return None


def database_unavailable_response() -> JSONResponse:
    return JSONResponse(database_unavailable_body(), status_code=503,
                        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})


class UnexpectedErrors:
    """Pure ASGI middleware: an exception no handler took becomes the standard 500 body.

    It runs inside the audit middleware, which therefore sees (and records) a 500 answer
    instead of an exception that would skip it.  If the answer had already begun, the
    exception goes on: nothing can be said any more, and the server cuts the connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception as exc:
            route = getattr(scope.get("route"), "path", None) or "(no route)"
            outage = database_outage_in(exc)
            if outage is not None:
                log.warning("database unavailable answering %s %s: %r", scope.get("method"), route, outage,
                            exc_info=exc)
            else:
                log.exception("unexpected error answering %s %s", scope.get("method"), route)
            if started:
                raise
            answer = internal_error_response() if outage is None else database_unavailable_response()
            await answer(scope, receive, send)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for error in exc.errors():
        detail: dict[str, Any] = {
            "field": ".".join(str(p) for p in error.get("loc", ())),
            "reason": plain_reason(error.get("msg", "invalid")),
        }
        ctx = error.get("ctx") or {}
        if "expected" in ctx:  # also the rule of a domain.text string
            detail["allowed"] = ctx["expected"]
        elif "pattern" in ctx:
            detail["allowed"] = f"text matching {ctx['pattern']}"
        details.append(detail)
    return details


def install_error_handlers(app: FastAPI) -> None:
    """The handlers of the routes' errors, and the two middlewares that give malformed input
    and unexpected failures the same shape.  Call it before adding any other middleware: they
    then run innermost, inside the audit middleware, which records what they answer."""
    app.add_middleware(InputGuard)
    app.add_middleware(UnexpectedErrors)  # outside the guard: catches its failures too

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc)
        summary = "; ".join(f"{d['field']}: {d['reason']}" for d in details[:5])
        return JSONResponse(_body("invalid_request", f"the request is invalid: {summary}", details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(exc.status_code, "http_error")
        return JSONResponse(_body(code, str(exc.detail), []), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))
