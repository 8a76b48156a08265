"""``itinera check``: the workflow, the event store and the read model tell one story.

Three records of a case exist: the case workflow's state (Temporal history is the source
of truth), the case's event stream (``case_events``) and its projection (``cases``,
``case_members``, ``tasks``, ...).  For every case (or the ones named) this compares:

- **workflow vs events**: the workflow's state must be exactly the fold of the stored
  events (same version, same stage, same tasks with the same times).  A workflow whose
  case has no events, or events whose case has no workflow, are differences too;
- **events vs projection**: rebuilding the projection from the events (the same code
  ``itinera rebuild-projection`` runs, inside a transaction that is rolled back) must
  change no row.

The workflow's state comes from its ``state`` query while it runs and from its result once
it has finished (a closed case's workflow completes with its final state).  Querying needs
a worker polling the case task queue.  Nothing is written: the checker reads and rolls back.

Movements and orientation sessions are checked the same way (``consistency_groups``): each
workflow's state against its read-model rows, and a movement's recorded departures and
arrivals against its cases.

It is meant for operators (run it in production: it only reads) and for the fault tests
and the benchmark, which run it after killing processes mid-load.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from consistency_groups import MOVEMENTS, SESSIONS, GroupDifference, all_group_ids, check_group
from domain.case import CaseState, fold
from domain.programmes.registry import workflow_types
from store.projection import load_events, read_rebuilt_projection

# The projection's tables and the order that makes their rows comparable.
_PROJECTION_TABLES = {
    "cases": "case_id",
    "case_members": "member_id",
    "tasks": "task_id",
    "stage_stays": "seq",
}


@dataclass
class Difference:
    case_id: str
    where: str  # "workflow", "events", "projection"
    what: str

    def __str__(self) -> str:
        return f"{self.case_id}: [{self.where}] {self.what}"


@dataclass
class CheckReport:
    cases_checked: int = 0
    differences: list[Difference | GroupDifference] = field(default_factory=list)
    movements_checked: int = 0
    sessions_checked: int = 0

    @property
    def clean(self) -> bool:
        return not self.differences


async def _projection_rows(conn: asyncpg.Connection, case_id: str) -> dict[str, list[dict[str, Any]]]:
    rows = {}
    for table, order in _PROJECTION_TABLES.items():
        fetched = await conn.fetch(f"SELECT * FROM {table} WHERE case_id = $1 ORDER BY {order}", case_id)
        rows[table] = [dict(r) for r in fetched]
    return rows


def _row_differences(case_id: str, stored: dict[str, list[dict[str, Any]]],
                     rebuilt: dict[str, list[dict[str, Any]]]) -> list[Difference]:
    found = []
    for table, key in _PROJECTION_TABLES.items():
        have = {r[key]: r for r in stored[table]}
        want = {r[key]: r for r in rebuilt[table]}
        for k in sorted(set(have) | set(want), key=str):
            if k not in want:
                found.append(Difference(case_id, "projection", f"{table} row {k} is not derived from the events"))
            elif k not in have:
                found.append(Difference(case_id, "projection", f"{table} row {k} is missing"))
            else:
                columns = [c for c in want[k] if have[k].get(c) != want[k][c]]
                if columns:
                    shown = ", ".join(f"{c}: {have[k].get(c)!r} (events say {want[k][c]!r})" for c in columns[:4])
                    found.append(Difference(case_id, "projection", f"{table} row {k} differs: {shown}"))
    return found


async def check_projection(conn: asyncpg.Connection, case_id: str, events_state: CaseState | None) -> list[Difference]:
    """Rebuild the case's projection from its events in a transaction that is rolled back,
    and report every row the rebuild would change."""
    if events_state is None:
        orphan = await conn.fetchval("SELECT count(*) FROM cases WHERE case_id = $1", case_id)
        return [Difference(case_id, "projection", "a read-model row exists without events")] if orphan else []
    stored = await _projection_rows(conn, case_id)
    rebuilt = await read_rebuilt_projection(conn, case_id, lambda c: _projection_rows(c, case_id))
    assert rebuilt is not None  # the case has events
    return _row_differences(case_id, stored, rebuilt)


async def workflow_state(client: Client, case_id: str) -> tuple[str, CaseState | None]:
    """(status, state) of the case's workflow; status "missing" when Temporal has none."""
    handle = client.get_workflow_handle(case_id, result_type=CaseState)
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return "missing", None
        raise
    status = description.status
    if status == WorkflowExecutionStatus.COMPLETED:
        return "completed", await handle.result()
    if status == WorkflowExecutionStatus.RUNNING:
        return "running", await handle.query("state", result_type=CaseState)
    return (status.name.lower() if status else "unknown"), None


def _state_differences(case_id: str, workflow: CaseState, events: CaseState) -> list[Difference]:
    have, want = workflow.model_dump(mode="json"), events.model_dump(mode="json")
    if have == want:
        return []
    keys = [k for k in sorted(set(have) | set(want)) if have.get(k) != want.get(k)]
    detail = ", ".join(keys[:6])
    return [Difference(case_id, "workflow",
                       f"the workflow's state (version {workflow.version}) is not the fold of the stored events "
                       f"(version {events.version}); differing fields: {detail}")]


async def check_case(conn: asyncpg.Connection, client: Client, case_id: str) -> list[Difference]:
    events = await load_events(conn, case_id)
    differences = []
    seqs = [e.seq for e in events]
    if seqs != list(range(1, len(seqs) + 1)):
        differences.append(Difference(case_id, "events", f"the event stream has gaps: seqs {seqs[:10]}..."))
    events_state = fold(events) if events else None
    status, state = await workflow_state(client, case_id)
    if status == "missing":
        if events:
            differences.append(Difference(case_id, "workflow",
                                          f"{len(events)} stored events but Temporal has no workflow for the case"))
    elif state is None:
        if status in ("running", "completed"):
            if events:
                differences.append(Difference(case_id, "workflow",
                                              f"the workflow has not recorded the referral, but the store holds "
                                              f"{len(events)} events"))
        else:
            differences.append(Difference(case_id, "workflow", f"the workflow is {status}"))
    elif events_state is None:
        differences.append(Difference(case_id, "events",
                                      f"the workflow is at version {state.version} but no events are stored"))
    else:
        differences += _state_differences(case_id, state, events_state)
    differences += await check_projection(conn, case_id, events_state)
    return differences


async def _unknown_case(conn: asyncpg.Connection, client: Client, case_id: str) -> bool:
    """A named case that no record knows (a typo must not read as "checked, clean")."""
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM cases WHERE case_id = $1) "
                           "OR EXISTS (SELECT 1 FROM case_events WHERE case_id = $1)", case_id):
        return False
    return (await workflow_state(client, case_id))[0] == "missing"


async def all_case_ids(conn: asyncpg.Connection, client: Client) -> list[str]:
    """Every case any of the three records knows of."""
    ids = {r["case_id"] for r in await conn.fetch("SELECT case_id FROM cases UNION SELECT DISTINCT case_id FROM case_events")}
    query = " OR ".join(f"WorkflowType = '{t}'" for t in workflow_types())
    async for execution in client.list_workflows(query):
        ids.add(execution.id)
    return sorted(ids)


async def check(conn: asyncpg.Connection, client: Client, case_ids: list[str] | None = None,
                movement_ids: list[str] | None = None, session_ids: list[str] | None = None) -> CheckReport:
    """Check what is named (nothing named: every case, movement and orientation session; only
    cases named: those cases) and report every difference."""
    everything = not (case_ids or movement_ids or session_ids)
    ids = case_ids if case_ids else (await all_case_ids(conn, client) if everything else [])
    report = CheckReport(cases_checked=len(ids))
    for case_id in ids:
        found = await check_case(conn, client, case_id)
        if not found and case_ids and await _unknown_case(conn, client, case_id):
            found = [Difference(case_id, "workflow", f"no case {case_id} in Temporal, the events or the read model")]
        report.differences += found
    for kind, named in ((MOVEMENTS, movement_ids), (SESSIONS, session_ids)):
        group_ids = named if named else (await all_group_ids(conn, client, kind) if everything else [])
        for group_id in group_ids:
            report.differences += await check_group(conn, client, kind, group_id, named=bool(named))
        if kind is MOVEMENTS:
            report.movements_checked = len(group_ids)
        else:
            report.sessions_checked = len(group_ids)
    return report


async def wait_until_consistent(conn: asyncpg.Connection, client: Client, case_ids: list[str] | None = None,
                                timeout: float = 60.0, *, movement_ids: list[str] | None = None,
                                session_ids: list[str] | None = None) -> CheckReport:
    """Check again until clean or ``timeout``: commands still in flight after a fault
    (an activity retrying until PostgreSQL is back) settle by themselves."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        report = await check(conn, client, case_ids, movement_ids, session_ids)
        if report.clean or asyncio.get_running_loop().time() > deadline:
            return report
        await asyncio.sleep(1.0)
