"""PostgreSQL: the read model of group movements (migration 0035), written only by the
Movement workflow's ``record_movement`` activity and read by the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from domain.movements.model import MovementState, MovementStatus

_OPEN = (MovementStatus.OPEN, MovementStatus.LOCKED)


async def record_movement(conn: asyncpg.Connection, state: MovementState) -> bool:
    """Write ``state`` unless a newer version is stored; False when nothing was written."""
    d = state.details
    async with conn.transaction():
        written = await conn.fetchval(
            """
            INSERT INTO movements (movement_id, office, kind, status, flight_number, carrier, departure_airport,
                arrival_airport, departure_at, departure_time_zone, seat_capacity, seats_taken, people, cases,
                version, created_at, updated_at, state)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18::jsonb)
            ON CONFLICT (movement_id) DO UPDATE SET status = EXCLUDED.status, seats_taken = EXCLUDED.seats_taken,
                people = EXCLUDED.people, cases = EXCLUDED.cases, version = EXCLUDED.version,
                updated_at = EXCLUDED.updated_at, state = EXCLUDED.state
            WHERE movements.version < EXCLUDED.version
            RETURNING true
            """,
            state.movement_id, d.office, d.kind.value, state.status.value, d.flight_number, d.carrier,
            d.departure_airport, d.arrival_airport, d.departure_at, d.departure_time_zone, d.seat_capacity,
            state.seats_taken, state.people, len(state.manifest), state.version, state.created_at, state.updated_at,
            state.model_dump_json(),
        )
        if not written:
            return False
        is_open = state.status in _OPEN
        await conn.executemany(
            """
            INSERT INTO movement_cases (movement_id, case_id, on_manifest, open, people, seats, booking, departure,
                removed_reason)
            VALUES ($1, $2, true, $3, $4, $5, $6, $7, NULL)
            ON CONFLICT (movement_id, case_id) DO UPDATE SET on_manifest = true, open = EXCLUDED.open,
                people = EXCLUDED.people, seats = EXCLUDED.seats, booking = EXCLUDED.booking,
                departure = EXCLUDED.departure, removed_reason = NULL
            """,
            [(state.movement_id, e.case_id, is_open, len(e.members), e.seats, e.booking.outcome if e.booking else None,
              e.departure.outcome if e.departure else None) for e in state.manifest])
        await conn.executemany(
            """
            UPDATE movement_cases SET on_manifest = false, open = false, removed_reason = $3,
                departure = coalesce($4, departure)
            WHERE movement_id = $1 AND case_id = $2
            """, [(state.movement_id, r.case_id, r.reason, r.release.outcome if r.release else None)
                  for r in state.removed])
        return True


async def other_open_movements(conn: asyncpg.Connection, case_ids: list[str], movement_id: str) -> dict[str, str]:
    """case id -> the other open movement whose manifest holds it."""
    rows = await conn.fetch(
        "SELECT case_id, movement_id FROM movement_cases WHERE case_id = ANY($1::text[]) AND open "
        "AND movement_id <> $2", case_ids, movement_id)
    return {r["case_id"]: r["movement_id"] for r in rows}


async def get_movement(conn: asyncpg.Connection, movement_id: str) -> tuple[str, MovementState] | None:
    """The movement's office and state, or None."""
    row = await conn.fetchrow("SELECT office, state FROM movements WHERE movement_id = $1", movement_id)
    if row is None:
        return None
    raw = row["state"]
    return row["office"], (MovementState.model_validate_json(raw) if isinstance(raw, str)
                           else MovementState.model_validate(raw))


async def list_movements(conn: asyncpg.Connection, *, offices: list[str], status: str | None = None,
                         departs_from: datetime | None = None, departs_until: datetime | None = None,
                         case_id: str | None = None, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """
        SELECT m.movement_id, m.office, m.kind, m.status, m.flight_number, m.carrier, m.departure_airport,
               m.arrival_airport, m.departure_at, m.departure_time_zone, m.seat_capacity, m.seats_taken, m.people,
               m.cases, m.version, m.updated_at
        FROM movements m
        WHERE m.office = ANY($1::text[])
          AND ($2::text IS NULL OR m.status = $2)
          AND ($3::timestamptz IS NULL OR m.departure_at >= $3)
          AND ($4::timestamptz IS NULL OR m.departure_at < $4)
          AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM movement_cases c WHERE c.movement_id = m.movement_id
                                            AND c.case_id = $5 AND c.on_manifest))
        ORDER BY m.departure_at DESC, m.movement_id
        LIMIT $6 OFFSET $7
        """, offices, status, departs_from, departs_until, case_id, limit, offset)
    return [dict(r) for r in rows]


async def travel_documents(conn: asyncpg.Connection, case_ids: list[str]) -> dict[str, str]:
    """member id -> the number of the member's latest visa or travel document, from the cases'
    recorded events (the manifest export reads them; the Movement workflow never does).

    A case split off another (``CaseSplitFrom``) keeps its members' ids, but the documents
    issued before the split are events of the case it was split from: those cases are read
    too, back through every split.  A member with numbers in several cases gets the latest
    recorded (by ``occurred_at``, then the stream's order), whichever case holds it."""
    rows = await conn.fetch(
        """
        WITH RECURSIVE lineage(case_id) AS (
            SELECT unnest($1::text[])
            UNION
            SELECT e.payload->>'from_case_id' FROM case_events e JOIN lineage l ON e.case_id = l.case_id
            WHERE e.event_type = 'CaseSplitFrom' AND e.payload->>'from_case_id' IS NOT NULL
        )
        SELECT DISTINCT ON (payload->>'member_id') payload->>'member_id' AS member_id,
               coalesce(payload->>'visa_number', payload->>'document_number') AS number
        FROM case_events
        WHERE case_id IN (SELECT case_id FROM lineage) AND payload->>'member_id' IS NOT NULL
          AND coalesce(payload->>'visa_number', payload->>'document_number') IS NOT NULL
        ORDER BY payload->>'member_id', occurred_at DESC, recorded_at DESC, seq DESC
        """, case_ids)
    return {r["member_id"]: r["number"] for r in rows}
