"""Offices and their time zones: "today" and "not in the future" as the office sees them;
and the exit permission their host state requires (at the end).

A caseworker in Istanbul who enters today's date at 00:18 local time is 21:18 UTC of the
day before; judged in UTC that date is "in the future".  Every date rule of a case is
judged in its office's time zone (an IANA name such as ``Europe/Istanbul``), and every
date-time is shown in it.  A case records its office's zone when it is referred, so its
rules do not move if an office's setting changes later.

Pure: the only input is the IANA time zone database (the ``tzdata`` package where the
system has none).  Imported inside Temporal workflows (``imports_passed_through``): zones
are loaded once and kept, the demo offices' zones already at import.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.countries import COUNTRY_CODES

DEFAULT_TIME_ZONE = "UTC"
"""The zone of an office that has none configured (and of a case referred before offices
had zones: its ``CaseReferred`` event carries none)."""

OFFICE_TIME_ZONES: Mapping[str, str] = {"IST": "Europe/Istanbul", "IZM": "Europe/Istanbul"}
"""The demo offices' zones, the default of ``ITINERA_OFFICE_TIME_ZONES``."""

OFFICE_COUNTRIES: Mapping[str, str] = {"IST": "TR", "IZM": "TR"}
"""The host country of each office (ISO 3166-1 alpha-2), the default of
``ITINERA_OFFICE_COUNTRIES``: the demo offices are in Türkiye.  A referral names no country
the people are already in: resettlement and family reunification move them to a third
country (``host_country_problem``).  An office not listed: no such check."""


@lru_cache(maxsize=64)
def time_zone(name: str) -> ZoneInfo:
    """The zone of an IANA name; ``ValueError`` for a name that is none."""
    if not isinstance(name, str) or not name or name != name.strip() or len(name) > 64:
        raise ValueError(f"not a time zone name: {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError: a malformed key such as "../x"; OSError: a directory such as "Europe".
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as 'Europe/Istanbul' or 'UTC'") from None


def check_time_zone(name: str) -> str:
    """``name`` if it is a known IANA time zone, else ``ValueError`` (for settings and commands)."""
    time_zone(name)
    return name


def check_office_time_zones(zones: Mapping[str, str]) -> dict[str, str]:
    """An office -> zone map whose every zone is known (``ValueError`` names the office)."""
    checked: dict[str, str] = {}
    for office, name in zones.items():
        if not isinstance(office, str) or not office.strip():
            raise ValueError(f"not an office code: {office!r}")
        try:
            checked[office] = check_time_zone(name)
        except ValueError as exc:
            raise ValueError(f"office {office}: {exc}") from None
    return checked


def check_office_countries(countries: Mapping[str, str]) -> dict[str, str]:
    """An office -> host country map of known ISO 3166-1 alpha-2 codes (``ValueError`` names the office)."""
    checked: dict[str, str] = {}
    for office, country in countries.items():
        if not isinstance(office, str) or not office.strip():
            raise ValueError(f"not an office code: {office!r}")
        if country not in COUNTRY_CODES:
            raise ValueError(f"office {office}: {country!r} is not an ISO 3166-1 alpha-2 country code (e.g. TR)")
        checked[office] = country
    return checked


def host_country_problem(office: str, country: str | None,
                         countries: Mapping[str, str] = OFFICE_COUNTRIES) -> tuple[str, str] | None:
    """Why the country a referral's people travel to (its ``destination_country`` in
    resettlement and family reunification, its ``origin_country``, the country of return, in AVRR)
    is refused because it is the host country of ``office``, the one they live in now; and what
    is allowed (``None``: it is not).  An admission rule of the API's referrals
    (``api.commands``): a case referred before it is never judged by it."""
    host = countries.get(office)
    if host is None or country != host:
        return None
    return (f"{country} is the host country of office {office}: the people live there now, and their case "
            "takes them to another country",
            f"any country other than {host}")


def office_time_zone(office: str, zones: Mapping[str, str] = OFFICE_TIME_ZONES,
                     default: str = DEFAULT_TIME_ZONE) -> str:
    """The zone of ``office``: its own in ``zones``, else ``default``."""
    return zones.get(office, default)


def _aware(moment: datetime) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        # A naive time could be UTC or local: guessing is how "today" went wrong.
        raise ValueError(f"a moment needs its UTC offset to be placed in a time zone: {moment!r}")
    return moment


def local_time(moment: datetime, zone: str) -> datetime:
    """``moment`` (aware) as the clock on the office's wall shows it, with the zone's offset."""
    return _aware(moment).astimezone(time_zone(zone))


def local_date(moment: datetime, zone: str) -> date:
    """The date in ``zone`` at ``moment``: "today" for an office when ``moment`` is now."""
    return local_time(moment, zone).date()


def zone_label(zone: str) -> str:
    """How people name a zone: ``Europe/Istanbul`` -> ``Istanbul``,
    ``America/Argentina/Buenos_Aires`` -> ``Buenos Aires``, ``UTC`` -> ``UTC``."""
    if "/" not in zone or zone.startswith("Etc/"):
        return zone.removeprefix("Etc/")
    return zone.rsplit("/", 1)[1].replace("_", " ")


# --- the host state's exit permission ------------------------------------------------------

EXIT_PERMISSIONS: Mapping[str, str] = {"IST": "DGMM exit permission", "IZM": "DGMM exit permission"}
"""The exit permission the host state of each office requires of refugees resettled from it,
by office (the default of ``ITINERA_EXIT_PERMISSIONS``): the name people know it by.  Türkiye,
host state of the demo offices, requires one: the exit permission of its Directorate General
of Migration Management (DGMM).  An office not listed (its host state requires none) refers
cases without it.  A resettlement case records its office's at referral
(``CaseReferred.exit_permission``; ``domain/programmes/exit_permission.py``), so
a case keeps the rule it was referred under when the setting changes."""


def check_exit_permissions(permissions: Mapping[str, str]) -> dict[str, str]:
    """An office -> exit permission map with a code and a name of each (``ValueError`` names the office)."""
    checked: dict[str, str] = {}
    for office, name in permissions.items():
        if not isinstance(office, str) or not office.strip():
            raise ValueError(f"not an office code: {office!r}")
        if not isinstance(name, str) or not name.strip() or len(name) > 120 or name != name.strip():
            raise ValueError(f"office {office}: the exit permission needs a name (1 to 120 characters), not {name!r}")
        checked[office] = name
    return checked


def exit_permission_of(office: str, permissions: Mapping[str, str] = EXIT_PERMISSIONS) -> str | None:
    """The exit permission the host state of ``office`` requires (None: none)."""
    return permissions.get(office)


for _zone in {DEFAULT_TIME_ZONE, *OFFICE_TIME_ZONES.values()}:
    time_zone(_zone)  # loaded now, not first inside a workflow
