"""FastAPI dependencies shared by the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from api.commands import CaseCommands
from api.errors import ApiError


async def _connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    try:
        conn = await request.app.state.pool.acquire(timeout=30)
    except TimeoutError:
        raise ApiError(503, "database_busy", "no database connection became free in 30 s; try again") from None
    try:
        yield conn
    finally:
        await request.app.state.pool.release(conn)


def _commands(request: Request) -> CaseCommands:
    return request.app.state.commands


def _pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


Db = Annotated[asyncpg.Connection, Depends(_connection)]
Commands = Annotated[CaseCommands, Depends(_commands)]
# For reads after a command: a fresh connection, not the one held while the workflow ran.
Pool = Annotated[asyncpg.Pool, Depends(_pool)]
