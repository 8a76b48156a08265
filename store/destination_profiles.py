"""PostgreSQL: destination profiles (migration 0039), versioned and append-only.

The API reads the current profile of a referral's destination and sends it with the referral
(``CaseCommands.refer``), so the case records the version it follows; admins add versions.
"""

from __future__ import annotations

import asyncpg

from domain.destination_services import CaseServices, DestinationProfile, DestinationServicesIn

_COLUMNS = "country, version, skipped_stages, fit_to_travel_check, reason, changed_by, changed_at"

_CURRENT = f"""
SELECT DISTINCT ON (country) {_COLUMNS} FROM destination_profiles
{{where}} ORDER BY country, version DESC
"""


def _profile(row: asyncpg.Record) -> DestinationProfile:
    return DestinationProfile.model_validate(dict(row))


async def current_profiles(conn: asyncpg.Connection) -> list[DestinationProfile]:
    return [_profile(r) for r in await conn.fetch(_CURRENT.format(where=""))]


async def current_profile(conn: asyncpg.Connection | asyncpg.Pool, country: str) -> DestinationProfile | None:
    row = await conn.fetchrow(_CURRENT.format(where="WHERE country = $1"), country)
    return _profile(row) if row else None


async def profile_versions(conn: asyncpg.Connection, country: str) -> list[DestinationProfile]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM destination_profiles WHERE country = $1 ORDER BY version DESC",
                            country)
    return [_profile(r) for r in rows]


async def profile_version(conn: asyncpg.Connection, country: str, version: int) -> DestinationProfile | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM destination_profiles WHERE country = $1 AND version = $2",
                              country, version)
    return _profile(row) if row else None


async def change_profile(conn: asyncpg.Connection, country: str, change: DestinationServicesIn,
                         changed_by: str) -> DestinationProfile:
    """Add the next version of the country's profile (the first, for a new country).  Two
    admins changing one country at once: the PRIMARY KEY lets one win, the other retries on
    top of it, so neither change is lost."""
    while True:
        try:
            row = await conn.fetchrow(
                f"""
                INSERT INTO destination_profiles (country, version, skipped_stages, fit_to_travel_check, reason,
                                                  changed_by)
                SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4, $5 FROM destination_profiles WHERE country = $1
                RETURNING {_COLUMNS}
                """,
                country, sorted(set(change.skipped_stages)), change.fit_to_travel_check, change.reason, changed_by)
            return _profile(row)
        except asyncpg.UniqueViolationError:
            continue


class DestinationServicesSource:
    """What ``CaseCommands.refer`` asks for a referral's services: the current profile of its
    destination (None: no profile, or a programme without a destination)."""

    def __init__(self, pool: asyncpg.Pool):
        self._pool = pool

    async def __call__(self, destination_country: str | None) -> CaseServices | None:
        if destination_country is None:
            return None
        profile = await current_profile(self._pool, destination_country)
        return CaseServices.of(profile) if profile is not None else None
