"""Pooled connections go back without asyncpg's reset query (``store.db._keep_session``), which is
only safe while no code leaves session state on one: this keeps it so.

Session state is what outlives a transaction on a connection: a plain ``SET`` (``SET LOCAL`` ends
with its transaction), an advisory lock, a ``LISTEN``, a ``WITH HOLD`` cursor, ``SET ROLE``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from store.db import create_pool

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p for d in ("api", "store", "activities", "domain", "workflows") for p in (ROOT / d).rglob("*.py")]
SOURCES += [p for p in ROOT.glob("*.py")]

# what may keep session state, and the one module allowed to (with why)
ALLOWED = {
    "advisory lock": ({"store/migrations.py"}, re.compile(r"pg_advisory_lock\(")),  # released in its finally
    "LISTEN": ({"webhook_dispatch.py"}, re.compile(r"""add_listener\(|["']\s*LISTEN\b""")),  # removed before release
    "session SET": (set(), re.compile(r"""["']\s*SET\s+(?!LOCAL\b)""", re.IGNORECASE)),
    "SET ROLE / SESSION AUTHORIZATION": (set(), re.compile(r"""["']\s*SET\s+(SESSION\s+)?(ROLE|SESSION\s+AUTHORIZATION)""",
                                                                        re.IGNORECASE)),
    "set_config(..., false)": (set(), re.compile(r"set_config\([^)]*,\s*false\s*\)", re.IGNORECASE)),
    "cursor WITH HOLD": (set(), re.compile(r"WITH\s+HOLD", re.IGNORECASE)),
}


@pytest.mark.parametrize("kind", list(ALLOWED))
def test_no_code_leaves_session_state_on_a_pooled_connection(kind: str) -> None:
    allowed, pattern = ALLOWED[kind]
    found = sorted(str(p.relative_to(ROOT)) for p in SOURCES if pattern.search(p.read_text())
                   and str(p.relative_to(ROOT)) not in allowed)
    assert not found, f"{kind} in {found}: reset it before the connection goes back, or restore the reset query"


async def test_a_released_connection_keeps_no_transaction(stack) -> None:
    """asyncpg still rolls back what a caller left open before handing the connection on."""
    pool = await create_pool(stack.settings.database_url, min_size=1, max_size=1)
    try:
        conn = await pool.acquire()
        tx = conn.transaction()
        await tx.start()
        await conn.execute("SET LOCAL statement_timeout = 1234")
        await pool.release(conn)  # transaction left open on purpose
        async with pool.acquire() as again:
            assert not again.is_in_transaction()
            assert await again.fetchval("SHOW statement_timeout") != "1234ms"
    finally:
        await pool.close()
