"""PostgreSQL: the read model of orientation sessions (migration 0038), written only by the
OrientationSession workflow's ``record_orientation_session`` activity and read by the API
(and by the session's facts activity: which members were absent before, which are on
another scheduled session)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from domain.sessions.model import SessionState, SessionStatus


async def record_session(conn: asyncpg.Connection, state: SessionState) -> bool:
    """Write ``state`` unless a newer version is stored; False when nothing was written."""
    d = state.details
    async with conn.transaction():
        written = await conn.fetchval(
            """
            INSERT INTO orientation_sessions (session_id, office, status, starts_at, time_zone, session_date, mode,
                language, destination_country, capacity, facilitator, participants, attended, absent, version,
                created_at, updated_at, state)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18::jsonb)
            ON CONFLICT (session_id) DO UPDATE SET status = EXCLUDED.status, participants = EXCLUDED.participants,
                attended = EXCLUDED.attended, absent = EXCLUDED.absent, version = EXCLUDED.version,
                updated_at = EXCLUDED.updated_at, state = EXCLUDED.state
            WHERE orientation_sessions.version < EXCLUDED.version
            RETURNING true
            """,
            state.session_id, d.office, state.status.value, d.starts_at, d.time_zone or "UTC", d.session_date(), d.mode,
            d.language, d.destination_country, d.capacity, d.facilitator, len(state.participants), state.attended,
            state.absent, state.version, state.created_at, state.updated_at, state.model_dump_json())
        if not written:
            return False
        is_open = state.status == SessionStatus.SCHEDULED
        await conn.executemany(
            """
            INSERT INTO orientation_participants (session_id, member_id, case_id, on_session, open, reinvited,
                attendance, absence_reason, applied)
            VALUES ($1, $2, $3, true, $4, $5, $6, $7, $8)
            ON CONFLICT (session_id, member_id) DO UPDATE SET case_id = EXCLUDED.case_id, on_session = true,
                open = EXCLUDED.open,
                reinvited = EXCLUDED.reinvited, attendance = EXCLUDED.attendance,
                absence_reason = EXCLUDED.absence_reason, applied = EXCLUDED.applied
            """,
            [(state.session_id, p.member_id, p.case_id, is_open, p.reinvited, p.attendance, p.absence_reason,
              p.result.applied if p.result else None) for p in state.participants])
        await conn.executemany(
            "UPDATE orientation_participants SET on_session = false, open = false "
            "WHERE session_id = $1 AND member_id = $2",
            [(state.session_id, r.member_id) for r in state.removed])
        return True


async def member_history(conn: asyncpg.Connection, member_ids: list[str],
                         session_id: str) -> tuple[set[str], dict[str, str]]:
    """(members absent from an earlier session, member -> another scheduled session holding them)."""
    rows = await conn.fetch(
        """
        SELECT member_id, session_id, open, attendance FROM orientation_participants
        WHERE member_id = ANY($1::text[]) AND session_id <> $2 AND (open OR attendance = 'absent')
        """, member_ids, session_id)
    absent = {r["member_id"] for r in rows if r["attendance"] == "absent"}
    other = {r["member_id"]: r["session_id"] for r in rows if r["open"]}
    return absent, other


async def get_session(conn: asyncpg.Connection, session_id: str) -> tuple[str, SessionState] | None:
    """The session's office and state, or None."""
    row = await conn.fetchrow("SELECT office, state FROM orientation_sessions WHERE session_id = $1", session_id)
    if row is None:
        return None
    raw = row["state"]
    return row["office"], (SessionState.model_validate_json(raw) if isinstance(raw, str)
                           else SessionState.model_validate(raw))


async def list_sessions(conn: asyncpg.Connection, *, offices: list[str], status: str | None = None,
                        language: str | None = None, destination_country: str | None = None,
                        starts_from: datetime | None = None, starts_until: datetime | None = None,
                        case_id: str | None = None, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """
        SELECT s.session_id, s.office, s.status, s.starts_at, s.time_zone, s.mode, s.language,
               s.destination_country, s.capacity, s.facilitator, s.participants, s.attended, s.absent, s.version,
               s.updated_at
        FROM orientation_sessions s
        WHERE s.office = ANY($1::text[])
          AND ($2::text IS NULL OR s.status = $2)
          AND ($3::text IS NULL OR s.language = $3)
          AND ($4::text IS NULL OR s.destination_country = $4)
          AND ($5::timestamptz IS NULL OR s.starts_at >= $5)
          AND ($6::timestamptz IS NULL OR s.starts_at < $6)
          AND ($7::text IS NULL OR EXISTS (SELECT 1 FROM orientation_participants p
                                            WHERE p.session_id = s.session_id AND p.case_id = $7 AND p.on_session))
        ORDER BY s.starts_at DESC, s.session_id
        LIMIT $8 OFFSET $9
        """, offices, status, language, destination_country, starts_from, starts_until, case_id, limit, offset)
    return [dict(r) for r in rows]


async def proposals(conn: asyncpg.Connection, state: SessionState, limit: int) -> list[dict[str, Any]]:
    """People the session could take, from the read model: members of the office's cases in
    orientation with an open orientation task, going to the session's destination, whose
    case's language is the session's; not on this or another scheduled session.  People absent
    from an earlier session come first (re-invited), then the longest waiting."""
    d = state.details
    rows = await conn.fetch(
        """
        SELECT t.case_id, t.member_id, m.full_name, m.date_of_birth, t.opened_at,
               EXISTS (SELECT 1 FROM orientation_participants a
                       WHERE a.member_id = t.member_id AND a.attendance = 'absent') AS reinvited
        FROM tasks t
        JOIN cases c ON c.case_id = t.case_id
        JOIN case_members m ON m.member_id = t.member_id
        WHERE t.office = $1 AND t.task_type = 'record_orientation' AND t.status = 'open'
          AND c.stage = 'orientation' AND c.status = 'active'
          AND c.destination_country = $2 AND c.programme_data->>'language' = $3
          AND NOT EXISTS (SELECT 1 FROM orientation_participants o
                          WHERE o.member_id = t.member_id AND (o.open OR (o.session_id = $4 AND o.on_session)))
        ORDER BY reinvited DESC, t.opened_at, t.case_id, m.position
        LIMIT $5
        """, d.office, d.destination_country, d.language, state.session_id, limit)
    return [dict(r) for r in rows]
