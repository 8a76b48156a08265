"""Bulk referral imports in PostgreSQL (migration 0033): the job, and one row per referral
of the file with its fate (pending, created, already_referred, invalid, failed)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg

OUTCOMES = ("pending", "created", "already_referred", "invalid", "failed")


@dataclass(frozen=True)
class NewRow:
    item: int
    lines: list[int]
    external_referral_id: str | None
    case_id: str | None
    referral: dict[str, Any] | None
    known_before: bool
    outcome: str
    errors: list[dict[str, Any]]


async def create_import(conn: asyncpg.Connection, *, import_id: str, offices: list[str], uploaded_by: str,
                        actor: dict[str, Any], source_ip: str | None, file_name: str | None, file_format: str,
                        file_sha256: str, terms: dict[str, Any], rows: list[NewRow]) -> None:
    """The job and its rows, in one transaction (the caller's)."""
    await conn.execute(
        "INSERT INTO referral_imports (import_id, offices, uploaded_by, actor, source_ip, file_name, file_format, "
        "file_sha256, total, terms) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10::jsonb)",
        import_id, offices, uploaded_by, json.dumps(actor), source_ip, file_name, file_format, file_sha256,
        len(rows), json.dumps(terms))
    await conn.executemany(  # one pipelined round trip per batch of rows
        "INSERT INTO referral_import_rows (import_id, item, lines, external_referral_id, case_id, referral, "
        "known_before, outcome, errors) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9::jsonb)",
        [(import_id, r.item, r.lines, r.external_referral_id, r.case_id,
          json.dumps(r.referral) if r.referral is not None else None, r.known_before, r.outcome,
          json.dumps(r.errors)) for r in rows])
    # Judged at upload (invalid rows, repeats within the file): decided now.
    await conn.execute("UPDATE referral_import_rows SET decided_at = now() WHERE import_id = $1 AND outcome <> 'pending'",
                       import_id)


async def get_import(conn: asyncpg.Connection, import_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM referral_imports WHERE import_id = $1", import_id)


async def counts(conn: asyncpg.Connection, import_id: str) -> dict[str, int]:
    found = {r["outcome"]: r["n"] for r in await conn.fetch(
        "SELECT outcome, count(*) AS n FROM referral_import_rows WHERE import_id = $1 GROUP BY outcome", import_id)}
    return {outcome: found.get(outcome, 0) for outcome in OUTCOMES}


async def list_imports(conn: asyncpg.Connection, offices: list[str], limit: int = 50) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM referral_imports WHERE offices && $1::text[] ORDER BY created_at DESC "
                            "LIMIT $2", offices, limit)


async def rows(conn: asyncpg.Connection, import_id: str, *, outcome: str | None, after_item: int,
               limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT item, lines, external_referral_id, case_id, outcome, errors, attempts, decided_at "
        "FROM referral_import_rows WHERE import_id = $1 AND item > $2 AND ($3::text IS NULL OR outcome = $3) "
        "ORDER BY item LIMIT $4", import_id, after_item, outcome, limit)


async def mark_started(conn: asyncpg.Connection, import_id: str) -> None:
    await conn.execute("UPDATE referral_imports SET status = 'running', started_at = coalesce(started_at, now()) "
                       "WHERE import_id = $1 AND status = 'queued'", import_id)


async def mark_completed(conn: asyncpg.Connection, import_id: str) -> None:
    await conn.execute("UPDATE referral_imports SET status = 'completed', finished_at = coalesce(finished_at, now()) "
                       "WHERE import_id = $1", import_id)


async def take_pending(conn: asyncpg.Connection, import_id: str, first: int, last: int) -> list[asyncpg.Record]:
    """The pending rows of items first..last, each counted as attempted once more (the count
    before this attempt comes back as ``attempts``)."""
    return await conn.fetch(
        "UPDATE referral_import_rows SET attempts = attempts + 1 WHERE import_id = $1 AND item BETWEEN $2 AND $3 "
        "AND outcome = 'pending' RETURNING item, case_id, referral, known_before, attempts - 1 AS attempts",
        import_id, first, last)


async def record_results(conn: asyncpg.Connection, import_id: str,
                         results: list[tuple[int, str, list[dict[str, Any]]]]) -> None:
    """(item, outcome, errors) of rows that were pending; a row already decided stays as it is."""
    if not results:
        return
    await conn.executemany(
        "UPDATE referral_import_rows SET outcome = $3, errors = $4::jsonb, decided_at = now() "
        "WHERE import_id = $1 AND item = $2 AND outcome = 'pending'",
        [(import_id, item, outcome, json.dumps(errors)) for item, outcome, errors in results])
