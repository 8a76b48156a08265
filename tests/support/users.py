"""The accounts the tests work as: one of each role, in two offices (Istanbul, Izmir), and a
second medical officer for four-eyes checks.  The session's stack (tests/conftest.py) and
every stack a test starts seeds them; tests never depend on the demo's accounts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from domain.model import Role
from store.users import add_user, count_users

TEST_PASSWORD = "itinera-test-password"

# username: (role, offices)
TEST_USERS: dict[str, tuple[Role, list[str]]] = {
    "ayse": (Role.CASEWORKER, ["IST"]),
    "mehmet": (Role.CASEWORKER, ["IZM"]),
    "selin": (Role.MEDICAL_OFFICER, ["IST", "IZM"]),
    "deniz": (Role.MEDICAL_OFFICER, ["IST", "IZM"]),
    "emre": (Role.MOVEMENT_OFFICER, ["IST", "IZM"]),
    "fatma": (Role.SUPERVISOR, ["IST"]),
    "ali": (Role.SUPERVISOR, ["IZM"]),
    "admin": (Role.ADMIN, []),
}


async def seed_test_users(conn: asyncpg.Connection) -> None:
    """Create the test accounts in a database that has no accounts yet."""
    if await count_users(conn):
        return
    for username, (role, offices) in TEST_USERS.items():
        await add_user(conn, username, TEST_PASSWORD, role, offices, username.capitalize())


def worker_for(task: Mapping[str, Any], office: str) -> str:
    """The account that completes ``task`` (the API's task, or a read-model row) of a case of
    ``office``: the first account of the task's role in that office."""
    if task["task_type"] == "record_treatment":
        return "deniz"  # four-eyes: not the medical officer who put the member on hold
    role = Role(task["role"])
    return next(name for name, (r, offices) in TEST_USERS.items() if r == role and office in offices)
