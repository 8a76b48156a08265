"""FastAPI dependencies shared by the routes.

A request's database connection (``Db``) is lent back to the pool while the request waits
on Temporal (``lent_back``): a command may wait up to ``ITINERA_COMMAND_TIMEOUT_SECONDS``
when the engine is slow or down, and a pool of ten connections held by ten such waits
would stall every read and make ``/readyz`` say the database is down (explore3, finding 3).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request

from api.commands import CaseCommands
from api.errors import ApiError
from api.outages import DATABASE_OUTAGES, DATABASE_RETRY_AFTER_SECONDS

log = logging.getLogger("itinera.api")

ACQUIRE_TIMEOUT_SECONDS = 10.0


def database_busy() -> ApiError:
    return ApiError(503, "database_busy",
                    f"no database connection became free in {ACQUIRE_TIMEOUT_SECONDS:g} s; try again shortly",
                    headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})


class RequestConnection:
    """The request's pooled connection, which the request can lend back to the pool while it
    waits on something else and take again afterwards.  Everything else is the connection's
    own (``fetchrow``, ``transaction``, ...): attribute access goes to the connection held now.

    Used while lent (or after the pool could not give one back) it raises
    ``asyncpg.InterfaceError``, which the API answers as a database outage (503)."""

    def __init__(self, pool: asyncpg.Pool, conn: Any) -> None:
        self._pool = pool
        self._conn: Any = conn
        self._lent = 0

    def __getattr__(self, name: str) -> Any:
        conn = self.__dict__.get("_conn")
        if conn is None:
            raise asyncpg.InterfaceError("the request's database connection is lent back to the pool")
        return getattr(conn, name)

    @contextlib.asynccontextmanager
    async def lent_back(self) -> AsyncIterator[None]:
        """Give the connection back to the pool for the block (not inside a transaction:
        then it is kept), and take one again after it (nested or concurrent blocks share one lending)."""
        if self._lent == 0 and (self._conn is None or self._conn.is_in_transaction()):
            yield
            return
        self._lent += 1
        if self._lent == 1:
            await self._give_back()
        try:
            yield
        finally:
            self._lent -= 1
            if self._lent == 0:
                await self._take()

    async def _take(self) -> None:
        """A connection again; if none comes (the pool busy, PostgreSQL away), none: its next
        use raises InterfaceError, answered as an outage or read through a fresh connection."""
        try:
            self._conn = await self._pool.acquire(timeout=ACQUIRE_TIMEOUT_SECONDS)
        except (TimeoutError, *DATABASE_OUTAGES) as exc:
            log.warning("no database connection after a command: %s", exc)
            self._conn = None

    async def _give_back(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await self._pool.release(conn)
            except (*DATABASE_OUTAGES, asyncpg.PostgresError):
                pass  # a dead connection: the pool replaces it

    async def close(self) -> None:
        await self._give_back()


def lent_back(db: Any) -> contextlib.AbstractAsyncContextManager[None]:
    """``async with lent_back(db): await <a Temporal command>``: the request's connection
    goes back to the pool while the command waits (a plain connection is kept)."""
    if isinstance(db, RequestConnection):
        return db.lent_back()
    return contextlib.nullcontext()


async def _connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    pool = request.app.state.pool
    try:
        conn = await pool.acquire(timeout=ACQUIRE_TIMEOUT_SECONDS)
    except TimeoutError:
        raise database_busy() from None
    held = RequestConnection(pool, conn)
    try:
        yield held  # type: ignore[misc]  # a connection in all but name
    finally:
        await held.close()


def _commands(request: Request) -> CaseCommands:
    return request.app.state.commands


def _pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


Db = Annotated[asyncpg.Connection, Depends(_connection)]
Commands = Annotated[CaseCommands, Depends(_commands)]
# For reads after a command: a fresh connection, not the one held while the workflow ran.
Pool = Annotated[asyncpg.Pool, Depends(_pool)]
