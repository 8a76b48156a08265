"""Outbound webhooks in PostgreSQL (migration 0034): subscriptions, the transactional outbox,
deliveries and their attempts.

``outbox_rows`` / ``enqueue`` run inside ``store.projection.record_case_events``'s
transaction: an event reaches the outbox if and only if it is recorded.  The insert adds
rows only while an active subscription of the case's office wants the event's type (one
statement either way), so a deployment without subscribers stores nothing.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from stored_secrets import SecretSealer

from domain.events import RecordedEvent
from domain.state import CaseState

STAGE_CHANGED = "case.stage_changed"
ARRIVED = "case.arrived"
HEALTH_ASSESSED = "case.health_assessed"
EVENT_TYPES = (STAGE_CHANGED, ARRIVED, HEALTH_ASSESSED)
# Event types that are health data as a whole: only a subscription allowed health data may have them.
HEALTH_EVENT_TYPES = frozenset({HEALTH_ASSESSED})
# Closure reasons that tell a health outcome: sent only to subscriptions allowed health data.
HEALTH_CLOSURE_REASONS = frozenset({"medically_not_cleared"})


def _base(state: CaseState, recorded: RecordedEvent, kind: str) -> dict[str, Any]:
    return {"id": recorded.event_id, "type": kind, "occurred_at": recorded.occurred_at.isoformat(),
            "case": {"case_id": state.case_id, "external_referral_id": state.external_referral_id,
                     "office": state.office, "programme": str(state.programme), "seq": recorded.seq},
            "data": {}}


def outbox_rows(state: CaseState, events: list[RecordedEvent]) -> list[tuple[str, str, dict[str, Any], datetime]]:
    """(event_id, webhook event type, body, occurred_at) of the events subscribers may receive.
    Health details go under ``body["health"]``; the dispatcher drops them for a subscription
    that is not allowed them."""
    rows = []
    for recorded in events:
        event, kind = recorded.event, recorded.type  # by type name: events may live in programme folders
        if kind == "StageEntered":
            body = _base(state, recorded, STAGE_CHANGED)
            body["data"] = {"stage": str(event.stage), "previous_stage": str(event.previous_stage)
                            if event.previous_stage is not None else None}
        elif kind == "CaseClosed":
            body = _base(state, recorded, STAGE_CHANGED)
            body["data"] = {"stage": "closed", "previous_stage": str(event.stage)}
            if event.reason in HEALTH_CLOSURE_REASONS:
                body["health"] = {"closure_reason": event.reason}
            else:
                body["data"]["closure_reason"] = event.reason
        elif kind == "ArrivalConfirmed":
            body = _base(state, recorded, ARRIVED)
            # Free-text notes never leave: they may hold anything.
            body["data"] = {"arrived_on": event.arrived_on.isoformat(), "place": event.place,
                            "receiving_partner": getattr(event, "receiving_partner", None)}
        elif kind == "HealthAssessmentRecorded":
            body = _base(state, recorded, HEALTH_ASSESSED)
            body["data"] = {"member_id": getattr(event, "member_id", None)}
            body["health"] = {k: v for k, v in event.model_dump(mode="json").items()
                              if k in ("outcome", "assessment_date", "clearance_valid_until")}
        else:
            continue
        rows.append((recorded.event_id, body["type"], body, recorded.occurred_at))
    return rows


OUTBOX_CHANNEL = "itinera_webhook_outbox"  # NOTIFY on commit of new outbox rows (webhook_dispatch.py listens)

_ENQUEUE = """
INSERT INTO webhook_outbox (event_id, case_id, office, event_type, payload, occurred_at)
SELECT e.event_id, $1, $2, e.event_type, e.payload::jsonb, e.occurred_at
FROM unnest($3::uuid[], $4::text[], $5::text[], $6::timestamptz[]) AS e(event_id, event_type, payload, occurred_at)
WHERE EXISTS (SELECT 1 FROM webhook_subscriptions s
              WHERE s.active AND $2 = ANY (s.offices) AND e.event_type = ANY (s.event_types))
ON CONFLICT (event_id) DO NOTHING
"""


async def enqueue(conn: asyncpg.Connection, state: CaseState, events: list[RecordedEvent]) -> None:
    """In the recording transaction: the outbox rows of ``events`` (none when no subscriber)."""
    rows = outbox_rows(state, events)
    if rows:
        done = await conn.execute(_ENQUEUE, state.case_id, state.office, [r[0] for r in rows], [r[1] for r in rows],
                                  [json.dumps(r[2]) for r in rows], [r[3] for r in rows])
        if not done.endswith(" 0"):
            # Wakes the dispatchers when (and only if) the transaction commits.
            await conn.execute(f"NOTIFY {OUTBOX_CHANNEL}")


# --- subscriptions ---------------------------------------------------------------------------------


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    url: str
    description: str | None
    event_types: list[str]
    offices: list[str]
    include_health_data: bool
    active: bool
    created_by: str
    created_at: datetime
    rotated_at: datetime | None
    previous_secret_until: datetime | None


_SUB_COLUMNS = ("subscription_id, url, description, event_types, offices, include_health_data, active, created_by, "
                "created_at, rotated_at, previous_secret_until")


def _sub(row: asyncpg.Record) -> Subscription:
    return Subscription(**{k: (list(row[k]) if k in ("event_types", "offices") else row[k])
                           for k in _SUB_COLUMNS.split(", ")})


async def create_subscription(conn: asyncpg.Connection, *, url: str, description: str | None, event_types: list[str],
                              offices: list[str], include_health_data: bool, created_by: str,
                              sealer: SecretSealer) -> tuple[Subscription, str]:
    """A new subscription and its secret (returned in clear once; stored sealed)."""
    secret, subscription_id = new_secret(), "whs_" + secrets.token_hex(8)
    row = await conn.fetchrow(
        f"INSERT INTO webhook_subscriptions (subscription_id, url, description, event_types, offices, "
        f"include_health_data, secret, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {_SUB_COLUMNS}",
        subscription_id, url, description, event_types, offices, include_health_data,
        sealer.seal(secret, subscription_id), created_by)
    return _sub(row), secret


async def get_subscription(conn: asyncpg.Connection, subscription_id: str) -> Subscription | None:
    row = await conn.fetchrow(f"SELECT {_SUB_COLUMNS} FROM webhook_subscriptions WHERE subscription_id = $1",
                              subscription_id)
    return _sub(row) if row else None


async def list_subscriptions(conn: asyncpg.Connection, offices: list[str]) -> list[Subscription]:
    rows = await conn.fetch(f"SELECT {_SUB_COLUMNS} FROM webhook_subscriptions WHERE offices <@ $1::text[] "
                            "ORDER BY created_at DESC", offices)
    return [_sub(r) for r in rows]


async def rotate_secret(conn: asyncpg.Connection, subscription_id: str, grace_seconds: int,
                        sealer: SecretSealer) -> tuple[Subscription, str]:
    secret = new_secret()
    row = await conn.fetchrow(
        "UPDATE webhook_subscriptions SET previous_secret = secret, secret = $2, rotated_at = now(), "
        "previous_secret_until = now() + make_interval(secs => $3) WHERE subscription_id = $1 "
        f"RETURNING {_SUB_COLUMNS}", subscription_id, sealer.seal(secret, subscription_id), grace_seconds)
    return _sub(row), secret


async def deactivate(conn: asyncpg.Connection, subscription_id: str) -> Subscription:
    row = await conn.fetchrow(
        "UPDATE webhook_subscriptions SET active = false, deactivated_at = coalesce(deactivated_at, now()) "
        f"WHERE subscription_id = $1 RETURNING {_SUB_COLUMNS}", subscription_id)
    return _sub(row)


async def deliveries(conn: asyncpg.Connection, subscription_id: str, *, before: int | None,
                     limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT d.delivery_id, o.event_id, o.event_type, o.case_id, d.status, d.attempts, d.next_attempt_at, "
        "d.delivered_at, d.last_error, d.created_at, coalesce((SELECT json_agg(json_build_object("
        "'attempt', a.attempt, 'attempted_at', a.attempted_at, 'status_code', a.status_code, 'error', a.error, "
        "'duration_ms', a.duration_ms) ORDER BY a.attempt) FROM webhook_attempts a "
        "WHERE a.delivery_id = d.delivery_id), '[]') AS attempt_log "
        "FROM webhook_deliveries d JOIN webhook_outbox o USING (outbox_id) WHERE d.subscription_id = $1 "
        "AND ($2::bigint IS NULL OR d.delivery_id < $2) ORDER BY d.delivery_id DESC LIMIT $3",
        subscription_id, before, limit)
    out = []
    for r in rows:
        item = dict(r)
        item["event_id"] = str(item["event_id"])
        log = item.pop("attempt_log")
        item["attempt_log"] = json.loads(log) if isinstance(log, str) else log
        out.append(item)
    return out


# --- the dispatcher's queries ----------------------------------------------------------------------


async def fan_out(conn: asyncpg.Connection, limit: int = 500) -> int:
    """Deliveries for outbox rows not yet fanned out: one per active subscription of the
    event's office and type (health-only types only to subscriptions allowed health data)."""
    async with conn.transaction():
        ids = [r["outbox_id"] for r in await conn.fetch(
            "SELECT outbox_id FROM webhook_outbox WHERE NOT fanned_out ORDER BY outbox_id LIMIT $1 "
            "FOR UPDATE SKIP LOCKED", limit)]
        if not ids:
            return 0
        await conn.execute(
            "INSERT INTO webhook_deliveries (outbox_id, subscription_id) "
            "SELECT o.outbox_id, s.subscription_id FROM webhook_outbox o JOIN webhook_subscriptions s "
            "ON s.active AND o.office = ANY (s.offices) AND o.event_type = ANY (s.event_types) "
            "AND (s.include_health_data OR NOT (o.event_type = ANY ($2::text[]))) "
            "WHERE o.outbox_id = ANY ($1::bigint[]) ON CONFLICT (outbox_id, subscription_id) DO NOTHING",
            ids, sorted(HEALTH_EVENT_TYPES))
        await conn.execute("UPDATE webhook_outbox SET fanned_out = true WHERE outbox_id = ANY ($1::bigint[])", ids)
        return len(ids)


async def lease_due(conn: asyncpg.Connection, limit: int, lease_seconds: float) -> list[asyncpg.Record]:
    """Due deliveries, leased to this dispatcher (another one skips them until the lease ends)."""
    return await conn.fetch(
        "UPDATE webhook_deliveries d SET lease_until = now() + make_interval(secs => $2) "
        "FROM webhook_outbox o, webhook_subscriptions s "
        "WHERE d.delivery_id IN (SELECT delivery_id FROM webhook_deliveries WHERE status = 'pending' "
        "  AND next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now()) "
        "  ORDER BY next_attempt_at, delivery_id LIMIT $1 FOR UPDATE SKIP LOCKED) "
        "AND o.outbox_id = d.outbox_id AND s.subscription_id = d.subscription_id "
        "RETURNING d.delivery_id, d.attempts, o.event_id, o.event_type, o.payload, s.subscription_id, s.url, "
        "s.secret, s.active, s.include_health_data, "
        "CASE WHEN s.previous_secret_until > now() THEN s.previous_secret END AS previous_secret",
        limit, lease_seconds)


async def record_attempt(conn: asyncpg.Connection, delivery_id: int, attempt: int, *, status_code: int | None,
                         error: str | None, duration_ms: int, delivered: bool, retry_in: float | None) -> None:
    """The attempt's row and the delivery's new state, in one transaction.  ``retry_in`` None
    and not delivered: given up (status failed)."""
    async with conn.transaction():
        await conn.execute("INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, duration_ms) "
                           "VALUES ($1, $2, $3, $4, $5)", delivery_id, attempt, status_code, error, duration_ms)
        if delivered:
            await conn.execute("UPDATE webhook_deliveries SET status = 'delivered', attempts = $2, "
                               "delivered_at = now(), last_error = NULL, lease_until = NULL WHERE delivery_id = $1",
                               delivery_id, attempt)
        elif retry_in is None:
            await conn.execute("UPDATE webhook_deliveries SET status = 'failed', attempts = $2, last_error = $3, "
                               "lease_until = NULL WHERE delivery_id = $1", delivery_id, attempt, error)
        else:
            await conn.execute("UPDATE webhook_deliveries SET attempts = $2, last_error = $3, lease_until = NULL, "
                               "next_attempt_at = now() + make_interval(secs => $4) WHERE delivery_id = $1",
                               delivery_id, attempt, error, retry_in)


async def purge_settled(conn: asyncpg.Connection | asyncpg.Pool, retention_days: float) -> int:
    """Empty the payload (the case data) of outbox rows older than ``retention_days`` whose
    every delivery is settled; the rows and the delivery log stay.  The number purged."""
    done = await conn.execute(
        "UPDATE webhook_outbox o SET payload = '{}'::jsonb, purged_at = now() "
        "WHERE o.purged_at IS NULL AND o.fanned_out AND o.recorded_at < now() - make_interval(secs => $1) "
        "AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.outbox_id = o.outbox_id AND d.status = 'pending')",
        retention_days * 86400)
    return int(done.split()[-1])
