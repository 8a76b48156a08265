"""``itinera check`` for the group workflows: movements and orientation sessions.

A movement (or a session) has two records: its workflow's state (Temporal history, the source
of truth) and its read-model row (``movements.state`` / ``orientation_sessions.state``, with the
per-case / per-person rows derived from it), written by the workflow's recording activity and
only ever moved forward.  After a crash they must tell one story again:

- **workflow vs row**: the row's state is exactly the workflow's (same version, manifest,
  fan-out results); a row without a workflow, or a workflow that holds a movement the read
  model lacks, is a difference;
- **row vs derived rows**: ``movement_cases`` / ``orientation_participants`` hold exactly the
  cases / people the state has on it, open while the group is;
- **movement vs its cases** (what a family would feel): every case whose departure the
  movement recorded as applied shows the departure in the case's read model, and likewise
  its arrival; an open or locked manifest lists no one under a case that no longer holds them
  (split off since it was added: the lock's ``members_changed``, ``left_case_problems``).

Like ``consistency``, it only reads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from pydantic import BaseModel
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from api.readmodel import current_members
from domain.movements.model import MovementState, MovementStatus
from domain.movements.rules import left_case_problems
from domain.movements.records import MOVEMENT_WORKFLOW_TYPE
from domain.sessions.model import SessionState, SessionStatus
from domain.sessions.records import SESSION_WORKFLOW_TYPE


@dataclass(frozen=True)
class GroupDifference:
    group_id: str
    where: str  # "workflow", "read model", "cases"
    what: str

    def __str__(self) -> str:
        return f"{self.group_id}: [{self.where}] {self.what}"


@dataclass(frozen=True)
class GroupKind:
    """How one kind of group workflow is stored."""

    noun: str
    workflow_type: str
    state_type: type[BaseModel]
    table: str
    id_column: str
    derived: Callable[[asyncpg.Connection, Any], Awaitable[list[str]]]


async def _movement_rows(conn: asyncpg.Connection, state: MovementState) -> list[str]:
    """``movement_cases`` against the manifest, and the cases against what the movement recorded."""
    found = []
    rows = {r["case_id"]: r for r in await conn.fetch(
        "SELECT case_id, on_manifest, open FROM movement_cases WHERE movement_id = $1", state.movement_id)}
    is_open = state.status in (MovementStatus.OPEN, MovementStatus.LOCKED)
    for entry in state.manifest:
        row = rows.get(entry.case_id)
        if row is None or not row["on_manifest"] or row["open"] != is_open:
            found.append(f"movement_cases row of {entry.case_id} does not show it on the manifest"
                         f"{' (open)' if is_open else ''}")
    on_manifest = {e.case_id for e in state.manifest}
    for case_id, row in sorted(rows.items()):
        if row["on_manifest"] and case_id not in on_manifest:
            found.append(f"movement_cases shows {case_id} on the manifest, the movement does not")
    if is_open and state.manifest:
        holders = await current_members(conn, [p.member_id for e in state.manifest for p in e.members])
        found += [f"case {p.case_id}: {p.message}"
                  for p in left_case_problems(state, {m: r["case_id"] for m, r in holders.items()})]
    if state.status == MovementStatus.DEPARTED and state.fan_out_done:
        for e in state.manifest:
            if e.boarded and (e.departure is None or not e.departure.applied):
                why = e.departure.reason if e.departure is not None else "never sent"
                found.append(f"case {e.case_id}: the movement says it boarded the flight, the case has no departure "
                             f"from it ({why})")
    departed = [e.case_id for e in state.manifest
                if e.departure is not None and e.departure.applied and e.departure.outcome == "departed"]
    arrived = [e.case_id for e in state.manifest if e.arrival is not None and e.arrival.applied]
    if departed or arrived:
        cases = {r["case_id"]: r for r in await conn.fetch(
            "SELECT case_id, departed_at, arrived_on FROM cases WHERE case_id = ANY($1::text[])", departed + arrived)}
        for case_id in departed:
            if case_id not in cases or cases[case_id]["departed_at"] is None:
                found.append(f"case {case_id}: the movement recorded its departure, the case shows none")
        for case_id in arrived:
            if case_id not in cases or cases[case_id]["arrived_on"] is None:
                found.append(f"case {case_id}: the movement recorded its arrival, the case shows none")
    return found


async def _session_rows(conn: asyncpg.Connection, state: SessionState) -> list[str]:
    found = []
    rows = {r["member_id"]: r for r in await conn.fetch(
        "SELECT member_id, on_session, open FROM orientation_participants WHERE session_id = $1", state.session_id)}
    is_open = state.status == SessionStatus.SCHEDULED
    for p in state.participants:
        row = rows.get(p.member_id)
        if row is None or not row["on_session"] or row["open"] != is_open:
            found.append(f"orientation_participants row of {p.member_id} does not show them on the session")
    listed = {p.member_id for p in state.participants}
    for member_id, row in sorted(rows.items()):
        if row["on_session"] and member_id not in listed:
            found.append(f"orientation_participants shows {member_id} on the session, the session does not")
    return found


MOVEMENTS = GroupKind("movement", MOVEMENT_WORKFLOW_TYPE, MovementState, "movements", "movement_id", _movement_rows)
SESSIONS = GroupKind("orientation session", SESSION_WORKFLOW_TYPE, SessionState, "orientation_sessions",
                     "session_id", _session_rows)
KINDS = (MOVEMENTS, SESSIONS)


async def _workflow_state(client: Client, kind: GroupKind, group_id: str) -> tuple[str, BaseModel | None]:
    """(status, state) of the group's latest run; "missing" when Temporal has none."""
    handle = client.get_workflow_handle(group_id)
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return "missing", None
        raise
    if description.status == WorkflowExecutionStatus.COMPLETED:
        return "completed", await client.get_workflow_handle(group_id, result_type=kind.state_type).result()
    if description.status == WorkflowExecutionStatus.RUNNING:
        return "running", await handle.query("state", result_type=kind.state_type)
    return (description.status.name.lower() if description.status else "unknown"), None


def _state_fields(have: dict[str, Any], want: dict[str, Any]) -> str:
    return ", ".join([k for k in sorted(set(have) | set(want)) if have.get(k) != want.get(k)][:6])


async def check_group(conn: asyncpg.Connection, client: Client, kind: GroupKind, group_id: str,
                      named: bool = False) -> list[GroupDifference]:
    """``named``: the operator asked for this id, so one that neither record knows is said
    (a typo must not read as "checked, clean")."""
    raw = await conn.fetchval(f"SELECT state FROM {kind.table} WHERE {kind.id_column} = $1", group_id)
    stored = None if raw is None else (kind.state_type.model_validate_json(raw) if isinstance(raw, str)
                                       else kind.state_type.model_validate(raw))
    status, state = await _workflow_state(client, kind, group_id)
    differ = lambda where, what: [GroupDifference(group_id, where, what)]  # noqa: E731
    if state is None:
        if stored is None:
            if named and status == "missing":
                return differ("workflow", f"no {kind.noun} {group_id} in Temporal or the read model")
            return []  # a refused creation: nothing on either side
        if status in ("missing", "running", "completed"):
            return differ("workflow", f"the read model holds the {kind.noun} (version {stored.version}), "  # type: ignore[attr-defined]
                                      f"its workflow {'does not exist' if status == 'missing' else 'holds none'}")
        return differ("workflow", f"the {kind.noun}'s workflow is {status}")
    if stored is None:
        return differ("read model", f"the workflow holds the {kind.noun} (version "
                                    f"{state.version}), the read model does not")  # type: ignore[attr-defined]
    have, want = stored.model_dump(mode="json"), state.model_dump(mode="json")
    if have != want:
        return differ("read model", f"the stored {kind.noun} (version {have.get('version')}) is not the workflow's "
                                    f"(version {want.get('version')}); differing fields: {_state_fields(have, want)}")
    return [GroupDifference(group_id, "cases" if what.startswith("case ") else "read model", what)
            for what in await kind.derived(conn, state)]


async def all_group_ids(conn: asyncpg.Connection, client: Client, kind: GroupKind) -> list[str]:
    """Every group of this kind either record knows of."""
    ids = {r[0] for r in await conn.fetch(f"SELECT {kind.id_column} FROM {kind.table}")}
    async for execution in client.list_workflows(f"WorkflowType = '{kind.workflow_type}'"):
        ids.add(execution.id)
    return sorted(ids)
