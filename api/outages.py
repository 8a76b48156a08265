"""A dependency that is down answers 503 with ``Retry-After`` and a clear JSON error, never 500.

PostgreSQL restarting, refusing connections or dropping the one a request holds are
outages, not defects: the client should send the same request again shortly.  (Temporal's
outages are mapped where commands are sent, in ``api.commands``.)
"""

from __future__ import annotations

import logging

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

log = logging.getLogger("itinera.api")

DATABASE_RETRY_AFTER_SECONDS = 3

# What asyncpg raises while PostgreSQL is down, restarting or has dropped the connection.
DATABASE_OUTAGES: tuple[type[BaseException], ...] = (
    OSError,  # connection refused / reset, socket gone
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,  # "terminating connection because of crash of another server process"
    asyncpg.exceptions.IdleSessionTimeoutError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.exceptions.ConnectionFailureError,
    # A pooled connection left half-way through an operation when PostgreSQL went away:
    # "cannot switch to state N; another operation is in progress" (seen in the fault tests).
    asyncpg.InternalClientError,
    # A pooled connection that died under its request: "connection has been released back to
    # the pool", "connection is closed" (asyncpg detaches a dead connection from its proxy).
    asyncpg.InterfaceError,
)


def database_unavailable_body(message: str = "the database is unavailable; try again shortly") -> dict:
    return {"error": {"code": "database_unavailable", "message": message, "details": []}}


def install_outage_handlers(app: FastAPI) -> None:
    async def _database_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable answering %s %s: %r", request.method, request.url.path, exc)
        return JSONResponse(database_unavailable_body(), status_code=503,
                            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})

    for exc_type in DATABASE_OUTAGES:
        app.add_exception_handler(exc_type, _database_down)
