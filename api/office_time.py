""""Today" and "now" at the API's edge, for checking a form before it goes to the workflow."""

from __future__ import annotations

from datetime import UTC, date, datetime

from domain.offices import local_date, local_time
from settings import get_settings


def edge_today(office: str) -> date:
    """The later of today in UTC and today in the office's zone.  The workflow judges a form
    by the zone the case was recorded with; the edge only answers early, so it must never be
    stricter than the workflow: with the later of the two days, a date the workflow would
    accept is never refused here (what the edge lets through, the workflow still checks)."""
    now = datetime.now(UTC)
    return max(now.date(), local_date(now, get_settings().time_zone_of(office)))


def edge_now(office: str) -> datetime:
    """Now, on the office's clock (its zone, which a refusal names).  The workflow's validator
    judges with its own now, a little later than the request's (it runs after it), so what the
    edge accepts the workflow accepts too; a form is never refused here that the workflow would
    take but for the moment between them, which the rule's clock skew covers."""
    return local_time(datetime.now(UTC), get_settings().time_zone_of(office))


def edge_today_anywhere(now: datetime | None = None) -> date:
    """Today at the edge when the office is not known yet (a request body checked before it is
    read, a file of referrals to several offices): the latest of today in UTC and in every
    configured office's zone.  At 00:30 in Istanbul (21:30 UTC the day before) a baby born that
    day is not "in the future"; as in ``edge_today``, never stricter than the workflow."""
    now = now or datetime.now(UTC)
    settings = get_settings()
    zones = {*settings.office_time_zones.values(), settings.default_time_zone}
    return max(now.date(), *(local_date(now, zone) for zone in zones))
