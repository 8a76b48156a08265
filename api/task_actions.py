"""Task work shared by the JSON API and the web UI: one set of checks, one code path.

A caseworker may complete a task from ``POST /api/v1/tasks/{id}/complete`` or from the
form at ``/ui/tasks/{id}``; both must refuse exactly the same things with exactly the same
errors (visibility, role, task open, claim, form), so the checks live here and both front
doors call them.  Every refusal is an ``ApiError``; the JSON API renders it as JSON and
the UI as a message on the page.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from api import policy, readmodel
from api.after_command import case_after_command
from api.auth import Principal
from api.commands import CaseCommands
from api.errors import REJECTION_STATUS, ApiError
from api.schemas import CaseDetail, ClaimResult, Page, TaskView
from domain.case import validate_form
from api.office_time import edge_today
from domain.errors import CommandRejected
from domain.model import Role, Stage


async def visible_task(db: asyncpg.Connection, principal: Principal, task_id: str) -> TaskView:
    """The task, if the caller may see it; 404 otherwise (another office's task is not revealed)."""
    return policy.require_task_visible(principal, task_id, await readmodel.get_task(db, task_id))


def require_open(task: TaskView) -> None:
    if task.status != "open":
        raise ApiError(409, "task_not_open", f"task {task.task_id} is already {task.status}"
                       + (f" (by {task.completed_by})" if task.completed_by else ""))


def may_work(principal: Principal, task: TaskView) -> bool:
    """Whether ``policy.require_may_work`` lets the caller work the task (to show or hide buttons)."""
    try:
        policy.require_may_work(principal, task)
    except ApiError:
        return False
    return True


async def list_inbox(
    db: asyncpg.Connection,
    principal: Principal,
    *,
    role: Role | None = None,
    office: str | None = None,
    assignee: str | None = None,
    stage: Stage | None = None,
    overdue: bool | None = None,
    case_id: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[TaskView]:
    """Open tasks, most urgent first.  By default a caller sees the tasks of their own role;
    supervisors, who oversee every role, see all.  ``assignee`` may be 'me' or 'unassigned'."""
    if role is None and principal.role != Role.SUPERVISOR:
        role = principal.role
    return await readmodel.list_tasks(
        db, offices=policy.visible_offices(principal), role=role.value if role else None, office=office,
        assignee=principal.username if assignee == "me" else assignee, stage=stage, overdue=overdue,
        case_id=case_id, cursor=cursor, limit=limit,
    )


async def claim(db: asyncpg.Connection, principal: Principal, task_id: str) -> ClaimResult:
    task = await visible_task(db, principal, task_id)
    policy.require_may_work(principal, task)
    require_open(task)
    result = await readmodel.claim_task(db, task_id, principal.username)
    if result is None:
        raise ApiError(409, "task_claimed", f"task {task_id} is claimed by {task.claimed_by or 'someone else'}")
    return result


async def release(db: asyncpg.Connection, principal: Principal, task_id: str) -> None:
    """Give a claimed task back to the inbox: its holder may, and a supervisor of its office may
    release anyone's claim (someone away, a task stuck with them)."""
    await visible_task(db, principal, task_id)
    anyone = principal.role == Role.SUPERVISOR
    if not await readmodel.release_task(db, task_id, None if anyone else principal.username):
        raise ApiError(409, "task_not_claimed", f"task {task_id} is not claimed" + ("" if anyone else " by you"))


async def complete(db: asyncpg.Connection, commands: CaseCommands, principal: Principal, task_id: str,
                   form: dict[str, Any]) -> CaseDetail:
    """Complete a task with its form and answer with the case's new state."""
    task = await visible_task(db, principal, task_id)
    policy.require_may_work(principal, task)
    require_open(task)
    if task.claimed_by not in (None, principal.username):
        raise ApiError(409, "task_claimed", f"task {task_id} is claimed by {task.claimed_by}")
    try:  # the workflow validates again; checking here answers bad input without a round trip
        validate_form(task.task_type, form, today=edge_today(task.office), programme=task.programme)
    except CommandRejected as exc:
        raise ApiError(REJECTION_STATUS[exc.code], exc.code.value, exc.message, exc.details) from None
    await commands.complete_task(task.case_id, task_id, form, principal.actor)
    return policy.redact_case(await case_after_command(db, task.case_id), principal)
