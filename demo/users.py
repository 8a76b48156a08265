"""Demo accounts of the embedded default: one of each role, in two offices (Istanbul, Izmir)."""

from __future__ import annotations

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


async def seed_demo_users(conn: asyncpg.Connection) -> bool:
    """Create the demo accounts if there are no accounts at all; True if it did."""
    if await count_users(conn):
        return False
    for username, full_name, role, offices in DEMO_USERS:
        await add_user(conn, username, DEMO_PASSWORD, role, offices, full_name)
    return True
