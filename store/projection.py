"""Write side of the store: append a case's events and project its state, in one transaction.

Called by the recording activity (after each accepted command) and by the rebuild, so
the projection written live and the one rebuilt from ``case_events`` are the same code.

Idempotent: an event already stored under its (case, seq) with the same event id is a
retry and is skipped; the projection is only rewritten when the case's version moves
forward, so a retried or late call writes nothing twice and never rolls a case back.
"""

from __future__ import annotations

import json

from collections.abc import Awaitable, Callable
from datetime import datetime
from itertools import takewhile
from typing import Any, TypeVar

import asyncpg

from domain.case import CaseState, fold
from domain.events import CaseClosed, RecordedEvent, StageEntered, TaskReassigned
from domain.model import Actor
from domain.records import AuditStamp
from domain.programmes.registry import definition_of
from domain.search_text import fold as fold_for_search
from store import audit as audit_store
from store import webhooks as webhook_store


T = TypeVar("T")


class EventStoreConflict(RuntimeError):
    """The store holds a different event at a (case, seq) the workflow just produced."""


_INSERT_EVENTS = """
INSERT INTO case_events (case_id, seq, event_id, event_type, actor_kind, actor_id, actor_role, occurred_at, payload)
SELECT $1, e.seq, e.event_id, e.event_type, e.actor_kind, e.actor_id, e.actor_role, e.occurred_at, e.payload::jsonb
FROM unnest($2::int[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::text[])
     AS e(seq, event_id, event_type, actor_kind, actor_id, actor_role, occurred_at, payload)
ON CONFLICT (case_id, seq) DO NOTHING
RETURNING seq
"""

_UPSERT_CASE = """
INSERT INTO cases AS c (case_id, external_referral_id, referral_fingerprint, programme, office, priority, priority_rank,
    destination_country, origin_country, stage, status, closure_reason, principal_name, member_count,
    referred_at, stage_entered_at, updated_at, closed_at, next_due_at, departure_at, departed_at,
    arrived_on, version, search, hold_reason, held_at, programme_data)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
    $21, $22, $23, to_tsvector('simple', $24), $25, $26, $27::jsonb)
ON CONFLICT (case_id) DO UPDATE SET
    priority = EXCLUDED.priority, priority_rank = EXCLUDED.priority_rank,
    destination_country = EXCLUDED.destination_country, origin_country = EXCLUDED.origin_country,
    stage = EXCLUDED.stage, status = EXCLUDED.status, closure_reason = EXCLUDED.closure_reason,
    principal_name = EXCLUDED.principal_name, member_count = EXCLUDED.member_count,
    stage_entered_at = EXCLUDED.stage_entered_at, updated_at = EXCLUDED.updated_at,
    closed_at = EXCLUDED.closed_at, next_due_at = EXCLUDED.next_due_at,
    departure_at = EXCLUDED.departure_at, departed_at = EXCLUDED.departed_at,
    arrived_on = EXCLUDED.arrived_on, version = EXCLUDED.version, search = EXCLUDED.search,
    hold_reason = EXCLUDED.hold_reason, held_at = EXCLUDED.held_at, programme_data = EXCLUDED.programme_data
WHERE c.version < EXCLUDED.version
RETURNING version
"""

_UPSERT_MEMBERS = """
INSERT INTO case_members AS m (member_id, case_id, position, full_name, date_of_birth, sex, nationality,
    relationship, health_status, clearance_valid_until, follow_up_needed, orientation_status, visa_status,
    visa_valid_until)
SELECT r.member_id, $1, r.position, r.full_name, r.date_of_birth, r.sex, r.nationality, r.relationship,
    r.health_status, r.clearance_valid_until, r.follow_up_needed, r.orientation_status, r.visa_status,
    r.visa_valid_until
FROM unnest($2::text[], $3::int[], $4::text[], $5::date[], $6::text[], $7::text[], $8::text[], $9::text[],
    $10::date[], $11::bool[], $12::text[], $13::text[], $14::date[])
    AS r(member_id, position, full_name, date_of_birth, sex, nationality, relationship, health_status,
    clearance_valid_until, follow_up_needed, orientation_status, visa_status, visa_valid_until)
ON CONFLICT (member_id) DO UPDATE SET
    case_id = EXCLUDED.case_id, position = EXCLUDED.position, full_name = EXCLUDED.full_name, date_of_birth = EXCLUDED.date_of_birth,
    sex = EXCLUDED.sex, nationality = EXCLUDED.nationality, relationship = EXCLUDED.relationship,
    health_status = EXCLUDED.health_status, clearance_valid_until = EXCLUDED.clearance_valid_until,
    follow_up_needed = EXCLUDED.follow_up_needed, orientation_status = EXCLUDED.orientation_status,
    visa_status = EXCLUDED.visa_status, visa_valid_until = EXCLUDED.visa_valid_until
"""

_UPSERT_TASKS = """
INSERT INTO tasks AS t (task_id, case_id, task_type, stage, role, member_id, office, priority_rank, status,
    opened_at, due_at, completed_at, completed_by, overdue, escalated_task_id)
SELECT r.task_id, $1, r.task_type, r.stage, r.role, r.member_id, $2, $3, r.status, r.opened_at, r.due_at,
    r.completed_at, r.completed_by, r.overdue, r.escalated_task_id
FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::timestamptz[],
    $11::timestamptz[], $12::timestamptz[], $13::text[], $14::bool[], $15::text[])
    AS r(task_id, task_type, stage, role, member_id, status, opened_at, due_at, completed_at, completed_by,
         overdue, escalated_task_id)
ON CONFLICT (task_id) DO UPDATE SET
    stage = EXCLUDED.stage, role = EXCLUDED.role, office = EXCLUDED.office,
    priority_rank = EXCLUDED.priority_rank, status = EXCLUDED.status, due_at = EXCLUDED.due_at,
    completed_at = EXCLUDED.completed_at, completed_by = EXCLUDED.completed_by, overdue = EXCLUDED.overdue
"""

# The stays the new events begin (StageEntered) and end (the next one, or CaseClosed).
_INSERT_STAYS = """
INSERT INTO stage_stays (case_id, seq, stage, entered_at, left_at)
SELECT $1, r.seq, r.stage, r.entered_at, r.left_at
FROM unnest($2::int[], $3::text[], $4::timestamptz[], $5::timestamptz[]) AS r(seq, stage, entered_at, left_at)
ON CONFLICT (case_id, seq) DO NOTHING
"""
# ... and the stay the case was in before them, ended by the first.
_END_AND_INSERT_STAYS = """
WITH ended AS (UPDATE stage_stays SET left_at = $6 WHERE case_id = $1 AND left_at IS NULL)
""" + _INSERT_STAYS

# A supervisor's reassignment moves the task's claim to the new assignee.
_REASSIGN_CLAIMS = """
INSERT INTO task_claims (task_id, claimed_by, claimed_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
ON CONFLICT (task_id) DO UPDATE SET claimed_by = EXCLUDED.claimed_by, claimed_at = EXCLUDED.claimed_at
"""


async def record_case_events(conn: asyncpg.Connection, events: list[RecordedEvent], state: CaseState,
                             audit: AuditStamp | None = None, actor: Actor | None = None) -> int:
    """Append ``events``, project ``state`` and write the command's audit row atomically.
    Returns how many events were new (0 for a retry of a committed write, which writes nothing)."""
    async with conn.transaction():
        inserted = await _append(conn, state.case_id, events)
        new = len(inserted)
        await _record_stays(conn, state.case_id, [e for e in events if e.seq in inserted])
        if await _project(conn, state):
            await _reassign_claims(conn, events)
        if new:  # the webhook outbox (store/webhooks.py): in this transaction, never fire-and-forget
            await webhook_store.enqueue(conn, state, events)
        if new and audit is not None and actor is not None:
            await audit_store.append(
                conn, actor_kind=actor.kind.value, actor_id=actor.id, actor_role=actor.role,
                actor_offices=list(actor.offices), action=audit.action, case_id=state.case_id, outcome="allowed",
                status=audit.status, source_ip=audit.source_ip)
    return new


async def _reassign_claims(conn: asyncpg.Connection, events: list[RecordedEvent]) -> None:
    moves = [(e.event.task_id, e.event.assignee, e.occurred_at) for e in events if isinstance(e.event, TaskReassigned)]
    if moves:
        await conn.execute(_REASSIGN_CLAIMS, *map(list, zip(*moves)))


async def _record_stays(conn: asyncpg.Connection, case_id: str, events: list[RecordedEvent]) -> None:
    """The stage stays these (newly stored) events begin and end: one statement, none when no
    event of the batch changes the stage (most commands)."""
    marks = sorted(((e.seq, e.event.stage.value if isinstance(e.event, StageEntered) else None, e.occurred_at)
                    for e in events if isinstance(e.event, StageEntered | CaseClosed)), key=lambda m: m[0])
    if not marks:
        return
    stays = [(seq, stage, at, marks[i + 1][2] if i + 1 < len(marks) else None)
             for i, (seq, stage, at) in enumerate(marks) if stage is not None]
    columns = [list(c) for c in zip(*stays)] if stays else [[], [], [], []]
    if min(e.seq for e in events) == 1:  # from the case's first event: no earlier stay to end (a
        await conn.execute(_INSERT_STAYS, case_id, *columns)  # plain INSERT, as the bench's seeding batches)
    else:
        await conn.execute(_END_AND_INSERT_STAYS, case_id, *columns, marks[0][2])


async def _append(conn: asyncpg.Connection, case_id: str, events: list[RecordedEvent]) -> set[int]:
    """Store ``events``; the seqs that were new (none for a retry of a committed write)."""
    if not events:
        return set()
    inserted = await conn.fetch(
        _INSERT_EVENTS,
        case_id,
        [e.seq for e in events],
        [e.event_id for e in events],
        [e.type for e in events],
        [e.actor.kind.value for e in events],
        [e.actor.id for e in events],
        [e.actor.role for e in events],
        [e.occurred_at for e in events],
        [e.event.model_dump_json() for e in events],
    )
    if len(inserted) == len(events):
        return {e.seq for e in events}
    # Some (case, seq) were already stored: fine if they are these very events (a retry).
    stored = {
        r["seq"]: str(r["event_id"])
        for r in await conn.fetch(
            "SELECT seq, event_id FROM case_events WHERE case_id = $1 AND seq = ANY($2::int[])",
            case_id, [e.seq for e in events],
        )
    }
    for e in events:
        if stored.get(e.seq) != e.event_id:
            raise EventStoreConflict(
                f"case {case_id} already has a different event at seq {e.seq} "
                f"({stored.get(e.seq)} != {e.event_id})"
            )
    return {r["seq"] for r in inserted}


async def _project(conn: asyncpg.Connection, state: CaseState) -> bool:
    """Write the case's projection rows; False when the stored version is already as new."""
    open_due = [t.due_at for t in state.tasks.values() if t.status == "open"]
    names = " ".join(m.full_name for m in state.members)
    programme = definition_of(state.programme)
    written = await conn.fetchval(
        _UPSERT_CASE,
        state.case_id,
        state.external_referral_id,
        state.referral_fingerprint,
        state.programme,
        state.office,
        state.priority.value,
        state.priority.rank,
        state.destination_country,
        state.origin_country,
        state.stage.value,
        state.status.value,
        state.closure_reason,
        state.principal.full_name,
        len(state.members),
        state.referred_at,
        state.stage_entered_at,
        state.updated_at,
        state.closed_at,
        min(open_due) if open_due else None,
        state.movement.departure_at if state.movement else None,
        state.departed_at,
        state.arrived_on,
        state.version,
        fold_for_search(f"{names} {state.external_referral_id}"),
        state.hold_reason,
        state.held_at,
        json.dumps(programme.read_model_data(state)),
    )
    if written is None:
        return False
    members = state.members
    progress = [state.progress[m.member_id] for m in members]
    if state.split_into:  # members split off to a case of their own are that case's rows now
        await conn.execute("DELETE FROM case_members WHERE case_id = $1 AND NOT (member_id = ANY($2::text[]))",
                           state.case_id, [m.member_id for m in members])
    await conn.execute(
        _UPSERT_MEMBERS,
        state.case_id,
        [m.member_id for m in members],
        list(range(1, len(members) + 1)),
        [m.full_name for m in members],
        [m.date_of_birth for m in members],
        [m.sex.value for m in members],
        [m.nationality for m in members],
        [m.relationship.value for m in members],
        [p.health for p in progress],
        [p.clearance_valid_until for p in progress],
        [p.follow_up_needed for p in progress],
        [p.orientation for p in progress],
        [p.visa for p in progress],
        [p.visa_valid_until for p in progress],
    )
    tasks = list(state.tasks.values())
    await conn.execute(
        _UPSERT_TASKS,
        state.case_id,
        state.office,
        state.priority.rank,
        [t.task_id for t in tasks],
        [str(t.task_type) for t in tasks],
        [t.stage.value for t in tasks],
        [programme.spec(t.task_type).role.value for t in tasks],
        [t.member_id for t in tasks],
        [t.status for t in tasks],
        [t.opened_at for t in tasks],
        [t.due_at for t in tasks],
        [t.completed_at for t in tasks],
        [t.completed_by for t in tasks],
        [t.overdue for t in tasks],
        [t.escalated_task_id for t in tasks],
    )
    return True


async def load_events(conn: asyncpg.Connection, case_id: str) -> list[RecordedEvent]:
    rows = await conn.fetch(
        "SELECT case_id, seq, event_id, actor_kind, actor_id, actor_role, occurred_at, payload "
        "FROM case_events WHERE case_id = $1 ORDER BY seq",
        case_id,
    )
    return [
        RecordedEvent(
            event_id=str(r["event_id"]),
            case_id=r["case_id"],
            seq=r["seq"],
            occurred_at=r["occurred_at"],
            actor={"kind": r["actor_kind"], "id": r["actor_id"], "role": r["actor_role"]},
            event=r["payload"],
        )
        for r in rows
    ]


async def rebuild_case_projection(conn: asyncpg.Connection, case_id: str,
                                  as_of: datetime | None = None) -> CaseState | None:
    """Re-derive a case's projection rows from its events alone (those that had happened by
    ``as_of``, when given)."""
    # the events fold(as_of=...) would take: those up to the first that happened after as_of
    events = list(takewhile(lambda e: as_of is None or e.occurred_at <= as_of, await load_events(conn, case_id)))
    state = fold(events)
    if state is None:
        return None
    async with conn.transaction():
        await conn.execute("DELETE FROM stage_stays WHERE case_id = $1", case_id)
        await _record_stays(conn, case_id, events)
        await conn.execute("DELETE FROM tasks WHERE case_id = $1", case_id)
        await conn.execute("DELETE FROM case_members WHERE case_id = $1", case_id)
        await conn.execute("DELETE FROM cases WHERE case_id = $1", case_id)
        await _project(conn, state)
    return state


class _RolledBack(Exception):
    def __init__(self, result: Any):
        super().__init__("rolled back")
        self.result = result


async def read_rebuilt_projection(conn: asyncpg.Connection, case_id: str,
                                  read: Callable[[asyncpg.Connection], Awaitable[T]],
                                  as_of: datetime | None = None) -> T | None:
    """``read`` the case's projection as a rebuild from its events (up to ``as_of``) would
    write it, inside a transaction that is rolled back: nothing is changed.  None when the
    case had no events (by then).  The projection's own code answers "what would the read
    model say": ``itinera check`` compares it with the rows, ``?as_of=`` serves it."""
    try:
        async with conn.transaction():
            state = await rebuild_case_projection(conn, case_id, as_of)
            raise _RolledBack(await read(conn) if state is not None else None)
    except _RolledBack as done:
        return done.result
