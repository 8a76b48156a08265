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
from datetime import date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import airportsdata

from api.errors import ApiError
from domain.countries import COUNTRY_CODES
from domain.movements.model import MovementDetails


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
    """The ISO 3166-1 alpha-2 country of an IATA airport code; None for no such airport, and for
    an airport in a place without an ISO 3166-1 code (the table says XK for Pristina, which no
    case can have as its country either: the destination rule then does not apply)."""
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
