"""Cases whose workflow is in trouble, found where operators would otherwise search the logs.

Three kinds of trouble, each with the error as the engine reports it:

* ``workflow_task_failing``: the workflow's task fails and is retried (a bug, or a change
  that broke replay); the case answers no command until it is fixed.
* ``recording_retrying``: the activity that records the case's events has been retried at
  least ``RECORDING_ATTEMPTS`` times (PostgreSQL down, or refusing what it is given).
* ``clock_late``: an open task of an active case is past its due date by more than
  ``CLOCK_SLACK`` and not marked overdue: the case's timer has not fired (no worker, or a
  stuck workflow).

The first two come from Temporal (``describe`` of each running case workflow, at most
``limit`` of them, newest first); the third from the read model.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Literal

import asyncpg
from pydantic import AwareDatetime, BaseModel, Field
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryReverseRequest
from temporalio.client import Client
from temporalio.api.common.v1 import WorkflowExecution

from domain.programmes.registry import spec_of, workflow_types

RECORDING_ATTEMPTS = 3
CLOCK_SLACK = timedelta(minutes=5)


class Trouble(BaseModel):
    case_id: str
    office: str
    kind: Literal["workflow_task_failing", "recording_retrying", "clock_late"]
    error: str = Field(description="What the engine reports: the failure's message, or what is late.")
    attempts: int | None = Field(default=None, description="How often the failing task or activity has been tried.")
    since: AwareDatetime | None = None


async def troubled_cases(client: Client, db: asyncpg.Connection, offices: list[str], *, limit: int = 500) -> list[Trouble]:
    found = await _late_clocks(db, offices)
    found += await _engine_trouble(client, db, offices, limit)
    return sorted(found, key=lambda t: (t.office, t.case_id, t.kind))


async def _late_clocks(db: asyncpg.Connection, offices: list[str]) -> list[Trouble]:
    rows = await db.fetch(
        "SELECT t.case_id, c.office, c.programme, t.task_id, t.task_type, t.due_at FROM tasks t "
        "JOIN cases c ON c.case_id = t.case_id WHERE c.office = ANY($1) AND c.status = 'active' "
        "AND t.status = 'open' AND NOT t.overdue AND t.due_at < $2 ORDER BY t.due_at", offices,
        datetime.now(UTC) - CLOCK_SLACK)
    late = []
    for r in rows:
        try:
            escalates = spec_of(r["programme"], r["task_type"]).escalates
        except (ValueError, KeyError):
            escalates = True
        if escalates:
            late.append(Trouble(case_id=r["case_id"], office=r["office"], kind="clock_late", since=r["due_at"],
                                error=f"task {r['task_id']} ({r['task_type']}) was due at {r['due_at'].isoformat()} "
                                      "and is not marked overdue: the case's timer has not fired"))
    return late


async def _engine_trouble(client: Client, db: asyncpg.Connection, offices: list[str], limit: int) -> list[Trouble]:
    types = " OR ".join(f"WorkflowType = '{t}'" for t in workflow_types())
    running = []
    async for w in client.list_workflows(f"ExecutionStatus = 'Running' AND ({types})", limit=limit):
        running.append(w.id)
    if not running:
        return []
    office_of = {r["case_id"]: r["office"] for r in await db.fetch(
        "SELECT case_id, office FROM cases WHERE case_id = ANY($1) AND office = ANY($2)", running, offices)}
    gate = asyncio.Semaphore(8)

    async def check(case_id: str) -> list[Trouble]:
        async with gate:
            return await _describe(client, case_id, office_of[case_id])

    results = await asyncio.gather(*(check(c) for c in running if c in office_of))
    return [t for found in results for t in found]


async def _describe(client: Client, case_id: str, office: str) -> list[Trouble]:
    raw = (await client.get_workflow_handle(case_id).describe()).raw_description
    found = []
    task = raw.pending_workflow_task
    if task.attempt > 1:
        found.append(Trouble(case_id=case_id, office=office, kind="workflow_task_failing", attempts=task.attempt,
                             since=task.scheduled_time.ToDatetime(tzinfo=UTC) if task.HasField("scheduled_time") else None,
                             error=await _last_workflow_task_failure(client, case_id)))
    for activity in raw.pending_activities:
        if activity.attempt >= RECORDING_ATTEMPTS:
            found.append(Trouble(case_id=case_id, office=office, kind="recording_retrying", attempts=activity.attempt,
                                 since=activity.scheduled_time.ToDatetime(tzinfo=UTC)
                                 if activity.HasField("scheduled_time") else None,
                                 error=activity.last_failure.message or f"{activity.activity_type.name} retrying"))
    return found


async def _last_workflow_task_failure(client: Client, case_id: str) -> str:
    history = await client.workflow_service.get_workflow_execution_history_reverse(
        GetWorkflowExecutionHistoryReverseRequest(namespace=client.namespace,
                                                 execution=WorkflowExecution(workflow_id=case_id), maximum_page_size=50))
    for event in history.history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            return event.workflow_task_failed_event_attributes.failure.message or "workflow task failed"
    return "workflow task failing"


__all__ = ["CLOCK_SLACK", "RECORDING_ATTEMPTS", "Trouble", "troubled_cases"]
