"""Figures for supervisors, in plain SQL over the read model (``GET /api/v1/reports/...``).

Every report is scoped to offices (the caller's, or one of them), reads only the projection
tables (``cases``, ``case_members``, ``tasks``) and the event store (``case_events``, for the
time spent in each stage), and uses the indexes of ``migrations/0036_report_indexes.sql``.

A report is a ``Report``: columns, rows, and for each number a link to the case list
(``GET /api/v1/cases`` with the query parameters that list the cases behind it) where the
case list can filter that way; ``links`` names the column a link belongs to.  The same
report renders as JSON, CSV (``api/routes/reports.py``) and the UI's dashboard.

Definitions (also in the README, "Figures"):

* **stages**: cases (and people: their members) by programme and the stage they are in now;
  closed cases are in the stage ``closed``.
* **flows**: per week (Monday) or month, in the offices' time zone: referrals (``referred_at``),
  departures (``departed_at``), arrivals (``arrived_on``, the date confirmed) and closures
  (``closed_at``), counted in cases, departures and arrivals also in people.  Each case counts
  once per kind, at its latest such time (a case that departed again after a no-show counts
  at its last departure).
* **nationalities**: every member counts (people); ``cases`` counts the cases with at least one
  member of that nationality, which is what its link lists.  **destinations** / **origins**:
  the case's destination (resettlement) or country of origin (AVRR), in cases and people.
* **stage-durations**: for each case, the days it spent in each stage (the time from a
  ``StageEntered`` to the next stage boundary: the next ``StageEntered`` or ``CaseClosed``;
  time on hold included; a stage entered twice, e.g. back to health, counts both stays), over
  the stays that ended in the date range; the median over cases.  SLA compliance: of the
  tasks of the stage completed in the range (every task: per member, reviews and escalations
  too), those completed by their due time (as it stood at completion: a supervisor's new due
  date and the time a hold paused the clock count), as a share.
* **training**: resettlement's orientation (``record_orientation``, one per member) and AVRR's
  pre-departure counselling (``record_predeparture_counselling``, one session per case)
  completed per month; people: members whose orientation is recorded as attended now, and
  the members of the cases whose pre-departure counselling is recorded, apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import asyncpg

from domain.model import Stage
from domain.programmes.registry import definition_of
from settings import get_settings

CASES_URL = "/api/v1/cases"
Period = Literal["week", "month"]
CountryKind = Literal["nationalities", "destinations", "origins"]

ORIENTATION_TASK = "record_orientation"
PREDEPARTURE_TASK = "record_predeparture_counselling"
_STAGE_RANK = {s.value: i for i, s in enumerate(Stage)}


@dataclass
class Report:
    name: str
    title: str
    offices: list[str]
    parameters: dict[str, Any]
    columns: list[str]
    rows: list[dict[str, Any]]
    links: list[dict[str, str]] = field(default_factory=list)  # per row: column -> case list URL
    totals: dict[str, Any] = field(default_factory=dict)
    totals_links: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"report": self.name, "title": self.title, "offices": self.offices, "parameters": self.parameters,
                "columns": self.columns,
                "rows": [{**row, "links": links} for row, links in zip(self.rows, self.links)],
                "totals": self.totals, "totals_links": self.totals_links}


def cases_link(offices: list[str], scoped_office: str | None, **params: Any) -> str:
    """The case list of the cases behind a number (``office`` only when the report was for one)."""
    query = {"office": scoped_office} if scoped_office else {}
    query.update({k: (v.isoformat() if isinstance(v, (date, datetime)) else v)
                  for k, v in params.items() if v is not None})
    return f"{CASES_URL}?{urlencode(query)}" if query else CASES_URL


def report_zone(offices: list[str]) -> str:
    """The time zone weeks and months start in: the offices' when they share one, else UTC."""
    zones = {get_settings().time_zone_of(o) for o in offices}
    return zones.pop() if len(zones) == 1 else "UTC"


def _stage_label(programme: str, stage: str) -> str:
    try:
        return definition_of(programme).stage_labels[Stage(stage)]
    except (ValueError, KeyError):
        return stage.replace("_", " ").capitalize()


def _order(row: asyncpg.Record) -> tuple[str, int]:
    return row["programme"], _STAGE_RANK.get(row["stage"], 99)


# --- 1. cases by stage and programme now --------------------------------------------------------

_STAGES = """
SELECT programme, stage, count(*) AS cases, sum(member_count)::bigint AS people
FROM cases WHERE office = ANY($1::text[]) AND ($2::text IS NULL OR programme = $2)
GROUP BY programme, stage
"""


async def stages(conn: asyncpg.Connection, offices: list[str], *, office: str | None = None,
                 programme: str | None = None) -> Report:
    rows = sorted(await conn.fetch(_STAGES, offices, programme), key=_order)
    out, links = [], []
    for r in rows:
        out.append({"programme": r["programme"], "stage": r["stage"],
                    "stage_label": _stage_label(r["programme"], r["stage"]),
                    "cases": r["cases"], "people": r["people"]})
        link = cases_link(offices, office, programme=r["programme"], stage=r["stage"])
        links.append({"cases": link})
    totals = {"cases": sum(r["cases"] for r in rows), "people": sum(r["people"] for r in rows)}
    return Report("stages", "Cases by stage and programme now", offices,
                  {"office": office, "programme": programme},
                  ["programme", "stage", "stage_label", "cases", "people"], out, links, totals,
                  {"cases": cases_link(offices, office, programme=programme)})


# --- 2. referrals, departures, arrivals and closures per week or month --------------------------

_FLOWS = """
SELECT 'referrals' AS kind, date_trunc($2, referred_at AT TIME ZONE $3)::date AS bucket,
       count(*) AS cases, sum(member_count)::bigint AS people
FROM cases WHERE office = ANY($1::text[]) AND referred_at >= $4 AND referred_at < $5
     AND ($8::text IS NULL OR programme = $8) GROUP BY 2
UNION ALL
SELECT 'departures', date_trunc($2, departed_at AT TIME ZONE $3)::date, count(*), sum(member_count)::bigint
FROM cases WHERE office = ANY($1::text[]) AND departed_at >= $4 AND departed_at < $5
     AND ($8::text IS NULL OR programme = $8) GROUP BY 2
UNION ALL
SELECT 'arrivals', date_trunc($2, arrived_on::timestamp)::date, count(*), sum(member_count)::bigint
FROM cases WHERE office = ANY($1::text[]) AND arrived_on >= $6 AND arrived_on < $7
     AND ($8::text IS NULL OR programme = $8) GROUP BY 2
UNION ALL
SELECT 'closures', date_trunc($2, closed_at AT TIME ZONE $3)::date, count(*), sum(member_count)::bigint
FROM cases WHERE office = ANY($1::text[]) AND closed_at >= $4 AND closed_at < $5
     AND ($8::text IS NULL OR programme = $8) GROUP BY 2
"""

FLOW_KINDS = {"referrals": "referred", "departures": "departed", "arrivals": "arrived", "closures": "closed"}


def period_start(day: date, period: Period) -> date:
    return day - timedelta(days=day.weekday()) if period == "week" else day.replace(day=1)


def next_period(start: date, period: Period) -> date:
    if period == "week":
        return start + timedelta(days=7)
    return date(start.year + (start.month == 12), start.month % 12 + 1, 1)


def default_range(today: date) -> tuple[date, date]:
    """The last twelve months up to and including today (the date range a report gets by default)."""
    first = date(today.year - 1, today.month, 1)
    return first, today + timedelta(days=1)


async def flows(conn: asyncpg.Connection, offices: list[str], *, period: Period, since: date, until: date,
                office: str | None = None, programme: str | None = None) -> Report:
    """``since`` inclusive, ``until`` exclusive, widened to whole periods."""
    zone = report_zone(offices)
    tz = ZoneInfo(zone)
    starts = [period_start(since, period)]
    while next_period(starts[-1], period) < until:
        starts.append(next_period(starts[-1], period))
    end = next_period(starts[-1], period)

    def instant(day: date) -> datetime:
        return datetime.combine(day, time(), tz)

    counts: dict[tuple[str, date], asyncpg.Record] = {
        (r["kind"], r["bucket"]): r for r in await conn.fetch(
            _FLOWS, offices, period, zone, instant(starts[0]), instant(end), starts[0], end, programme)}
    out, links = [], []
    for start in starts:
        stop = next_period(start, period)
        row: dict[str, Any] = {"period_start": start, "period_end": stop - timedelta(days=1)}
        row_links: dict[str, str] = {}
        for kind, prefix in FLOW_KINDS.items():
            found = counts.get((kind, start))
            row[kind] = found["cases"] if found else 0
            if kind in ("departures", "arrivals"):
                row[f"people_{prefix}"] = found["people"] if found else 0
            bounds = (start, stop) if kind == "arrivals" else (instant(start), instant(stop))
            row_links[kind] = cases_link(offices, office, programme=programme,
                                         **{f"{prefix}_since": bounds[0], f"{prefix}_before": bounds[1]})
        out.append(row)
        links.append(row_links)
    totals = {k: sum(r[k] for r in out) for k in out[0] if k not in ("period_start", "period_end")} if out else {}
    return Report("flows", f"Referrals, departures, arrivals and closures per {period}", offices,
                  {"office": office, "programme": programme, "period": period, "from": starts[0],
                   "to": end - timedelta(days=1), "time_zone": zone},
                  ["period_start", "period_end", "referrals", "departures", "people_departed", "arrivals",
                   "people_arrived", "closures"], out, links, totals)


# --- 3. by nationality, destination and origin --------------------------------------------------

_NATIONALITIES = """
SELECT country, count(*) AS cases, sum(n)::bigint AS people FROM (
    -- per case and nationality first: two hash aggregates instead of a count(DISTINCT)'s sort
    SELECT m.nationality AS country, m.case_id, count(*) AS n
    FROM case_members m JOIN cases c ON c.case_id = m.case_id
    WHERE c.office = ANY($1::text[]) AND ($2::text IS NULL OR c.programme = $2)
          AND ($3::date IS NULL OR c.arrived_on >= $3) AND ($4::date IS NULL OR c.arrived_on < $4)
    GROUP BY m.nationality, m.case_id
) per_case
GROUP BY country ORDER BY people DESC, country
"""

_CASE_COUNTRIES = """
SELECT {column} AS country, count(*) AS cases, sum(member_count)::bigint AS people
FROM cases c
WHERE c.office = ANY($1::text[]) AND {column} IS NOT NULL AND ($2::text IS NULL OR c.programme = $2)
      AND ($3::date IS NULL OR c.arrived_on >= $3) AND ($4::date IS NULL OR c.arrived_on < $4)
GROUP BY {column} ORDER BY people DESC, country
"""

_COUNTRY_KINDS: dict[str, tuple[str, str, str]] = {  # report -> (SQL, case list filter, title)
    "nationalities": (_NATIONALITIES, "nationality", "People by nationality (every member)"),
    "destinations": (_CASE_COUNTRIES.format(column="c.destination_country"), "destination",
                     "Cases and people by destination"),
    "origins": (_CASE_COUNTRIES.format(column="c.origin_country"), "origin", "Cases and people by country of origin"),
}


async def countries(conn: asyncpg.Connection, offices: list[str], kind: CountryKind, *, office: str | None = None,
                    programme: str | None = None, arrived_since: date | None = None,
                    arrived_before: date | None = None) -> Report:
    """Optionally only the cases that arrived in a date range (``arrived_since`` inclusive,
    ``arrived_before`` exclusive): "people resettled in 2026, by nationality"."""
    sql, filter_name, title = _COUNTRY_KINDS[kind]
    rows = await conn.fetch(sql, offices, programme, arrived_since, arrived_before)
    out = [{"country": r["country"], "cases": r["cases"], "people": r["people"]} for r in rows]
    links = [{"cases": cases_link(offices, office, programme=programme, arrived_since=arrived_since,
                                  arrived_before=arrived_before, **{filter_name: r["country"]})} for r in rows]
    totals = {"people": sum(r["people"] for r in rows)}
    if kind != "nationalities":
        totals["cases"] = sum(r["cases"] for r in rows)
    return Report(kind, title, offices,
                  {"office": office, "programme": programme, "arrived_since": arrived_since,
                   "arrived_before": arrived_before},
                  ["country", "cases", "people"], out, links, totals)


# --- 4. median days per stage and SLA compliance ------------------------------------------------

_STAGE_DAYS = """
WITH per_case AS (
    -- the stays that ended in the range (migrations/0046_stage_stays.sql), per case and stage
    SELECT c.programme, s.stage, s.case_id, sum(s.left_at - s.entered_at) AS spent
    FROM stage_stays s JOIN cases c ON c.case_id = s.case_id
    WHERE s.left_at >= $2 AND s.left_at < $3 AND s.stage <> 'closed'
      AND c.office = ANY($1::text[]) AND ($4::text IS NULL OR c.programme = $4)
    GROUP BY c.programme, s.stage, s.case_id
)
SELECT programme, stage, count(*) AS cases,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM spent) / 86400.0) AS median_days
FROM per_case GROUP BY programme, stage
"""

_SLA = """
SELECT c.programme, t.stage, count(*) AS completed, count(*) FILTER (WHERE t.completed_at <= t.due_at) AS on_time
FROM tasks t JOIN cases c ON c.case_id = t.case_id
WHERE t.office = ANY($1::text[]) AND t.status = 'completed' AND t.completed_at >= $2 AND t.completed_at < $3
      AND ($4::text IS NULL OR c.programme = $4)
GROUP BY c.programme, t.stage
"""


async def stage_durations(conn: asyncpg.Connection, offices: list[str], *, since: date, until: date,
                          office: str | None = None, programme: str | None = None) -> Report:
    tz = ZoneInfo(report_zone(offices))
    lo, hi = datetime.combine(since, time(), tz), datetime.combine(until, time(), tz)
    days = {(r["programme"], r["stage"]): r for r in await conn.fetch(_STAGE_DAYS, offices, lo, hi, programme)}
    sla = {(r["programme"], r["stage"]): r for r in await conn.fetch(_SLA, offices, lo, hi, programme)}
    keys = sorted(set(days) | set(sla), key=lambda k: (k[0], _STAGE_RANK.get(k[1], 99)))
    out = []
    for programme_name, stage in keys:
        d, s = days.get((programme_name, stage)), sla.get((programme_name, stage))
        completed, on_time = (s["completed"], s["on_time"]) if s else (0, 0)
        out.append({"programme": programme_name, "stage": stage, "stage_label": _stage_label(programme_name, stage),
                    "cases": d["cases"] if d else 0,
                    "median_days": round(d["median_days"], 6) if d else None,
                    "tasks_completed": completed, "tasks_on_time": on_time,
                    "sla_compliance": round(on_time / completed, 4) if completed else None})
    all_done = sum(r["tasks_completed"] for r in out)
    totals = {"tasks_completed": all_done, "tasks_on_time": sum(r["tasks_on_time"] for r in out),
              "sla_compliance": round(sum(r["tasks_on_time"] for r in out) / all_done, 4) if all_done else None}
    # A stay or a task is not a case the case list can select by: these numbers have no links.
    return Report("stage-durations", "Median days per stage and SLA compliance", offices,
                  {"office": office, "programme": programme, "from": since, "to": until - timedelta(days=1),
                   "time_zone": str(tz)},
                  ["programme", "stage", "stage_label", "cases", "median_days", "tasks_completed", "tasks_on_time",
                   "sla_compliance"], out, [{} for _ in out], totals)


# --- 5. people trained in orientation -----------------------------------------------------------

_TRAINING_MONTHS = """
SELECT date_trunc('month', t.completed_at AT TIME ZONE $4)::date AS month, t.task_type, count(*) AS sessions,
       -- the members of the case, read only for AVRR's sessions (orientation is one task per member)
       coalesce(sum((SELECT c.member_count FROM cases c WHERE c.case_id = t.case_id))
                FILTER (WHERE t.task_type = $6), 0)::bigint AS counselled_people
FROM tasks t
WHERE t.office = ANY($1::text[]) AND t.status = 'completed' AND t.completed_at >= $2 AND t.completed_at < $3
      AND t.task_type IN ($5, $6)
GROUP BY 1, 2
"""

_TRAINED_NOW = """
SELECT
  (SELECT count(*) FROM case_members m JOIN cases c ON c.case_id = m.case_id
   WHERE c.office = ANY($1::text[]) AND c.programme = 'resettlement' AND m.orientation_status = 'attended')
   AS orientation_attended,
  (SELECT count(*) FROM cases c
   WHERE c.office = ANY($1::text[]) AND c.programme = 'avrr'
     AND EXISTS (SELECT 1 FROM tasks t WHERE t.case_id = c.case_id AND t.task_type = $2 AND t.status = 'completed'))
   AS counselled_cases,
  (SELECT coalesce(sum(c.member_count), 0) FROM cases c
   WHERE c.office = ANY($1::text[]) AND c.programme = 'avrr'
     AND EXISTS (SELECT 1 FROM tasks t WHERE t.case_id = c.case_id AND t.task_type = $2 AND t.status = 'completed'))
   AS counselled_people
"""


async def training(conn: asyncpg.Connection, offices: list[str], *, since: date, until: date,
                   office: str | None = None) -> Report:
    zone = report_zone(offices)
    tz = ZoneInfo(zone)
    months = [since.replace(day=1)]
    while next_period(months[-1], "month") < until:
        months.append(next_period(months[-1], "month"))
    end = next_period(months[-1], "month")
    found = {(r["month"], r["task_type"]): r for r in await conn.fetch(
        _TRAINING_MONTHS, offices, datetime.combine(months[0], time(), tz), datetime.combine(end, time(), tz), zone,
        ORIENTATION_TASK, PREDEPARTURE_TASK)}
    out = []
    for month in months:
        o, p = found.get((month, ORIENTATION_TASK)), found.get((month, PREDEPARTURE_TASK))
        out.append({"month": month, "orientation_people": o["sessions"] if o else 0,
                    "predeparture_counselling_sessions": p["sessions"] if p else 0,
                    "predeparture_counselling_people": p["counselled_people"] if p else 0})
    now = await conn.fetchrow(_TRAINED_NOW, offices, PREDEPARTURE_TASK)
    totals = {"people_orientation_attended": now["orientation_attended"],
              "avrr_cases_counselled_predeparture": now["counselled_cases"],
              "avrr_people_counselled_predeparture": now["counselled_people"]}
    return Report("training", "People trained: orientation (resettlement) and pre-departure counselling (AVRR)",
                  offices, {"office": office, "from": months[0], "to": end - timedelta(days=1), "time_zone": zone},
                  ["month", "orientation_people", "predeparture_counselling_sessions",
                   "predeparture_counselling_people"], out, [{} for _ in out], totals)


def today_in(offices: list[str]) -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(report_zone(offices))).date()


# --- 6. people trained in orientation sessions, by destination and language ------------------

_SESSION_TRAINING = """
SELECT date_trunc('month', s.session_date)::date AS month, s.destination_country, s.language,
       count(DISTINCT s.session_id) AS sessions, count(*) AS people_trained
FROM orientation_participants p JOIN orientation_sessions s ON s.session_id = p.session_id
WHERE s.office = ANY($1::text[]) AND s.status = 'held' AND p.on_session AND p.attendance = 'attended'
      AND s.session_date >= $2 AND s.session_date < $3
      AND ($4::text IS NULL OR s.destination_country = $4) AND ($5::text IS NULL OR s.language = $5)
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
"""


async def orientation_sessions(conn: asyncpg.Connection, offices: list[str], *, since: date, until: date,
                               office: str | None = None, destination_country: str | None = None,
                               language: str | None = None) -> Report:
    """People who attended an orientation session (issue 15), per month of the session's day (in
    the session's own time zone), destination and language.  From the sessions' read model: a
    person counts once per session attended (a re-invited absentee counts when they attend).
    No case links: a session is not a filter of the case list."""
    rows = [dict(r) for r in await conn.fetch(_SESSION_TRAINING, offices, since, until, destination_country,
                                              language)]
    totals = {"sessions": sum(r["sessions"] for r in rows), "people_trained": sum(r["people_trained"] for r in rows)}
    return Report("orientation-sessions", "People trained in orientation sessions, by month, destination and language",
                  offices, {"office": office, "from": since, "to": until - timedelta(days=1),
                            "destination_country": destination_country, "language": language},
                  ["month", "destination_country", "language", "sessions", "people_trained"], rows,
                  [{} for _ in rows], totals)
