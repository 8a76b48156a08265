"""FastAPI dependencies shared by the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from api.commands import CaseCommands


async def _connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    async with request.app.state.pool.acquire() as conn:
        yield conn


def _commands(request: Request) -> CaseCommands:
    return request.app.state.commands


Db = Annotated[asyncpg.Connection, Depends(_connection)]
Commands = Annotated[CaseCommands, Depends(_commands)]
