"""The application runs as a role that owns nothing: it cannot rewrite the event store or
the audit trail, nor switch off the triggers that keep them append-only.  Migrations run
as the schema owner."""

from __future__ import annotations

import asyncpg
import pytest

from store.db import connect

REFUSED = [
    "UPDATE case_events SET payload = payload",
    "DELETE FROM case_events",
    "TRUNCATE case_events",
    "ALTER TABLE case_events DISABLE TRIGGER ALL",
    "UPDATE audit_log SET outcome = 'allowed'",
    "DELETE FROM audit_log",
    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
    "DROP TABLE cases",
    "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'x', 'x')",
]


@pytest.mark.parametrize("sql", REFUSED)
async def test_the_application_role_may_not(stack, sql: str) -> None:
    conn = await connect(stack.settings.database_url)
    try:
        assert await conn.fetchval("SELECT current_user") == "itinera_app"
        assert not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(sql)
    finally:
        await conn.close()


async def test_the_api_and_the_worker_connect_as_the_application_role(stack, driver) -> None:
    from tests.support.factories import referral

    await driver.refer(referral())  # the API read and the worker wrote
    conn = await connect(stack.database_url)
    try:
        users = {r["usename"] for r in await conn.fetch(
            "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'")}
    finally:
        await conn.close()
    assert "itinera_app" in users
