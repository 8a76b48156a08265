"""Integration keys and the messages integrations send.

A key is ``itk_<key id>_<secret>``; only a SHA-256 of the secret is stored (the secret is
256 random bits, so a slow password hash adds nothing) and it is shown once, at creation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel


class IntegrationKey(BaseModel):
    key_id: str
    name: str
    event_types: list[str]
    offices: list[str]
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    replaces: str | None
    last_used_at: datetime | None


class IssuedKey(IntegrationKey):
    api_key: str


class IntegrationMessageRecord(BaseModel):
    id: int
    key_id: str
    received_at: datetime
    event_type: str
    case_id: str | None
    office: str | None
    status: str
    http_status: int
    error: dict[str, Any] | None
    payload: dict[str, Any]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


_COLUMNS = "key_id, name, event_types, offices, created_by, created_at, revoked_at, replaces, last_used_at"


async def create_key(conn: asyncpg.Connection, *, name: str, event_types: list[str], offices: list[str],
                     created_by: str, replaces: str | None = None) -> IssuedKey:
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    row = await conn.fetchrow(
        f"""INSERT INTO integration_keys (key_id, name, secret_hash, event_types, offices, created_by, replaces)
            VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}""",
        key_id, name, _hash(secret), event_types, offices, created_by, replaces)
    return IssuedKey(**dict(row), api_key=f"itk_{key_id}_{secret}")


async def list_keys(conn: asyncpg.Connection) -> list[IntegrationKey]:
    return [IntegrationKey(**dict(r)) for r in
            await conn.fetch(f"SELECT {_COLUMNS} FROM integration_keys ORDER BY created_at DESC")]


async def revoke_key(conn: asyncpg.Connection, key_id: str) -> IntegrationKey | None:
    row = await conn.fetchrow(
        f"UPDATE integration_keys SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = $1 RETURNING {_COLUMNS}",
        key_id)
    return IntegrationKey(**dict(row)) if row else None


async def rotate_key(conn: asyncpg.Connection, key_id: str, created_by: str) -> IssuedKey | None:
    """A new key with the same scopes; the old one stops working at once."""
    async with conn.transaction():
        old = await revoke_key(conn, key_id)
        if old is None:
            return None
        return await create_key(conn, name=old.name, event_types=old.event_types, offices=old.offices,
                                created_by=created_by, replaces=key_id)


async def verify_key(conn: asyncpg.Connection, api_key: str) -> IntegrationKey | None:
    parts = api_key.split("_", 2)
    if len(parts) != 3 or parts[0] != "itk":
        return None
    row = await conn.fetchrow(f"SELECT {_COLUMNS}, secret_hash FROM integration_keys WHERE key_id = $1", parts[1])
    if row is None or row["revoked_at"] is not None or not hmac.compare_digest(row["secret_hash"], _hash(parts[2])):
        return None
    await conn.execute("UPDATE integration_keys SET last_used_at = now() WHERE key_id = $1", parts[1])
    return IntegrationKey(**{k: row[k] for k in IntegrationKey.model_fields})


async def record_message(conn: asyncpg.Connection, *, key_id: str, event_type: str, case_id: str | None,
                         status: str, http_status: int, error: dict[str, Any] | None, payload: dict[str, Any]) -> int:
    return await conn.fetchval(
        """INSERT INTO integration_messages (key_id, event_type, case_id, office, status, http_status, error, payload)
           VALUES ($1, $2, $3, (SELECT office FROM cases WHERE case_id = $3), $4, $5, $6, $7) RETURNING id""",
        key_id, event_type, case_id, status, http_status, json.dumps(error) if error else None, json.dumps(payload))


async def list_messages(conn: asyncpg.Connection, *, offices: list[str], status: str | None = None,
                        limit: int = 100) -> list[IntegrationMessageRecord]:
    """An office's messages: those about its cases, and unplaced ones from keys scoped to it."""
    rows = await conn.fetch(
        """SELECT m.* FROM integration_messages m JOIN integration_keys k USING (key_id)
           WHERE (m.office = ANY($1) OR (m.office IS NULL AND k.offices && $1))
             AND ($2::text IS NULL OR m.status = $2)
           ORDER BY m.id DESC LIMIT $3""",
        offices, status, limit)
    return [IntegrationMessageRecord(**dict(r)) for r in rows]
