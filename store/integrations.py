"""Integration keys and the messages integrations send.

A key is ``itk_<key id>_<secret>``; only a SHA-256 of the secret is stored (the secret is
256 random bits, so a slow password hash adds nothing) and it is shown once, at creation.

Admins mint keys but see no case data, so a key whose event types write case data (every
type today) works only once a supervisor of each office it covers has approved it
(``integration_key_approvals``); until then it is ``pending_approval``.  A rotated key keeps
its approvals: same scopes, same partner, only the secret changes.

A stored message belongs to one office: its case's, when it names a case of the key's
offices; otherwise the key's office, when the key has one.  A multi-office key's message
that names no case of its offices has no office, and only a supervisor of *every* office of
the key may read it: it may concern any of them, so no one entitled to fewer may see it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import asyncpg
from pydantic import BaseModel, Field, computed_field

# Event types that write no case data, so their keys need no supervisor's approval.  None
# yet: a new event type needs approval unless it is listed here.
READ_ONLY_EVENT_TYPES: frozenset[str] = frozenset()


class KeyApproval(BaseModel):
    office: str
    approved_by: str
    approved_at: datetime


class IntegrationKey(BaseModel):
    key_id: str
    name: str
    event_types: list[str]
    offices: list[str]
    created_by: str
    created_at: datetime
    revoked_at: datetime | None = Field(description=(
        "When the key stopped working; after a rotation with an overlap, when it stops (a moment still ahead: "
        "the key works until then, status active)."))
    replaces: str | None
    last_used_at: datetime | None
    approvals: list[KeyApproval] = []

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pending_offices(self) -> list[str]:
        """Offices whose supervisor has still to approve the key before it works."""
        if all(e in READ_ONLY_EVENT_TYPES for e in self.event_types):
            return []
        approved = {a.office for a in self.approvals}
        return [o for o in self.offices if o not in approved]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> Literal["pending_approval", "active", "revoked"]:
        if self.revoked_at is not None and self.revoked_at <= datetime.now(UTC):
            return "revoked"
        return "pending_approval" if self.pending_offices else "active"


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


async def _approvals(conn: asyncpg.Connection, key_ids: list[str]) -> dict[str, list[KeyApproval]]:
    found: dict[str, list[KeyApproval]] = {k: [] for k in key_ids}
    for r in await conn.fetch("""SELECT key_id, office, approved_by, approved_at FROM integration_key_approvals
                                 WHERE key_id = ANY($1) ORDER BY office""", key_ids):
        found[r["key_id"]].append(KeyApproval(office=r["office"], approved_by=r["approved_by"],
                                              approved_at=r["approved_at"]))
    return found


async def _keys(conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> list[IntegrationKey]:
    approvals = await _approvals(conn, [r["key_id"] for r in rows])
    return [IntegrationKey(**{k: r[k] for k in r.keys() if k not in ("secret_hash", "revoked")},
                           approvals=approvals[r["key_id"]])
            for r in rows]


async def list_keys(conn: asyncpg.Connection, offices: list[str] | None = None) -> list[IntegrationKey]:
    """Every key, or (``offices``) the keys covering any of these offices."""
    rows = await conn.fetch(f"""SELECT {_COLUMNS} FROM integration_keys
                                WHERE $1::text[] IS NULL OR offices && $1 ORDER BY created_at DESC""", offices)
    return await _keys(conn, rows)


async def get_key(conn: asyncpg.Connection, key_id: str) -> IntegrationKey | None:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM integration_keys WHERE key_id = $1", key_id)
    return (await _keys(conn, rows))[0] if rows else None


async def approve_key(conn: asyncpg.Connection, key_id: str, offices: list[str], approved_by: str) -> None:
    """Approve a key for these offices (the approver's, among the key's)."""
    await conn.execute(
        """INSERT INTO integration_key_approvals (key_id, office, approved_by)
           SELECT $1, o, $3 FROM unnest($2::text[]) AS o
           ON CONFLICT (key_id, office) DO NOTHING""", key_id, offices, approved_by)


async def revoke_key(conn: asyncpg.Connection, key_id: str) -> IntegrationKey | None:
    """Revoke at once, also a rotated key still in its overlap (``rotate_key``), and the keys it
    replaced that are still in theirs: revoking the new key of a line after a leak would
    otherwise leave the old one working for the rest of its overlap."""
    async with conn.transaction():
        rows = await conn.fetch(
            f"""UPDATE integration_keys SET revoked_at = least(coalesce(revoked_at, now()), now())
                 WHERE key_id = $1 RETURNING {_COLUMNS}""", key_id)
        if rows:
            await conn.execute(
                """UPDATE integration_keys SET revoked_at = now()
                   WHERE key_id = ANY($1::text[]) AND revoked_at > now()""",
                [k for k in await key_lineage(conn, key_id) if k != key_id])
    return (await _keys(conn, rows))[0] if rows else None


class KeyRevoked(Exception):
    """A revoked (or already rotated) key cannot be rotated: that would bring it back."""


async def rotate_key(conn: asyncpg.Connection, key_id: str, created_by: str,
                     overlap: timedelta = timedelta(0)) -> IssuedKey | None:
    """A new key with the same scopes; the old one keeps working for ``overlap`` (the partner
    deploys the new key meanwhile; none: it stops at once).  A key revoked (or rotated) before
    raises ``KeyRevoked``: revoking is final, and a key has one successor."""
    async with conn.transaction():
        revoked = await conn.fetchrow("SELECT revoked_at FROM integration_keys WHERE key_id = $1 FOR UPDATE", key_id)
        if revoked is not None and revoked["revoked_at"] is not None:
            raise KeyRevoked(key_id)
        rows = await conn.fetch(f"""UPDATE integration_keys SET revoked_at = now() + $2::interval
                                      WHERE key_id = $1 RETURNING {_COLUMNS}""", key_id, overlap)
        if not rows:
            return None
        # The keys this one replaced, still in their own overlap, stop no later than it does: a
        # rotation with no overlap after a leak ends the whole line at once.
        await conn.execute(
            """UPDATE integration_keys SET revoked_at = least(revoked_at, now() + $2::interval)
               WHERE key_id = ANY($1::text[]) AND revoked_at > now()""",
            [k for k in await key_lineage(conn, key_id) if k != key_id], overlap)
        old = (await _keys(conn, rows))[0]
        new = await create_key(conn, name=old.name, event_types=old.event_types, offices=old.offices,
                               created_by=created_by, replaces=key_id)
        await conn.execute(
            """INSERT INTO integration_key_approvals (key_id, office, approved_by, approved_at)
               SELECT $1, office, approved_by, approved_at FROM integration_key_approvals WHERE key_id = $2""",
            new.key_id, key_id)
        return new.model_copy(update={"approvals": old.approvals})


async def key_lineage(conn: asyncpg.Connection, key_id: str) -> set[str]:
    """The key and every key it replaced, back through its rotations."""
    rows = await conn.fetch(
        """WITH RECURSIVE line (key_id, replaces, depth) AS (
               SELECT key_id, replaces, 0 FROM integration_keys WHERE key_id = $1
               UNION ALL
               SELECT k.key_id, k.replaces, line.depth + 1 FROM integration_keys k
               JOIN line ON k.key_id = line.replaces WHERE line.depth < 1000)
           SELECT key_id FROM line""", key_id)
    return {r["key_id"] for r in rows}


async def verify_key(conn: asyncpg.Connection, api_key: str) -> IntegrationKey | None:
    parts = api_key.split("_", 2)
    if len(parts) != 3 or parts[0] != "itk":
        return None
    if not parts[1].isalnum():
        return None
    rows = await conn.fetch(f"""SELECT {_COLUMNS}, secret_hash, (revoked_at <= now()) IS TRUE AS revoked
                                FROM integration_keys WHERE key_id = $1""", parts[1])
    if not rows or rows[0]["revoked"] or not hmac.compare_digest(rows[0]["secret_hash"], _hash(parts[2])):
        return None
    await conn.execute("UPDATE integration_keys SET last_used_at = now() WHERE key_id = $1", parts[1])
    return (await _keys(conn, rows))[0]


def storable(value: Any) -> Any:
    """A received value as PostgreSQL can keep it: NUL characters and lone surrogates (which
    text and jsonb refuse) replaced, everything else as sent."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value


def message_office(key: IntegrationKey, case_office: str | None) -> str | None:
    """The office a message belongs to (see the module's docstring): its case's, if that is
    one of the key's offices; else the key's single office; else none."""
    if case_office is not None and case_office in key.offices:
        return case_office
    return key.offices[0] if len(key.offices) == 1 else None


async def record_message(conn: asyncpg.Connection, *, key_id: str, event_type: str, case_id: str | None,
                         office: str | None, status: str, http_status: int, error: dict[str, Any] | None,
                         payload: dict[str, Any]) -> int:
    return await conn.fetchval(
        """INSERT INTO integration_messages (key_id, event_type, case_id, office, status, http_status, error, payload)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id""",
        key_id, storable(event_type), case_id, office, status, http_status,
        json.dumps(storable(error)) if error else None, json.dumps(storable(payload)))


async def list_messages(conn: asyncpg.Connection, *, offices: list[str], status: str | None = None,
                        limit: int = 100) -> list[IntegrationMessageRecord]:
    """The messages a supervisor of these offices may read: those of their offices, and
    office-less ones of keys all of whose offices are theirs."""
    rows = await conn.fetch(
        """SELECT m.* FROM integration_messages m JOIN integration_keys k USING (key_id)
           WHERE (m.office = ANY($1) OR (m.office IS NULL AND k.offices <@ $1))
             AND ($2::text IS NULL OR m.status = $2)
           ORDER BY m.id DESC LIMIT $3""",
        offices, status, limit)
    return [IntegrationMessageRecord(**dict(r)) for r in rows]
