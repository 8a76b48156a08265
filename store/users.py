"""Accounts of the embedded default: who may log in, with which role and offices.

Passwords are hashed with Argon2id through pwdlib (a maintained wrapper around
argon2-cffi) - never stored or logged in clear.

An account is also checked on every request its tokens make (``account_for_token``):
role and offices come from here, not from the token, so a role change or a deactivation
takes effect on the next request, and a revoked token (logout) is refused at once.
"""

from __future__ import annotations

import re
from datetime import datetime

import asyncpg
from pwdlib import PasswordHash
from pydantic import BaseModel

from domain.model import Role

_hasher = PasswordHash.recommended()
# A valid hash of nothing anyone knows: verifying against it for unknown users keeps the
# login's timing the same whether the user exists or not.
_DUMMY_HASH = _hasher.hash("itinera-no-such-user")
# The users table's own CHECK: a name of another shape cannot be an account (and is never
# sent to PostgreSQL, which refuses some characters outright).
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
# The longest password an account may have: the sign-in page reads no more of what is typed.
MAX_PASSWORD_LENGTH = 256
_COLUMNS = "username, full_name, role, offices, active, token_generation"


class User(BaseModel):
    username: str
    full_name: str
    role: Role
    offices: list[str]
    active: bool
    token_generation: int = 0


class TokenAccount(BaseModel):
    """What a request's token may do now: the account's current role and offices, and
    whether the token still counts."""

    role: Role
    offices: list[str]
    active: bool
    token_generation: int
    token_revoked: bool


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def is_username(value: str) -> bool:
    return bool(USERNAME_PATTERN.match(value))


async def add_user(
    conn: asyncpg.Connection, username: str, password: str, role: Role, offices: list[str], full_name: str = ""
) -> User:
    """Create or replace an account (an operator re-running it resets the password, which
    also ends every session the account had: its earlier tokens stop working)."""
    row = await conn.fetchrow(
        f"""INSERT INTO users (username, full_name, password_hash, role, offices)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (username) DO UPDATE SET full_name = EXCLUDED.full_name,
               password_hash = EXCLUDED.password_hash, role = EXCLUDED.role, offices = EXCLUDED.offices,
               active = true, token_generation = users.token_generation + 1
           RETURNING {_COLUMNS}""",
        username, full_name, hash_password(password), role.value, offices,
    )
    return User(**dict(row))


async def set_role(conn: asyncpg.Connection, username: str, role: Role, offices: list[str] | None = None) -> User | None:
    """Change an account's role (and, if given, its offices): its tokens carry the new
    role from their next request on."""
    async with conn.transaction():
        row = await conn.fetchrow(
            f"""UPDATE users SET role = $2, offices = coalesce($3, offices) WHERE username = $1 RETURNING {_COLUMNS}""",
            username, role.value, offices)
        if row is not None:
            # Claims on tasks the account may no longer work go back to the inbox: parked with
            # someone who now gets 403 on them, nobody would know until they escalated.
            await conn.execute(
                """DELETE FROM task_claims c USING tasks t
                    WHERE c.task_id = t.task_id AND c.claimed_by = $1
                      AND (t.role <> $2 OR NOT (t.office = ANY($3::text[])))""",
                username, role.value, list(row["offices"]))
    return User(**dict(row)) if row else None


async def deactivate(conn: asyncpg.Connection, username: str) -> User | None:
    """Lock an account out: no login, and every token it holds is refused from the next
    request on (also after a later reactivation, which issues new tokens only); the tasks it
    had claimed are released."""
    async with conn.transaction():
        row = await conn.fetchrow(
            f"""UPDATE users SET active = false, token_generation = token_generation + 1 WHERE username = $1
                RETURNING {_COLUMNS}""", username)
        if row is not None:  # what they had claimed goes back to the inbox, for someone who can work it
            await conn.execute("DELETE FROM task_claims WHERE claimed_by = $1", username)
    return User(**dict(row)) if row else None


async def authenticate(conn: asyncpg.Connection, username: str, password: str) -> User | None:
    row = None
    if is_username(username):
        row = await conn.fetchrow(f"SELECT {_COLUMNS}, password_hash FROM users WHERE username = $1", username)
    if row is None:
        _hasher.verify(password, _DUMMY_HASH)
        return None
    if not _hasher.verify(password, row["password_hash"]) or not row["active"]:
        return None
    return User(**{k: row[k] for k in User.model_fields})


async def find_user(conn: asyncpg.Connection, username: str) -> User | None:
    if not is_username(username):
        return None
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM users WHERE username = $1", username)
    return User(**dict(row)) if row else None


async def count_users(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT count(*) FROM users")


async def account_for_token(conn: asyncpg.Connection, username: str, token_id: str) -> TokenAccount | None:
    """The account behind a token this service issued, and whether that token was revoked:
    one indexed lookup, made on every request (no cache, so a change is seen at once)."""
    if not is_username(username):
        return None
    row = await conn.fetchrow(
        """SELECT role, offices, active, token_generation,
                  EXISTS (SELECT 1 FROM revoked_tokens WHERE token_id = $2) AS token_revoked
           FROM users WHERE username = $1""", username, token_id)
    return TokenAccount(**dict(row)) if row else None


async def token_revoked(conn: asyncpg.Connection, token_id: str) -> bool:
    return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE token_id = $1)", token_id)


async def revoke_token(conn: asyncpg.Connection, token_id: str, username: str, expires_at: datetime) -> None:
    """Refuse one token from now until it expires (then the row is purged: an expired token
    is refused anyway)."""
    await conn.execute(
        """INSERT INTO revoked_tokens (token_id, username, expires_at) VALUES ($1, $2, $3)
           ON CONFLICT (token_id) DO NOTHING""", token_id, username, expires_at)
    await conn.execute("DELETE FROM revoked_tokens WHERE expires_at < now() - interval '5 minutes'")
