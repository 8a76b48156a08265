"""How values read on screen: dates people can read at a glance, codes as words.

Times are shown in the office's time zone and say which (``3 Dec 2026, 09:15 (Istanbul)``):
a caseworker reads a due date or a flight time as the office's clock shows it, and never
has to guess whether it is UTC.  The exact value, with its offset, stays in the
``<time datetime>`` attribute, and the same moment in UTC in its tooltip.  Without a zone
(or in a UTC office) a time reads ``3 Dec 2026, 06:15 UTC``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from babel.dates import format_date

from api.ui.i18n import current_language, gettext
from domain.offices import DEFAULT_TIME_ZONE, local_date, local_time, zone_label

_ACRONYMS = {"tb": "TB", "id": "ID", "iata": "IATA", "ist": "IST", "izm": "IZM", "avrr": "AVRR", "unhcr": "UNHCR"}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_SNAKE_CODE = re.compile(r"^[a-z]+(_[a-z0-9]+)+$")


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and _ISO_DATETIME.match(value):
        try:
            return _as_datetime(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def _readable(day: date) -> str:
    """``3 Dec 2026``; in another language its month's name (Babel's CLDR): ``3 déc. 2026``, ``3 ديسمبر 2026``."""
    language = current_language()
    if language == "en":
        return f"{day.day} {day:%b %Y}"
    return format_date(day, "d MMM y", locale=language)


def _in_zone(moment: datetime, zone: str | None) -> tuple[datetime, str]:
    """``moment`` in ``zone`` (UTC without one), and how the zone is named on screen.  A moment
    the zone's offset would carry past the calendar's ends (a typed text such as
    9999-12-31T23:30) stays in its own offset."""
    zone = zone or DEFAULT_TIME_ZONE
    try:
        local = local_time(moment, zone)
    except OverflowError:
        offset = moment.isoformat()[-6:]
        return moment, "UTC" if offset in ("+00:00", "-00:00") else f"UTC{offset}"
    label = zone_label(zone)
    return local, "UTC" if label == "UTC" else f"({label})"


def fmt_date(value: Any, zone: str | None = None) -> str:
    """``12 Mar 2026``; accepts a date, a datetime (its date in ``zone``) or an ISO string; '' for nothing."""
    if value is None or value == "":
        return ""
    moment = _as_datetime(value)
    if moment is not None:
        value = _in_zone(moment, zone)[0].date()
    elif isinstance(value, str) and _ISO_DATE.match(value):
        value = date.fromisoformat(value)
    if isinstance(value, date):
        return _readable(value)
    return str(value)


def fmt_datetime(value: Any, zone: str | None = None) -> str:
    """``12 Mar 2026, 17:05 (Istanbul)`` in ``zone``; ``12 Mar 2026, 14:05 UTC`` in UTC or without one."""
    moment = _as_datetime(value)
    if moment is None:
        return fmt_date(value)
    local, label = _in_zone(moment, zone)
    return f"{_readable(local.date())}, {local:%H:%M} {label}"


def iso(value: Any, zone: str | None = None) -> str:
    """Machine-readable value for ``<time datetime=...>``: with the offset of ``zone`` (UTC without
    one), to the millisecond (HTML takes at most three digits of a second)."""
    moment = _as_datetime(value)
    if moment is not None:
        return _in_zone(moment, zone)[0].isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return value.isoformat() if isinstance(value, date) else str(value or "")


def utc(value: Any) -> str:
    """The same moment in UTC, for a tooltip: ``12 Mar 2026, 14:05 UTC``; '' for no moment."""
    return fmt_datetime(value) if _as_datetime(value) is not None else ""


def utc_offset(zone: str, now: datetime | None = None) -> str:
    """The zone's offset now, as a date-time field's offset choice reads it: ``+03:00``."""
    return local_time(now or datetime.now(UTC), zone).isoformat()[-6:]


def _due_day(local: datetime) -> date:
    """The day a due time (in its zone) ends: a deadline at local midnight ends the day before
    (a task due "on 10 Dec" is due at the end of it, 11 Dec 00:00)."""
    day = local.date()
    if local.time() == time(0) and day > date.min:
        return day - timedelta(days=1)
    return day


def fmt_due(value: Any, zone: str | None = None) -> str:
    """A due time in ``zone`` as :func:`fmt_datetime` says it, except one at local midnight,
    which ends the day before: ``10 Dec 2026, end of day (Istanbul)``, not ``11 Dec 2026, 00:00``."""
    moment = _as_datetime(value)
    if moment is None:
        return fmt_date(value)
    local, label = _in_zone(moment, zone)
    if local.time() != time(0) or local.date() == date.min:
        return fmt_datetime(moment, zone)
    return gettext("%(day)s, end of day %(zone)s", day=_readable(_due_day(local)), zone=label)


def due_in(value: datetime, now: datetime | None = None, zone: str | None = None) -> str:
    """How far a due date is, in calendar days of ``zone`` (the office's; UTC without one):
    'due today', 'due tomorrow', 'due in 3 days' (a task due on the 7th, read on the 4th,
    whatever the hour); past it, 'overdue by 5 h', 'overdue by 2 days'.  A deadline at local
    midnight is due on the day it ends."""
    now = now or datetime.now(UTC)
    seconds = (value - now).total_seconds()
    if seconds < 0:
        hours = -seconds / 3600
        if hours < 24:
            amount = gettext("%(n)s h", n=int(hours))
        else:
            amount = gettext("%(n)s days", n=int(hours // 24)) if hours >= 48 else gettext("1 day")
        return gettext("overdue by %(amount)s", amount=amount) if hours >= 1 else gettext("overdue")
    days = (_due_day(_in_zone(value, zone)[0]) - _in_zone(now, zone)[0].date()).days
    if days <= 0:
        return gettext("due today")
    if days == 1:
        return gettext("due tomorrow")
    return gettext("due in %(amount)s", amount=gettext("%(n)s days", n=days))


def age(born: date, zone: str | None = None, on: date | None = None) -> int:
    """Age in years on ``on`` (default: today in ``zone``, the office's today)."""
    on = on or local_date(datetime.now(UTC), zone or DEFAULT_TIME_ZONE)
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def humanize(value: Any) -> str:
    """``medical_officer`` -> ``Medical officer``, ``class_b1`` -> ``Class B1``, booleans as Yes/No."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    words = str(value).replace("_", " ").split()
    if not words:
        return ""
    shown = [_ACRONYMS.get(w.lower(), w.upper() if (len(w) == 1 or any(c.isdigit() for c in w)) and w.isalnum()
                           else w) for w in words]
    first = shown[0]
    shown[0] = first if first.isupper() else first[:1].upper() + first[1:]
    return " ".join(shown)


def event_title(event_type: str) -> str:
    """``HealthAssessmentRecorded`` -> ``Health assessment recorded``."""
    words = re.findall(r"[A-Z][a-z]*|[a-z]+|\d+", event_type)
    return " ".join([words[0]] + [w.lower() for w in words[1:]]) if words else event_type


def display_value(value: Any, zone: str | None = None) -> str:
    """A recorded value as text: dates readable, times in ``zone``, snake_case codes as words; free text as typed."""
    if isinstance(value, bool) or value is None:
        return humanize(value)
    if isinstance(value, str):
        if _ISO_DATETIME.match(value):
            return fmt_datetime(value, zone)
        if _ISO_DATE.match(value):
            return fmt_date(value)
        return humanize(value) if _SNAKE_CODE.match(value) else value
    if isinstance(value, list):
        return ", ".join(display_value(v, zone) for v in value)
    if isinstance(value, dict):  # a nested record (a booking, a plan's item): its times in the zone too
        return "; ".join(f"{humanize(k)}: {display_value(v, zone)}" for k, v in value.items() if v not in (None, ""))
    return str(value)


def say(value: Any) -> str:
    """A value's word in the page's language where the catalogs have it (``api/ui/words.py``
    marks them: stage labels, programmes, relationships, statuses, event titles); else as it is.
    Labels joined with " / " (a stage each programme names its own way) are said one by one."""
    if value in (None, ""):
        return ""
    return " / ".join(gettext(part) for part in str(value).split(" / "))


FILTERS = {
    "say": say,
    "date": fmt_date,
    "datetime": fmt_datetime,
    "iso": iso,
    "utc": utc,
    "due": fmt_due,
    "due_in": due_in,
    "age": age,
    "humanize": humanize,
    "event_title": event_title,
    "display": display_value,
}
