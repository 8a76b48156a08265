"""Connection pools for PostgreSQL, with JSON handled the same way everywhere."""

from __future__ import annotations

import json
from typing import Any

import asyncpg


def _encode_json(value: Any) -> str:
    # Payloads arrive already serialized by pydantic; anything else is dumped here.
    return value if isinstance(value, str) else json.dumps(value)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=_encode_json, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release a connection to its pool without asyncpg's reset query.

    asyncpg's default reset sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``
    on *every* release: a round trip per request (and per audit row), the API's largest single
    cost in the benchmark's profile (bench/profiles).  Itinera leaves no session state on a
    pooled connection: settings are ``SET LOCAL`` (they end with their transaction), cursors
    live inside transactions, the migrations' advisory lock is released by the migrations, and
    the one ``LISTEN`` (the webhook dispatcher's) is removed before its connection goes back.
    ``tests/test_pool_session_state.py`` keeps it so.  asyncpg itself still rolls back a
    transaction left open and drops listeners before calling this.
    """


async def connect(database_url: str) -> asyncpg.Connection:
    """One connection with the same JSON handling as the pools (for the CLI)."""
    conn = await asyncpg.connect(database_url)
    await _init_connection(conn)
    return conn


async def create_pool(database_url: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        database_url, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=30,
        reset=_keep_session,
    )
