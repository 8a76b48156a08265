"""Accounts of the embedded default: who may log in, with which role and offices.

Passwords are hashed with Argon2id through pwdlib (a maintained wrapper around
argon2-cffi) - never stored or logged in clear.
"""

from __future__ import annotations

import asyncpg
from pwdlib import PasswordHash
from pydantic import BaseModel

from domain.model import Role

_hasher = PasswordHash.recommended()
# A valid hash of nothing anyone knows: verifying against it for unknown users keeps the
# login's timing the same whether the user exists or not.
_DUMMY_HASH = _hasher.hash("itinera-no-such-user")


class User(BaseModel):
    username: str
    full_name: str
    role: Role
    offices: list[str]
    active: bool


def hash_password(password: str) -> str:
    return _hasher.hash(password)


async def add_user(
    conn: asyncpg.Connection, username: str, password: str, role: Role, offices: list[str], full_name: str = ""
) -> User:
    """Create or replace an account (an operator re-running it resets the password)."""
    row = await conn.fetchrow(
        """INSERT INTO users (username, full_name, password_hash, role, offices)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (username) DO UPDATE SET full_name = EXCLUDED.full_name,
               password_hash = EXCLUDED.password_hash, role = EXCLUDED.role, offices = EXCLUDED.offices,
               active = true
           RETURNING username, full_name, role, offices, active""",
        username, full_name, hash_password(password), role.value, offices,
    )
    return User(**dict(row))


async def authenticate(conn: asyncpg.Connection, username: str, password: str) -> User | None:
    row = await conn.fetchrow(
        "SELECT username, full_name, password_hash, role, offices, active FROM users WHERE username = $1",
        username,
    )
    if row is None:
        _hasher.verify(password, _DUMMY_HASH)
        return None
    if not _hasher.verify(password, row["password_hash"]) or not row["active"]:
        return None
    return User(**{k: row[k] for k in ("username", "full_name", "role", "offices", "active")})


async def find_user(conn: asyncpg.Connection, username: str) -> User | None:
    row = await conn.fetchrow("SELECT username, full_name, role, offices, active FROM users WHERE username = $1",
                              username)
    return User(**dict(row)) if row else None


async def count_users(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT count(*) FROM users")
