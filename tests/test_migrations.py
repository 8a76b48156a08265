"""Migrations apply once, in order, under a lock; an edited applied file is refused."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import asyncpg
import pytest

from store.migrations import MIGRATIONS_DIR, MigrationError, apply_migrations


async def _fresh_database(stack, name: str) -> str:
    conn = await asyncpg.connect(stack.database_url)
    await conn.execute(f"DROP DATABASE IF EXISTS {name}")
    await conn.execute(f"CREATE DATABASE {name}")
    await conn.close()
    return stack.database_url.replace("/postgres?", f"/{name}?")


async def test_concurrent_processes_apply_each_migration_once(stack) -> None:
    url = await _fresh_database(stack, "migrate_race")
    conns = [await asyncpg.connect(url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(apply_migrations(c) for c in conns))
        applied = sorted(name for result in results for name in result)
        expected = sorted(p.stem for p in MIGRATIONS_DIR.glob("*.sql"))
        assert applied == expected
        assert await conns[0].fetchval("SELECT count(*) FROM schema_migrations") == len(expected)
        assert await apply_migrations(conns[0]) == []
    finally:
        for c in conns:
            await c.close()


async def test_an_edited_applied_migration_is_refused(stack, tmp_path: Path) -> None:
    url = await _fresh_database(stack, "migrate_edit")
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    conn = await asyncpg.connect(url)
    try:
        await apply_migrations(conn, folder)
        first = sorted(folder.glob("*.sql"))[0]
        first.write_text(first.read_text() + "\n-- edited\n")
        with pytest.raises(MigrationError, match="was edited after it was applied"):
            await apply_migrations(conn, folder)
    finally:
        await conn.close()


async def test_case_events_are_append_only_in_the_database(stack) -> None:
    from tests.support.factories import referral
    from tests.support.driver import CaseDriver
    import httpx

    async with httpx.AsyncClient(base_url=stack.base_url) as http:
        case = await CaseDriver(http).refer(referral())
    async with stack.pool.acquire() as conn:
        for statement in ("UPDATE case_events SET event_type = 'X' WHERE case_id = $1",
                          "DELETE FROM case_events WHERE case_id = $1"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute(statement, case["case_id"])
        assert await conn.fetchval("SELECT count(*) FROM case_events WHERE case_id = $1", case["case_id"]) == 3
