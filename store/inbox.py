"""Idempotency keys and the durable inbox of integration messages (issue 14).

**Idempotency keys** (the IETF draft "The Idempotency-Key HTTP Header Field"): a client
(an integration key, or a user) names a request with a key; the first request with it is
remembered with a fingerprint of what it said (method, route, canonical JSON body) and,
once answered with a success, its answer.  The same key again with the same fingerprint
gets that answer, nothing applied again; with another fingerprint, 422; while the first is
still being served, 409 (``locked_until`` bounds how long: a request whose process died
frees its key then).  A refused request (4xx/5xx) applied nothing and frees its key, so the
client may send it again, fixed or not, under the same key.  Keys are purged after the
retention period (``ITINERA_IDEMPOTENCY_RETENTION_HOURS``).

**The inbox** is ``integration_messages``: a message accepted at intake is ``pending``
until the API's delivery loop (``api.inbox_delivery``) applies it (``applied``) or its
case's workflow refuses it (``rejected``, with the code, message and details).  A supervisor
of its office may send a rejected one again (``pending``) or dismiss it with a reason
(``dismissed``).  Messages refused at intake are kept too, ``rejected`` with
``accepted = false``: the partner was told at once, so they are dismissed, never retried.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel

from store.integrations import storable

INBOX_STATES = ("pending", "applied", "rejected", "dismissed")


# --- idempotency keys ---------------------------------------------------------------------

def fingerprint(method: str, route: str, body: bytes) -> str:
    """What a request says: its method, route and body (as canonical JSON when it is JSON,
    so a partner's retry that orders its keys differently is the same request)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    return hashlib.sha256(method.encode() + b" " + route.encode() + b"\n" + canonical).hexdigest()


@dataclass(frozen=True)
class KnownKey:
    """A key already used: its fingerprint, and its answer once it has one (None: in progress)."""

    fingerprint: str
    status_code: int | None
    response: Any


async def claim_key(conn: asyncpg.Connection, scope: str, key: str, fingerprint_: str, *,
                    lock_seconds: float, retention_hours: float) -> KnownKey | None:
    """Take ``key`` for this request (None), or say how it was used before.

    A key whose request is in progress past ``locked_until`` (its process died) is taken
    over by the same request; one older than the retention period is a new key.  Concurrent
    claims of one key wait on its primary key: exactly one takes it."""
    taken = await conn.fetchval(
        """INSERT INTO idempotency_keys (scope, key, fingerprint, locked_until)
           VALUES ($1, $2, $3, now() + make_interval(secs => $4))
           ON CONFLICT (scope, key) DO UPDATE
              SET fingerprint = EXCLUDED.fingerprint, locked_until = EXCLUDED.locked_until, created_at = now(),
                  status_code = NULL, response = NULL
            WHERE idempotency_keys.created_at < now() - make_interval(secs => $5)
               OR (idempotency_keys.status_code IS NULL AND idempotency_keys.locked_until < now()
                   AND idempotency_keys.fingerprint = EXCLUDED.fingerprint)
           RETURNING true""",
        scope, key, fingerprint_, float(lock_seconds), float(retention_hours) * 3600)
    if taken:
        return None
    row = await conn.fetchrow("SELECT fingerprint, status_code, response FROM idempotency_keys "
                              "WHERE scope = $1 AND key = $2", scope, key)
    if row is None:  # purged meanwhile: try once more
        return await claim_key(conn, scope, key, fingerprint_, lock_seconds=lock_seconds,
                               retention_hours=retention_hours)
    response = row["response"]
    return KnownKey(row["fingerprint"], row["status_code"],
                    json.loads(response) if isinstance(response, str) else response)


async def known_key(conn: asyncpg.Connection, scope: str, key: str, retention_hours: float) -> KnownKey | None:
    """How ``key`` was used within the retention period, if it was (a read: takes nothing)."""
    row = await conn.fetchrow("SELECT fingerprint, status_code, response FROM idempotency_keys WHERE scope = $1 "
                              "AND key = $2 AND created_at >= now() - make_interval(secs => $3)",
                              scope, key, float(retention_hours) * 3600)
    if row is None:
        return None
    response = row["response"]
    return KnownKey(row["fingerprint"], row["status_code"],
                    json.loads(response) if isinstance(response, str) else response)


async def answer_key(conn: asyncpg.Connection, scope: str, key: str, status_code: int, response: Any) -> None:
    await conn.execute("UPDATE idempotency_keys SET status_code = $3, response = $4, locked_until = NULL "
                       "WHERE scope = $1 AND key = $2", scope, key, status_code, json.dumps(response))


async def release_key(conn: asyncpg.Connection, scope: str, key: str) -> None:
    """The request was refused: nothing applied, the key is free again."""
    await conn.execute("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status_code IS NULL",
                       scope, key)


async def purge_keys(conn: asyncpg.Connection | asyncpg.Pool, retention_hours: float) -> int:
    done = await conn.execute("DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)",
                              float(retention_hours) * 3600)
    return int(done.split()[-1])


# --- the inbox ----------------------------------------------------------------------------

class InboxMessage(BaseModel):
    id: int
    key_id: str
    received_at: datetime
    event_type: str
    case_id: str | None
    office: str | None
    status: str
    accepted: bool
    http_status: int
    idempotency_key: str | None
    attempts: int
    next_attempt_at: datetime | None
    last_failure: dict[str, Any] | None
    held_reason: str | None
    held_until: datetime | None
    task_id: str | None
    resolved_at: datetime | None
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    retried_by: str | None
    retried_at: datetime | None
    dismissed_by: str | None
    dismissed_at: datetime | None
    dismissed_reason: str | None
    payload: dict[str, Any]


def _message(row: asyncpg.Record) -> InboxMessage:
    values = dict(row)
    for column in ("last_failure", "result", "error", "payload"):
        if isinstance(values.get(column), str):
            values[column] = json.loads(values[column])
    return InboxMessage(**{k: v for k, v in values.items() if k in InboxMessage.model_fields})


async def accept(conn: asyncpg.Connection, *, key_id: str, event_type: str, case_id: str | None, office: str | None,
                 payload: dict[str, Any], idempotency_key: str) -> int:
    """Commit an accepted message to the inbox, due at once."""
    return await conn.fetchval(
        """INSERT INTO integration_messages (key_id, event_type, case_id, office, status, http_status, payload,
                                             idempotency_key, accepted, next_attempt_at)
           VALUES ($1, $2, $3, $4, 'pending', 202, $5, $6, true, now()) RETURNING id""",
        key_id, storable(event_type), case_id, office, json.dumps(storable(payload)), storable(idempotency_key))


async def get(conn: asyncpg.Connection | asyncpg.Pool, message_id: int) -> InboxMessage | None:
    row = await conn.fetchrow("SELECT * FROM integration_messages WHERE id = $1", message_id)
    return _message(row) if row else None


async def claim_due(conn: asyncpg.Connection | asyncpg.Pool, *, limit: int, lease_seconds: float) -> list[InboxMessage]:
    """Pending messages due now - their next attempt's time has come, or they are held and
    their case has changed since - leased to this caller (``SKIP LOCKED``: several API
    processes share the work, each message goes to one; a lease a dead process left
    expires)."""
    rows = await conn.fetch(
        """UPDATE integration_messages m
              SET lease_until = now() + make_interval(secs => $2), attempts = m.attempts + 1
            WHERE m.id IN (
                  SELECT d.id FROM integration_messages d LEFT JOIN cases c ON c.case_id = d.case_id
                   WHERE d.status = 'pending' AND (d.lease_until IS NULL OR d.lease_until < now())
                     AND (d.next_attempt_at <= now()
                          OR (d.held_reason IS NOT NULL AND c.version IS DISTINCT FROM d.case_version_seen))
                   ORDER BY d.id LIMIT $1
                   FOR UPDATE OF d SKIP LOCKED)
           RETURNING m.*""",
        limit, float(lease_seconds))
    return sorted((_message(r) for r in rows), key=lambda m: m.id)


async def set_task(conn: asyncpg.Connection | asyncpg.Pool, message_id: int, task_id: str) -> None:
    """The task the message completes, kept before the command is sent: an attempt after one
    that may have been applied sends the same command again (same update id) instead of
    looking for an open task, which that one may have closed."""
    await conn.execute("UPDATE integration_messages SET task_id = $2 WHERE id = $1", message_id, task_id)


async def mark_applied(conn: asyncpg.Connection | asyncpg.Pool, message_id: int, case_id: str,
                       result: dict[str, Any]) -> None:
    await conn.execute(
        """UPDATE integration_messages SET status = 'applied', case_id = $2, result = $3, resolved_at = now(),
                  lease_until = NULL, next_attempt_at = NULL, held_reason = NULL, held_until = NULL,
                  last_failure = NULL
            WHERE id = $1 AND status = 'pending'""", message_id, case_id, json.dumps(result))


async def mark_rejected(conn: asyncpg.Connection | asyncpg.Pool, message_id: int, error: dict[str, Any]) -> None:
    await conn.execute(
        """UPDATE integration_messages SET status = 'rejected', error = $2, resolved_at = now(),
                  lease_until = NULL, next_attempt_at = NULL, held_reason = NULL
            WHERE id = $1 AND status = 'pending'""", message_id, json.dumps(error))


async def mark_failed(conn: asyncpg.Connection | asyncpg.Pool, message_id: int, failure: dict[str, Any],
                      retry_in_seconds: float) -> None:
    """A transient failure (the engine unavailable): pending, tried again later."""
    await conn.execute(
        """UPDATE integration_messages SET last_failure = $2, lease_until = NULL,
                  next_attempt_at = now() + make_interval(secs => $3)
            WHERE id = $1 AND status = 'pending'""", message_id, json.dumps(failure), float(retry_in_seconds))


async def mark_held(conn: asyncpg.Connection | asyncpg.Pool, message_id: int, reason: str, case_version: int,
                    hold_seconds: float, recheck_seconds: float) -> datetime:
    """An early message: pending until its task opens (looked at again when its case changes,
    and at least every ``recheck_seconds``), rejected once held for ``hold_seconds``."""
    return await conn.fetchval(
        """UPDATE integration_messages
              SET held_reason = $2, case_version_seen = $3, lease_until = NULL,
                  held_until = coalesce(held_until, now() + make_interval(secs => $4)),
                  next_attempt_at = least(coalesce(held_until, now() + make_interval(secs => $4)),
                                          now() + make_interval(secs => $5))
            WHERE id = $1 AND status = 'pending' RETURNING held_until""",
        message_id, reason, case_version, float(hold_seconds), float(recheck_seconds))


async def retry(conn: asyncpg.Connection, message_id: int, username: str) -> bool:
    """A rejected (accepted-at-intake) message sent to its case again."""
    done = await conn.execute(
        """UPDATE integration_messages SET status = 'pending', attempts = 0, next_attempt_at = now(),
                  lease_until = NULL, held_reason = NULL, held_until = NULL, case_version_seen = NULL,
                  task_id = NULL, resolved_at = NULL, last_failure = NULL, retried_by = $2, retried_at = now()
            WHERE id = $1 AND status = 'rejected' AND accepted""", message_id, username)
    return done.endswith(" 1")


async def dismiss(conn: asyncpg.Connection, message_id: int, username: str, reason: str) -> bool:
    done = await conn.execute(
        """UPDATE integration_messages SET status = 'dismissed', dismissed_by = $2, dismissed_at = now(),
                  dismissed_reason = $3
            WHERE id = $1 AND status = 'rejected'""", message_id, username, reason)
    return done.endswith(" 1")


async def list_for_offices(conn: asyncpg.Connection, *, offices: list[str], status: str | None,
                           limit: int) -> list[InboxMessage]:
    """The messages a supervisor of these offices may see (the rule of ``store.integrations``)."""
    rows = await conn.fetch(
        """SELECT m.* FROM integration_messages m JOIN integration_keys k USING (key_id)
           WHERE (m.office = ANY($1) OR (m.office IS NULL AND k.offices <@ $1))
             AND ($2::text IS NULL OR m.status = $2)
           ORDER BY m.id DESC LIMIT $3""", offices, status, limit)
    return [_message(r) for r in rows]


def visible_to(message: InboxMessage, offices: list[str], key_offices: list[str]) -> bool:
    if message.office is not None:
        return message.office in offices
    return set(key_offices) <= set(offices)
