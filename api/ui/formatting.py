"""How values read on screen: dates people can read at a glance, codes as words.

Times are shown in UTC and say so (offices span time zones, and a caseworker comparing a
due date with a flight time must not guess); ``ui.js`` rewrites them into the browser's
local time when scripts run, keeping the exact value in the ``<time datetime>`` attribute.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

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


def fmt_date(value: Any) -> str:
    """``12 Mar 2026``; accepts a date, a datetime or an ISO string; '' for nothing."""
    if value is None or value == "":
        return ""
    moment = _as_datetime(value)
    if moment is not None:
        value = moment.astimezone(UTC).date()
    elif isinstance(value, str) and _ISO_DATE.match(value):
        value = date.fromisoformat(value)
    if isinstance(value, date):
        return f"{value.day} {value:%b %Y}"
    return str(value)


def fmt_datetime(value: Any) -> str:
    """``12 Mar 2026, 14:05 UTC``."""
    moment = _as_datetime(value)
    if moment is None:
        return fmt_date(value)
    moment = moment.astimezone(UTC)
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC"


def iso(value: Any) -> str:
    """Machine-readable value for ``<time datetime=...>``."""
    moment = _as_datetime(value)
    if moment is not None:
        return moment.astimezone(UTC).isoformat()
    return value.isoformat() if isinstance(value, date) else str(value or "")


def due_in(value: datetime, now: datetime | None = None) -> str:
    """How far a due date is: 'due in 3 days', 'due today', 'overdue by 2 days'."""
    now = now or datetime.now(UTC)
    seconds = (value - now).total_seconds()
    hours = abs(seconds) / 3600
    amount = f"{int(hours)} h" if hours < 24 else f"{int(hours // 24)} day{'s' if hours >= 48 else ''}"
    if seconds < 0:
        return f"overdue by {amount}" if hours >= 1 else "overdue"
    return f"due in {amount}" if hours >= 1 else "due within the hour"


def age(born: date, on: date | None = None) -> int:
    on = on or datetime.now(UTC).date()
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


def display_value(value: Any) -> str:
    """A recorded value as text: dates and times readable, snake_case codes as words; free text as typed."""
    if isinstance(value, bool) or value is None:
        return humanize(value)
    if isinstance(value, str):
        if _ISO_DATETIME.match(value):
            return fmt_datetime(value)
        if _ISO_DATE.match(value):
            return fmt_date(value)
        return humanize(value) if _SNAKE_CODE.match(value) else value
    if isinstance(value, list):
        return ", ".join(display_value(v) for v in value)
    return str(value)


FILTERS = {
    "date": fmt_date,
    "datetime": fmt_datetime,
    "iso": iso,
    "due_in": due_in,
    "age": age,
    "humanize": humanize,
    "event_title": event_title,
    "display": display_value,
}
