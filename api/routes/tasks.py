"""Tasks: the inbox, a task with its form schema, claim / release, and completion."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api import policy, readmodel
from api.auth import CurrentPrincipal, Principal
from api.deps import Commands, Db
from api.errors import ERROR_RESPONSES, REJECTION_STATUS, ApiError
from api.schemas import CaseDetail, ClaimResult, CompleteTaskBody, Page, TaskDetail, TaskView
from domain.case import validate_form
from domain.errors import CommandRejected
from domain.model import Role, Stage

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"], responses={401: ERROR_RESPONSES[401], 404: ERROR_RESPONSES[404]})


async def _task(db: Db, principal: Principal, task_id: str) -> TaskView:
    return policy.require_task_visible(principal, task_id, await readmodel.get_task(db, task_id))


def _require_open(task: TaskView) -> None:
    if task.status != "open":
        raise ApiError(409, "task_not_open", f"task {task.task_id} is already {task.status}"
                       + (f" (by {task.completed_by})" if task.completed_by else ""))


@router.get("", response_model=Page[TaskView], summary="Your inbox: open tasks, most urgent first")
async def list_tasks(
    principal: CurrentPrincipal,
    db: Db,
    role: Annotated[Role | None, Query(description="Default: your own role (supervisors see every role).")] = None,
    office: Annotated[str | None, Query(max_length=32)] = None,
    assignee: Annotated[str | None, Query(max_length=64, description="A username, 'me', or 'unassigned'.")] = None,
    stage: Stage | None = None,
    overdue: bool | None = None,
    case_id: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[TaskView]:
    if role is None and principal.role != Role.SUPERVISOR:
        role = principal.role
    return await readmodel.list_tasks(
        db, offices=policy.visible_offices(principal), role=role.value if role else None, office=office,
        assignee=principal.username if assignee == "me" else assignee, stage=stage, overdue=overdue,
        case_id=case_id, cursor=cursor, limit=limit,
    )


@router.get("/{task_id}", response_model=TaskDetail, summary="A task with the JSON Schema of its form")
async def get_task(task_id: str, principal: CurrentPrincipal, db: Db) -> TaskDetail:
    return readmodel.task_detail(await _task(db, principal, task_id))


@router.post("/{task_id}/claim", response_model=ClaimResult, summary="Take a task (idempotent for its holder)",
             responses={403: ERROR_RESPONSES[403], 409: ERROR_RESPONSES[409]})
async def claim_task(task_id: str, principal: CurrentPrincipal, db: Db) -> ClaimResult:
    task = await _task(db, principal, task_id)
    policy.require_may_work(principal, task)
    _require_open(task)
    claim = await readmodel.claim_task(db, task_id, principal.username)
    if claim is None:
        raise ApiError(409, "task_claimed", f"task {task_id} is claimed by {task.claimed_by or 'someone else'}")
    return claim


@router.post("/{task_id}/release", status_code=204, summary="Give a claimed task back to the inbox",
             responses={409: ERROR_RESPONSES[409]})
async def release_task(task_id: str, principal: CurrentPrincipal, db: Db) -> None:
    await _task(db, principal, task_id)
    if not await readmodel.release_task(db, task_id, principal.username):
        raise ApiError(409, "task_not_claimed", f"task {task_id} is not claimed by you")


@router.post(
    "/{task_id}/complete",
    response_model=CaseDetail,
    summary="Complete a task with its form; answers with the case's new state",
    responses={403: ERROR_RESPONSES[403], 409: ERROR_RESPONSES[409], 422: ERROR_RESPONSES[422]},
)
async def complete_task(task_id: str, body: CompleteTaskBody, principal: CurrentPrincipal, db: Db,
                        commands: Commands) -> CaseDetail:
    task = await _task(db, principal, task_id)
    policy.require_may_work(principal, task)
    _require_open(task)
    if task.claimed_by not in (None, principal.username):
        raise ApiError(409, "task_claimed", f"task {task_id} is claimed by {task.claimed_by}")
    try:  # the workflow validates again; checking here answers bad input without a round trip
        validate_form(task.task_type, body.form, today=datetime.now(UTC).date())
    except CommandRejected as exc:
        raise ApiError(REJECTION_STATUS[exc.code], exc.code.value, exc.message, exc.details) from None
    await commands.complete_task(task.case_id, task_id, body.form, principal.actor)
    case = await readmodel.get_case(db, task.case_id)
    assert case is not None
    return case
