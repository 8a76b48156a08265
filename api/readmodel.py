"""The API's read side: queries over the PostgreSQL projections, never over Temporal.

Lists use keyset ("cursor") pagination over the same columns as their indexes, so a
page deep in 100,000 cases costs what the first page costs.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from typing import Any, NamedTuple

import asyncpg

from api.case_filters import CaseListFilter
from api.errors import ApiError
from api.schemas import (
    AvrrView,
    CaseDetail,
    CaseSummary,
    ClaimResult,
    EventView,
    KeyDates,
    MemberView,
    Page,
    StageStep,
    TaskDetail,
    TaskView,
)
from domain.destination_services import CaseServices
from domain.model import Priority, ProgrammeName, Stage
from domain.forms import form_json_schema
from domain.programmes.registry import any_spec, definition_of, spec_of
from domain.search_text import fold
from domain.text import unstorable
from settings import get_settings

_PRIORITIES = [p for p in Priority]


def _stage_label(programme: str, stage: str) -> str:
    try:
        return definition_of(programme).stage_labels[Stage(stage)]
    except (ValueError, KeyError):  # a programme this deployment no longer runs: its cases still list
        return stage.replace("_", " ").capitalize()


def _json(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value or {})


def _json_list(value: Any) -> list[dict[str, Any]]:
    return json.loads(value) if isinstance(value, str) else list(value or [])


def temporal_web_url(case_id: str) -> str:
    """Where the Temporal Web UI of this deployment shows the case's workflow."""
    settings = get_settings()
    origin = settings.temporal_ui_origin or f"http://127.0.0.1:{settings.temporal_ui_port}"
    return f"{origin.rstrip('/')}/namespaces/{settings.temporal_namespace}/workflows/{case_id}"


def office_time_zone(office: str) -> str:
    """The office's IANA time zone, from the settings (``ITINERA_OFFICE_TIME_ZONES``): the
    read model keeps times in UTC and has no column for it."""
    return get_settings().time_zone_of(office)


# --- cursors -------------------------------------------------------------------------------


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


_INT64 = (-(2**63), 2**63 - 1)


def _cursor_value(value: Any, kind: type) -> Any:
    """One value of a cursor, exactly of the kind its column holds and within what
    PostgreSQL takes: a cursor is client input, however opaque it looks.  Anything else
    raises ValueError."""
    if kind is int:
        if type(value) is not int or not _INT64[0] <= value <= _INT64[1]:  # bool is no int here
            raise ValueError
        return value
    if not isinstance(value, str) or unstorable(value):
        raise ValueError
    if kind is datetime:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError
        moment.astimezone(UTC)  # OverflowError near the ends of the calendar
        return moment
    return value


def decode_cursor(cursor: str, kinds: tuple[type, ...]) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError
        return [_cursor_value(v, kind) for v, kind in zip(values, kinds)]
    except (ValueError, TypeError, OverflowError, RecursionError):  # JSON, base64 and UTF-8 errors are ValueErrors
        raise ApiError(422, "invalid_request", "cursor is not one this API returned",
                       [{"field": "query.cursor", "reason": "malformed cursor; pass next_cursor unchanged"}]) from None


def _tsquery(text: str) -> str | None:
    words = re.findall(r"\w+", fold(text))[:8]
    return " & ".join(f"{w}:*" for w in words) or None


def _like(text: str) -> str:
    """An ILIKE pattern for ``text`` anywhere, its own % and _ taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class _Where:
    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, *values: Any) -> None:
        placeholders = []
        for value in values:
            self.params.append(value)
            placeholders.append(f"${len(self.params)}")
        self.clauses.append(clause.format(*placeholders))

    def sql(self) -> str:
        return ("WHERE " + " AND ".join(self.clauses)) if self.clauses else ""


# --- cases ---------------------------------------------------------------------------------

_CASE_COLUMNS = """c.case_id, c.external_referral_id, c.programme, c.office, c.priority, c.stage, c.status,
    c.closure_reason, c.principal_name, c.member_count, c.destination_country, c.origin_country, c.referred_at,
    c.updated_at, c.next_due_at"""


def _case_summary(row: asyncpg.Record) -> CaseSummary:
    data = dict(row)
    return CaseSummary(stage_label=_stage_label(row["programme"], row["stage"]),
                       office_time_zone=office_time_zone(row["office"]),
                       **{k: data[k] for k in CaseSummary.model_fields if k in data})


async def list_cases(
    conn: asyncpg.Connection,
    *,
    offices: list[str],
    stage: Stage | None = None,
    status: str | None = None,
    office: str | None = None,
    programme: ProgrammeName | None = None,
    priority: Priority | None = None,
    text: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    more: CaseListFilter | None = None,
) -> Page[CaseSummary]:
    where = _Where()
    where.add("c.office = ANY({})", offices)
    for clause, value in (more.clauses() if more else []):  # country and date filters (the reports' links)
        where.add(clause, value)
    if office:
        where.add("c.office = {}", office)
    if stage:
        where.add("c.stage = {}", stage.value)
    if status:
        where.add("c.status = {}", status)
    if programme:
        where.add("c.programme = {}", programme)
    if priority:
        where.add("c.priority = {}", priority.value)
    if text:
        # Names (any case, with or without accents), the case id (as shown, any case) or any
        # part of the external referral id.
        wanted, query = text.strip(), _tsquery(text)
        ids = "c.case_id = upper({}) OR c.external_referral_id ILIKE {}"
        if query:
            where.add(f"(c.search @@ to_tsquery('simple', {{}}) OR {ids})", query, wanted, _like(wanted))
        else:
            where.add(f"({ids})", wanted, _like(wanted))
    if cursor:
        referred_at, case_id = decode_cursor(cursor, (datetime, str))
        where.add("(c.referred_at, c.case_id) < ({}, {})", referred_at, case_id)
    where.params.append(limit + 1)
    rows = await conn.fetch(
        f"SELECT {_CASE_COLUMNS} FROM cases c {where.sql()} "
        f"ORDER BY c.referred_at DESC, c.case_id DESC LIMIT ${len(where.params)}",
        *where.params,
    )
    items = [_case_summary(r) for r in rows[:limit]]
    next_cursor = encode_cursor([rows[limit - 1]["referred_at"], rows[limit - 1]["case_id"]]) if len(rows) > limit else None
    return Page[CaseSummary](items=items, next_cursor=next_cursor)


async def case_office(conn: asyncpg.Connection, case_id: str) -> str | None:
    return await conn.fetchval("SELECT office FROM cases WHERE case_id = $1", case_id)


class KnownReferral(NamedTuple):
    case_id: str
    fingerprint: str
    office: str


async def find_case_by_referral(conn: asyncpg.Connection, external_referral_id: str) -> KnownReferral | None:
    """The case this referral id opened, if any: its id, referral fingerprint and office."""
    row = await conn.fetchrow("SELECT case_id, referral_fingerprint, office FROM cases WHERE external_referral_id = $1",
                              external_referral_id)
    return KnownReferral(row["case_id"], row["referral_fingerprint"], row["office"]) if row else None


async def case_office_and_programme(conn: asyncpg.Connection, case_id: str) -> tuple[str, str] | None:
    row = await conn.fetchrow("SELECT office, programme FROM cases WHERE case_id = $1", case_id)
    return (row["office"], row["programme"]) if row else None


async def current_members(conn: asyncpg.Connection, member_ids: list[str]) -> dict[str, dict[str, Any]]:
    """member id -> the case that holds the person now and who they are there (name, date of
    birth, sex, nationality: corrections included; a member split off to another case keeps
    the id, and its row moves to the new case).  A movement's export and a session's view show
    people by this, not by the copy their group took when they joined."""
    rows = await conn.fetch("SELECT member_id, case_id, full_name, date_of_birth, sex, nationality FROM case_members "
                            "WHERE member_id = ANY($1::text[])", member_ids)
    return {r["member_id"]: dict(r) for r in rows}


async def get_case(conn: asyncpg.Connection, case_id: str) -> CaseDetail | None:
    row = await conn.fetchrow(_GET_CASE, case_id)
    if row is None:
        return None
    members = [{k: v for k, v in m.items() if k != "position"} for m in _json_list(row["members_json"])]
    tasks = _json_list(row["tasks_json"])
    services_data = row["services_json"]
    services = CaseServices.model_validate(_json(services_data)) if services_data else None
    summary = _case_summary(row)
    return CaseDetail(
        **summary.model_dump(),
        version=row["version"],
        temporal_web_url=temporal_web_url(row["case_id"]),
        hold_reason=row["hold_reason"],
        key_dates=KeyDates(
            held_at=row["held_at"],
            referred_at=row["referred_at"],
            stage_entered_at=row["stage_entered_at"],
            next_due_at=row["next_due_at"],
            departure_at=row["departure_at"],
            departed_at=row["departed_at"],
            arrived_on=row["arrived_on"],
            closed_at=row["closed_at"],
        ),
        members=[MemberView(**dict(m)) for m in members],
        open_tasks=[_task_view(t) for t in tasks],
        programme_data=(data := _json(row["programme_data"])),
        avrr=AvrrView.model_validate(data) if row["programme"] == "avrr" else None,
        services=services,
        stages=_stages(row["programme"], services, row["destination_country"]),
        split_from=row["split_from"],
        split_into=[str(c) for c in _json_list(row["split_into_json"])],
    )


def _stages(programme: str, services: CaseServices | None, destination_country: str | None) -> list[StageStep]:
    definition = definition_of(programme)
    return [StageStep(stage=stage, label=definition.stage_labels[stage],
                      skipped=services is not None and services.skips(
                          stage, destination_country=destination_country, optional_stages=definition.optional_stages))
            for stage in definition.stages if stage != Stage.CLOSED]


async def list_events(conn: asyncpg.Connection, case_id: str) -> list[EventView]:
    rows = await conn.fetch(
        "SELECT seq, event_id, event_type, occurred_at, recorded_at, actor_kind, actor_id, actor_role, payload "
        "FROM case_events WHERE case_id = $1 ORDER BY seq",
        case_id,
    )
    return [
        EventView(
            seq=r["seq"],
            event_id=str(r["event_id"]),
            type=r["event_type"],
            occurred_at=r["occurred_at"],
            recorded_at=r["recorded_at"],
            actor={"kind": r["actor_kind"], "id": r["actor_id"], "role": r["actor_role"]},
            data={k: v for k, v in r["payload"].items() if k != "type"},
        )
        for r in rows
    ]


# --- tasks ---------------------------------------------------------------------------------

_TASK_SELECT = """SELECT t.task_id, t.case_id, t.task_type, t.stage, t.role, t.member_id, t.office, t.priority_rank,
    t.status, t.opened_at, t.due_at, t.completed_at, t.completed_by, t.overdue, t.escalated_task_id,
    m.full_name AS member_name, c.principal_name, c.member_count, c.status AS case_status,
    c.programme, k.claimed_by, k.claimed_at
FROM tasks t
JOIN cases c ON c.case_id = t.case_id
LEFT JOIN case_members m ON m.member_id = t.member_id
LEFT JOIN task_claims k ON k.task_id = t.task_id"""


# The inbox's order: overdue tasks first, whatever their priority; then by priority and due time.
_LATE_FIRST = "(CASE WHEN t.overdue THEN 0 ELSE 1 END)"

_MEMBER_COLUMNS = """member_id, full_name, date_of_birth, sex, nationality, relationship, health_status,
    clearance_valid_until, follow_up_needed, orientation_status, visa_status, visa_valid_until"""

# The case, its members, its open tasks and the services it recorded at referral, in one round
# trip (a command's answer and every case page read it; four queries were four round trips).
_GET_CASE = f"""
SELECT {_CASE_COLUMNS}, c.version, c.stage_entered_at, c.departure_at, c.departed_at, c.arrived_on,
    c.closed_at, c.hold_reason, c.held_at, c.programme_data,
    (SELECT coalesce(json_agg(m ORDER BY m.position), '[]')
       FROM (SELECT position, {_MEMBER_COLUMNS} FROM case_members WHERE case_id = $1) m) AS members_json,
    (SELECT coalesce(json_agg(t ORDER BY t.task_id), '[]')
       FROM ({_TASK_SELECT} WHERE t.case_id = $1 AND t.status = 'open') t) AS tasks_json,
    (SELECT e.payload->'services' FROM case_events e WHERE e.case_id = $1 AND e.seq = 1) AS services_json,
    (SELECT e.payload->>'from_case_id' FROM case_events e WHERE e.case_id = $1 AND e.seq = 1) AS split_from,
    (SELECT coalesce(json_agg(e.payload->>'new_case_id' ORDER BY e.seq), '[]') FROM case_events e
       WHERE e.case_id = $1 AND e.event_type = 'CaseSplit') AS split_into_json
FROM cases c WHERE c.case_id = $1
"""


def _task_title(programme: str, task_type: str) -> str:
    try:
        return spec_of(programme, task_type).title
    except (ValueError, KeyError):  # a programme this deployment no longer runs
        return task_type.replace("_", " ").capitalize()


def _task_view(row: asyncpg.Record) -> TaskView:
    return TaskView(
        task_id=row["task_id"],
        case_id=row["case_id"],
        task_type=row["task_type"],
        title=_task_title(row["programme"], row["task_type"]),
        stage=row["stage"],
        stage_label=_stage_label(row["programme"], row["stage"]),
        role=row["role"],
        member_id=row["member_id"],
        member_name=row["member_name"],
        case_name=row["principal_name"],
        case_size=row["member_count"],
        case_on_hold=row["case_status"] == "on_hold",
        office=row["office"],
        priority=_PRIORITIES[row["priority_rank"]],
        status=row["status"],
        opened_at=row["opened_at"],
        due_at=row["due_at"],
        overdue=row["status"] == "open" and row["overdue"],
        escalated_task_id=row["escalated_task_id"],
        claimed_by=row["claimed_by"] if row["status"] == "open" else None,
        claimed_at=row["claimed_at"] if row["status"] == "open" else None,
        completed_at=row["completed_at"],
        completed_by=row["completed_by"],
        programme=row["programme"],
        office_time_zone=office_time_zone(row["office"]),
    )


async def list_tasks(
    conn: asyncpg.Connection,
    *,
    offices: list[str],
    role: str | None = None,
    office: str | None = None,
    assignee: str | None = None,
    stage: Stage | None = None,
    overdue: bool | None = None,
    case_id: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[TaskView]:
    where = _Where()
    where.add("t.status = {}", "open")
    where.add("t.office = ANY({})", offices)
    if office:
        where.add("t.office = {}", office)
    if role:
        where.add("t.role = {}", role)
    if assignee == "unassigned":
        where.add("k.claimed_by IS NULL")
    elif assignee:
        where.add("k.claimed_by = {}", assignee)
    if stage:
        where.add("t.stage = {}", stage.value)
    if overdue is not None:
        where.add("t.overdue = {}", overdue)
    if case_id:
        where.add("t.case_id = {}", case_id)
    if cursor:
        late, rank, due, task_id = decode_cursor(cursor, (int, int, datetime, str))
        where.add(f"({_LATE_FIRST}, t.priority_rank, t.due_at, t.task_id) > ({{}}, {{}}, {{}}, {{}})", late, rank, due,
                  task_id)
    where.params.append(limit + 1)
    rows = await conn.fetch(
        f"{_TASK_SELECT} {where.sql()} ORDER BY {_LATE_FIRST}, t.priority_rank, t.due_at, t.task_id "
        f"LIMIT ${len(where.params)}",
        *where.params,
    )
    items = [_task_view(r) for r in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    next_cursor = encode_cursor([0 if last["overdue"] else 1, last["priority_rank"], last["due_at"], last["task_id"]]
                                ) if last else None
    return Page[TaskView](items=items, next_cursor=next_cursor)


async def get_task(conn: asyncpg.Connection, task_id: str) -> TaskView | None:
    row = await conn.fetchrow(f"{_TASK_SELECT} WHERE t.task_id = $1", task_id)
    return _task_view(row) if row else None


def task_detail(task: TaskView) -> TaskDetail:
    """The task with the JSON Schema of its form, as the task's own programme runs it."""
    form = (spec_of(task.programme, task.task_type) if task.programme else any_spec(task.task_type)).form
    return TaskDetail(**task.model_dump(), form_schema=form_json_schema(form))


async def claim_task(conn: asyncpg.Connection, task_id: str, username: str) -> ClaimResult | None:
    """Claim an open task for ``username``; None if someone else holds it."""
    row = await conn.fetchrow(
        """INSERT INTO task_claims (task_id, claimed_by) VALUES ($1, $2)
           ON CONFLICT (task_id) DO UPDATE SET claimed_by = task_claims.claimed_by
               WHERE task_claims.claimed_by = EXCLUDED.claimed_by
           RETURNING task_id, claimed_by, claimed_at""",
        task_id, username,
    )
    return ClaimResult(**dict(row)) if row else None


async def release_task(conn: asyncpg.Connection, task_id: str, username: str | None) -> bool:
    """Drop the claim on a task: ``username``'s, or (None, a supervisor's release) whoever's."""
    if username is None:
        result = await conn.execute("DELETE FROM task_claims WHERE task_id = $1", task_id)
    else:
        result = await conn.execute("DELETE FROM task_claims WHERE task_id = $1 AND claimed_by = $2", task_id, username)
    return result.endswith(" 1")


async def workflow_offices(conn: asyncpg.Connection, workflow_ids: list[str]) -> dict[str, list[str]]:
    """The offices that own each of these workflows (a case, movement, orientation session or
    referral import); a workflow of none of them is absent.  For the codec endpoint's scoping."""
    from workflows.referral_import import import_workflow_id

    imports = {import_workflow_id(w.removeprefix(import_workflow_id(""))): w.removeprefix(import_workflow_id(""))
               for w in workflow_ids if w.startswith(import_workflow_id(""))}
    rows = await conn.fetch(
        "SELECT case_id AS id, ARRAY[office] AS offices FROM cases WHERE case_id = ANY($1::text[]) "
        "UNION ALL SELECT movement_id, ARRAY[office] FROM movements WHERE movement_id = ANY($1::text[]) "
        "UNION ALL SELECT session_id, ARRAY[office] FROM orientation_sessions WHERE session_id = ANY($1::text[]) "
        "UNION ALL SELECT $3 || import_id, offices FROM referral_imports WHERE import_id = ANY($2::text[])",
        workflow_ids, list(imports.values()), import_workflow_id(""))
    return {r["id"]: list(r["offices"]) for r in rows}


async def deployment_offices(conn: asyncpg.Connection) -> set[str]:
    """Every office that has a case, movement or orientation session."""
    rows = await conn.fetch("SELECT office FROM cases GROUP BY office UNION SELECT office FROM movements "
                            "UNION SELECT office FROM orientation_sessions")
    return {r["office"] for r in rows}
