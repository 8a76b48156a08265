"""IATA airport codes -> their country and time zone, at the API's edge.

The table is ``airportsdata``'s (MIT licence, a maintained package of the world's airports,
updated several times a year, read from the CSV it ships): no network, no data of our own
to keep.  Reading it is file I/O, so it is never done in ``domain/`` or ``workflows/`` (they
decide deterministically, tests/test_determinism_boundary.py): the API looks the airports up
here and carries the result into the command (``MovementDetails.arrival_country``), which
the movement's workflow then judges as given.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import airportsdata

from api.errors import ApiError
from domain.countries import COUNTRY_CODES
from domain.movements.model import MovementDetails
from domain.offices import time_zone


@cache
def _table() -> dict[str, dict[str, Any]]:
    return airportsdata.load("IATA")  # ~8,000 airports, keyed by IATA code


def known(code: str) -> bool:
    """Whether ``code`` is an airport's IATA code."""
    return code in _table()


# The airport a country is usually flown to (the example forms, the demo); others: the first
# of the table's airports in that country.
MAIN_AIRPORT = {"NO": "OSL", "SE": "ARN", "FI": "HEL", "DK": "CPH", "IS": "KEF", "DE": "BER", "NL": "AMS",
                "BE": "BRU", "LU": "LUX", "FR": "CDG", "GB": "LHR", "IE": "DUB", "PT": "LIS", "ES": "MAD",
                "IT": "FCO", "CH": "ZRH", "AT": "VIE", "EE": "TLL", "LV": "RIX", "LT": "VNO", "CA": "YYZ",
                "US": "JFK", "AU": "SYD", "NZ": "AKL", "IQ": "EBL", "SY": "DAM", "AF": "KBL", "PK": "ISB",
                "IR": "IKA", "LB": "BEY", "JO": "AMM", "EG": "CAI", "TR": "IST"}


def an_airport_in(country: str) -> str | None:
    """An airport to fly to in ``country`` (its main one where known), or None if it has none."""
    if country in MAIN_AIRPORT:
        return MAIN_AIRPORT[country]
    return min((code for code, a in _table().items() if a.get("country") == country), default=None)


def country_of(code: str) -> str | None:
    """The ISO 3166-1 alpha-2 country (or XK, Kosovo) of an IATA airport code; None for no such
    airport, and for an airport in a place without a code a case can have (the destination
    rule then does not apply)."""
    airport = _table().get(code)
    country = str(airport.get("country") or "") if airport else ""
    return country if country in COUNTRY_CODES else None


def time_zone_of(code: str) -> ZoneInfo | None:
    """The IANA time zone of an IATA airport code (the table's ``tz``); None for no such airport,
    an airport without one, or a zone name this machine's zone database does not know."""
    airport = _table().get(code)
    name = str(airport.get("tz") or "") if airport else ""
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


async def arrival_day_refusal(arrived_on: date, departed_at: datetime | None, arrival_airport: str,
                              field: str = "arrived_on") -> ApiError | None:
    """A 422 for an ``arrived_on`` earlier than the day the departure instant falls on in the
    arrival airport's time zone (IST -> OSL departed 2026-12-04T01:46Z: it is the 4th in Oslo, so
    no arrival there is dated the 3rd), or None.  Judged here, before the arrival is sent: the
    zone is the table's (file I/O), which the workflow does not read; the workflow keeps its own
    bound (the day in UTC-12, ``domain.arrival_day``) for an airport without a zone."""
    if departed_at is None:
        return None
    await loaded()
    zone = time_zone_of(arrival_airport)
    if zone is None:
        return None
    earliest = departed_at.astimezone(zone).date()
    if arrived_on >= earliest:
        return None
    there = departed_at.astimezone(zone)
    reason = (f"{arrived_on.isoformat()} is before the departure, which left at {there:%Y-%m-%d %H:%M} on the clock "
              f"of the arrival airport {arrival_airport} (time zone {zone.key}): an arrival there is dated "
              f"{earliest.isoformat()} or later")
    return ApiError(422, "invalid_command", f"arrived_on: {reason}", [{
        "field": field, "reason": reason, "allowed": f"{earliest.isoformat()} or later (in {zone.key})"}])


def utc_offset_text(offset: timedelta | None) -> str:
    """``+03:00``, ``-05:00``, ``+05:45``: an offset as an ISO 8601 time writes it."""
    minutes = int((offset or timedelta(0)).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


async def departure_zone_refusal(departure_at: datetime, zone_name: str, departure_airport: str,
                                 field: str = "body.departure_time_zone") -> ApiError | None:
    """A 422 for a ``departure_time_zone`` whose UTC offset at the departure instant is not the
    departure airport's zone's then (the IATA table's ``tz``), or None.  Offsets are compared,
    not names: an alias (Asia/Istanbul for Europe/Istanbul) or a zone on the same clock that day
    is the airport's time.  The day-of-travel rules (visa, clearance) are judged in this zone, so
    a zone hours off the airport's moves the day a flight leaves.  An airport without a zone in
    the table is not judged."""
    await loaded()
    airport_zone = time_zone_of(departure_airport)
    if airport_zone is None:
        return None
    given = departure_at.astimezone(time_zone(zone_name)).utcoffset()
    expected = departure_at.astimezone(airport_zone).utcoffset()
    if given == expected:
        return None
    there = departure_at.astimezone(airport_zone)
    reason = (f"{zone_name} is UTC{utc_offset_text(given)} at the departure, but the departure airport "
              f"{departure_airport} is in {airport_zone.key} (UTC{utc_offset_text(expected)} then: it leaves at "
              f"{there:%Y-%m-%d %H:%M} there); the day of travel is judged in this zone")
    return ApiError(422, "invalid_request", f"the request is invalid: {field}: {reason}", [{
        "field": field, "reason": reason,
        "allowed": f"{airport_zone.key} (or a zone on UTC{utc_offset_text(expected)} at the departure)"}])


# A departure_at written in UTC is an instant, not a wall clock mistyped: machine clients send
# UTC (``Z``), and the instant is judged in the departure zone all the same.  Only another
# offset than the zone's is refused (``local_offset_refusal``).
UTC_ACCEPTED = True


def local_offset_refusal(local_time: datetime, zone_name: str, field: str = "body.departure_at", *,
                         meaning: str = "the departure is the departure airport's local time, with its zone's "
                                        "offset") -> ApiError | None:
    """A 422 for a local time (a departure, a session's start) written with a UTC offset that is
    not ``zone_name``'s at that instant (``2026-12-20T10:00:00-05:00`` for Europe/Istanbul, 8 hours
    off the 10:00 meant), or None.  UTC itself (``Z``, ``+00:00``) is taken as the instant it names (``UTC_ACCEPTED``)."""
    given = local_time.utcoffset()
    zone = time_zone(zone_name)
    expected = local_time.astimezone(zone).utcoffset()
    if given == expected or (UTC_ACCEPTED and given == timedelta(0)):
        return None
    local = local_time.astimezone(zone)
    reason = (f"{local_time.isoformat()} is written with UTC offset {utc_offset_text(given)}, but "
              f"{zone_name} is on {utc_offset_text(expected)} at that instant ({local.isoformat()} there): "
              f"{meaning}")
    return ApiError(422, "invalid_request", f"the request is invalid: {field}: {reason}", [{
        "field": field, "reason": reason,
        "allowed": f"{utc_offset_text(expected)} in {zone_name} on {local.date().isoformat()}"
                   + (" (or UTC, Z)" if UTC_ACCEPTED else "")}])


async def loaded() -> None:
    """The table, read once, off the event loop (a fraction of a second)."""
    await asyncio.to_thread(_table)


def unknown_airport(field: str, code: str) -> dict[str, str]:
    return {"field": field, "reason": f"{code} is not a known IATA airport code",
            "allowed": "an airport's three-letter IATA code (e.g. IST, OSL, EBL)"}


async def with_arrival_country(details: MovementDetails, prefix: str = "body.") -> MovementDetails:
    """``details`` with ``arrival_country`` derived from ``arrival_airport``; a 422 naming each
    unknown airport (departure, arrival, transit point) or an ``arrival_country`` sent that is
    not the arrival airport's."""
    await loaded()
    airports = [(f"{prefix}departure_airport", details.departure_airport),
                (f"{prefix}arrival_airport", details.arrival_airport)]
    airports += [(f"{prefix}transit.{i}.airport", p.airport) for i, p in enumerate(details.transit)]
    unknown = [unknown_airport(field, code) for field, code in airports if not known(code)]
    if unknown:
        raise ApiError(422, "invalid_request", "the request is invalid: " + "; ".join(
            f"{d['field']}: {d['reason']}" for d in unknown), unknown)
    country = country_of(details.arrival_airport)
    if details.arrival_country is not None and details.arrival_country != country:
        where = f"in {country}" if country else "in no ISO 3166-1 country"
        raise ApiError(422, "invalid_request", f"the request is invalid: {prefix}arrival_country: "
                       f"{details.arrival_airport} is {where}, not {details.arrival_country}", [{
                           "field": f"{prefix}arrival_country",
                           "reason": f"{details.arrival_airport} is {where}, not {details.arrival_country}: "
                                     "derived from arrival_airport, leave it out",
                           "allowed": country or "nothing (leave it out)"}])
    return details.model_copy(update={"arrival_country": country})
