"""The earliest calendar day an arrival after a given departure can be dated.

A departure is an instant; an arrival is a calendar day in the destination's own calendar.
Flying west, that day can be the one before the departure's date at the origin: Istanbul
01:00 on the 4th is 18:00 on the 3rd in New York, and a flight landing there that evening
arrives on the 3rd.  The earliest calendar on Earth is UTC−12, so a real arrival is never
dated before the departure instant's date there; that is the bound both the case's
``confirm_arrival`` and a movement's arrival confirmation use.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

EARLIEST_CALENDAR = timezone(timedelta(hours=-12))


def earliest_arrival_day(departed_at: datetime) -> date:
    """The first day an arrival after ``departed_at`` can carry in any destination's calendar."""
    return departed_at.astimezone(EARLIEST_CALENDAR).date()


def arrival_too_early(arrived_on: date, departed_at: datetime | None) -> str | None:
    """Why ``arrived_on`` cannot follow ``departed_at``, or None when it can (or no departure
    is known to judge it by)."""
    if departed_at is None or arrived_on >= (earliest := earliest_arrival_day(departed_at)):
        return None
    return (f"must not be before the departure ({departed_at.isoformat()}): {earliest.isoformat()} is the "
            "earliest day an arrival after it can carry in any time zone")
