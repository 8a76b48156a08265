"""The audit trail: append and read (never change) ``audit_log``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor_kind: str
    actor_id: str
    actor_role: str | None
    actor_offices: list[str]
    action: str
    case_id: str | None
    office: str | None
    outcome: str
    status: int
    source_ip: str | None


async def append(conn: asyncpg.Connection | asyncpg.Pool, *, actor_kind: str, actor_id: str, actor_role: str | None,
                 actor_offices: list[str], action: str, case_id: str | None, outcome: str, status: int,
                 source_ip: str | None) -> None:
    """One row; the office is the case's, looked up in the same statement."""
    await conn.execute(
        """INSERT INTO audit_log (actor_kind, actor_id, actor_role, actor_offices, action, case_id, office,
                                  outcome, status, source_ip)
           VALUES ($1, $2, $3, $4, $5, $6, (SELECT office FROM cases WHERE case_id = $6), $7, $8, $9)""",
        actor_kind, actor_id, actor_role, actor_offices, action, case_id, outcome, status, source_ip,
    )


async def append_for_cases(conn: asyncpg.Connection | asyncpg.Pool, *, actor_kind: str, actor_id: str,
                           actor_role: str | None, actor_offices: list[str], action: str, shown: dict[str, str],
                           outcome: str, status: int, source_ip: str | None) -> None:
    """One row per case in ``shown`` (case id -> what showed it, added to the action), each
    with its case's office, in one statement."""
    if not shown:
        return
    await conn.execute(
        """INSERT INTO audit_log (actor_kind, actor_id, actor_role, actor_offices, action, case_id, office,
                                  outcome, status, source_ip)
           SELECT $1, $2, $3, $4, $5 || ' (' || s.context || ')', s.case_id,
                  (SELECT office FROM cases c WHERE c.case_id = s.case_id), $6, $7, $8
           FROM unnest($9::text[], $10::text[]) AS s (case_id, context)""",
        actor_kind, actor_id, actor_role, actor_offices, action, outcome, status, source_ip,
        list(shown), list(shown.values()),
    )


async def read(conn: asyncpg.Connection, *, offices: list[str], case_id: str | None = None,
               actor_id: str | None = None, outcome: str | None = None, before_id: int | None = None,
               limit: int = 100) -> list[AuditEntry]:
    """An office's trail: entries about its cases, and case-less entries (lists, logins)
    made by its people."""
    clauses = ["(office = ANY($1) OR (office IS NULL AND actor_offices && $1))"]
    params: list[Any] = [offices]
    for column, value in (("case_id", case_id), ("actor_id", actor_id), ("outcome", outcome)):
        if value is not None:
            params.append(value)
            clauses.append(f"{column} = ${len(params)}")
    if before_id is not None:
        params.append(before_id)
        clauses.append(f"id < ${len(params)}")
    params.append(limit)
    rows = await conn.fetch(
        f"SELECT * FROM audit_log WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT ${len(params)}", *params)
    return [AuditEntry(**dict(r)) for r in rows]
