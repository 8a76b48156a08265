"""Tasks: the inbox, a task with its form schema, claim / release, and completion.

The checks behind each action live in ``api.task_actions``, shared with the web UI.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request

from api import readmodel, task_actions
from api.auth import CurrentPrincipal
from api.deps import Commands, Db
from api.errors import ERROR_RESPONSES, ErrorBody
from api.idempotency import Idempotency
from api.schemas import CaseDetail, ClaimResult, CompleteTaskBody, Page, TaskDetail, TaskView
from domain.model import Role, Stage

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"], responses={401: ERROR_RESPONSES[401], 404: ERROR_RESPONSES[404]})


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
    return await task_actions.list_inbox(
        db, principal, role=role, office=office, assignee=assignee, stage=stage, overdue=overdue,
        case_id=case_id, cursor=cursor, limit=limit,
    )


@router.get("/{task_id}", response_model=TaskDetail, summary="A task with the JSON Schema of its form")
async def get_task(task_id: str, principal: CurrentPrincipal, db: Db) -> TaskDetail:
    return readmodel.task_detail(await task_actions.visible_task(db, principal, task_id))


@router.post("/{task_id}/claim", response_model=ClaimResult, summary="Take a task (idempotent for its holder)",
             responses={403: ERROR_RESPONSES[403], 409: ERROR_RESPONSES[409]})
async def claim_task(task_id: str, principal: CurrentPrincipal, db: Db) -> ClaimResult:
    return await task_actions.claim(db, principal, task_id)


@router.post("/{task_id}/release", status_code=204, summary="Give a claimed task back to the inbox",
             description="The holder releases their claim; a supervisor of the task's office releases anyone's.",
             responses={409: ERROR_RESPONSES[409]})
async def release_task(task_id: str, principal: CurrentPrincipal, db: Db) -> None:
    await task_actions.release(db, principal, task_id)


@router.post(
    "/{task_id}/complete",
    response_model=CaseDetail,
    summary="Complete a task with its form; answers with the case's new state",
    responses={400: {"model": ErrorBody, "description": "An invalid Idempotency-Key header."},
               403: ERROR_RESPONSES[403], 409: ERROR_RESPONSES[409], 422: ERROR_RESPONSES[422]},
)
async def complete_task(task_id: str, body: CompleteTaskBody, principal: CurrentPrincipal, db: Db,
                        commands: Commands, request: Request,
                        idempotency_key: Annotated[str | None, Header(
                            description="Optional: the same key again with the same body returns the first answer; "
                                        "with another body 422.")] = None) -> Any:
    idem = Idempotency(request, db, f"user:{principal.username}")
    replay = await idem.begin()
    if replay is not None:
        return replay
    try:
        case = await task_actions.complete(db, commands, principal, task_id, body.form)
    except BaseException:
        await idem.abandon()
        raise
    await idem.finish(200, case.model_dump(mode="json"))
    return case
