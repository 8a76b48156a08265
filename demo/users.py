"""Demo accounts of the embedded default: one of each role, in two offices (Istanbul, Izmir)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from domain.model import Role
from store.users import add_user, count_users

DEMO_PASSWORD = "itinera-demo"

DEMO_USERS: list[tuple[str, str, Role, list[str]]] = [
    ("ayse", "Ayşe Demir (caseworker, Istanbul)", Role.CASEWORKER, ["IST"]),
    ("mehmet", "Mehmet Kaya (caseworker, Izmir)", Role.CASEWORKER, ["IZM"]),
    ("selin", "Dr. Selin Aydın (medical officer)", Role.MEDICAL_OFFICER, ["IST", "IZM"]),
    ("deniz", "Dr. Deniz Arslan (medical officer)", Role.MEDICAL_OFFICER, ["IST", "IZM"]),
    ("emre", "Emre Şahin (movement officer)", Role.MOVEMENT_OFFICER, ["IST", "IZM"]),
    ("fatma", "Fatma Yıldız (supervisor, Istanbul)", Role.SUPERVISOR, ["IST"]),
    ("ali", "Ali Çelik (supervisor, Izmir)", Role.SUPERVISOR, ["IZM"]),
    ("admin", "Administrator", Role.ADMIN, []),
]

# Which demo account works a task of which role in which office.
DEMO_WORKER_BY_ROLE_AND_OFFICE = {
    ("caseworker", "IST"): "ayse",
    ("caseworker", "IZM"): "mehmet",
    ("medical_officer", "IST"): "selin",
    ("medical_officer", "IZM"): "selin",
    ("movement_officer", "IST"): "emre",
    ("movement_officer", "IZM"): "emre",
    ("supervisor", "IST"): "fatma",
    ("supervisor", "IZM"): "ali",
}


def demo_worker_for(task: Mapping[str, Any], office: str) -> str:
    """The demo account that completes ``task`` (the API's task) of a case of ``office``."""
    if task["task_type"] == "record_treatment":
        return "deniz"  # four-eyes: not the medical officer who put the member on hold
    return DEMO_WORKER_BY_ROLE_AND_OFFICE[(task["role"], office)]


async def seed_demo_users(conn: asyncpg.Connection) -> bool:
    """Create the demo accounts if there are no accounts at all; True if it did."""
    if await count_users(conn):
        return False
    for username, full_name, role, offices in DEMO_USERS:
        await add_user(conn, username, DEMO_PASSWORD, role, offices, full_name)
    return True
