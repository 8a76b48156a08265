""""Today" at the API's edge, for checking a form before it goes to the workflow."""

from __future__ import annotations

from datetime import UTC, date, datetime

from domain.offices import local_date
from settings import get_settings


def edge_today(office: str) -> date:
    """The later of today in UTC and today in the office's zone.  The workflow judges a form
    by the zone the case was recorded with; the edge only answers early, so it must never be
    stricter than the workflow: with the later of the two days, a date the workflow would
    accept is never refused here (what the edge lets through, the workflow still checks)."""
    now = datetime.now(UTC)
    return max(now.date(), local_date(now, get_settings().time_zone_of(office)))
