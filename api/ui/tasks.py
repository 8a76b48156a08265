"""A task's page and what can be done to it: claim, release, complete with its form.

Every action goes through ``api.task_actions``, the code path of the JSON API, so the
UI can never allow what the API refuses.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import ValidationError
from starlette.responses import Response

from api import readmodel, task_actions
from api.auth import Principal
from api.deps import Commands, Db
from api.errors import ApiError
from api.routes.case_actions import ReassignBody, perform_reassign
from api.schemas import TaskView
from api.ui.formatting import utc_offset
from api.ui.i18n import gettext as _
from api.ui.rendering import UiRoute, redirect, render
from api.ui.schema_form import UTC_OFFSETS, BoundForm
from api.ui.security import UI_PREFIX
from api.ui.session import UiPrincipal, flash, flash_refusal, safe_next
from domain.model import Role
from domain.tasks import EngineTask

router = APIRouter(route_class=UiRoute)
TaskId = Annotated[str, Path(max_length=64)]


def _schema(task: TaskView) -> dict[str, Any]:
    return readmodel.task_detail(task).form_schema  # the schema the API serves for the task


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


def _task_url(task_id: str) -> str:
    return f"{UI_PREFIX}/tasks/{task_id}"


async def _second_person_needed(db: Db, principal: Principal, task: TaskView) -> str | None:
    """Said before the work starts: the four-eyes rule keeps this person from completing it."""
    opener = await task_actions.own_decision_under_review(db, principal, task)
    if opener is None:
        return None
    if task.task_type == EngineTask.REVIEW_OUTCOME:
        return ("Four-eyes rule: you recorded the outcome this review decides on, so you may not approve a "
                "resubmission here; another supervisor must (you may still close or reassess).")
    return (f"Four-eyes rule: you recorded the decision this task releases ({opener.task_id}), so another "
            f"{task.role.replace('_', ' ')} must complete it.")


async def _task_page(request: Request, db: Db, principal: Principal, task: TaskView, form: BoundForm, *,
                     problem: str | None = None, status: int = 200) -> Response:
    case = await readmodel.get_case(db, task.case_id)
    return render(request, "task.html", {
        "four_eyes": await _second_person_needed(db, principal, task),
        "supervising": principal.role == Role.SUPERVISOR,
        "task": task,
        "case": case,
        "form": form,
        "can_work": task_actions.may_work(principal, task),
        "claimed_by_other": task.claimed_by not in (None, principal.username),
        "problem": problem,
        "utc_offsets": UTC_OFFSETS,
        "office_offset": utc_offset(task.office_time_zone),
        "here": request.url.path,
    }, status=status, title=" · ".join(p for p in (_(task.title), task.member_name or task.case_name, task.case_id) if p))


# A decision that closes the case ("close" of a review, of the reintegration, of an age-out review).
CLOSING_CHOICES = frozenset({"close"})


def _closes_case(form: BoundForm) -> bool:
    return any(f.kind == "select" and f.name in ("decision", "outcome") and form.values.get(f.name) in CLOSING_CHOICES
               for f in form.fields)


async def _confirm_close(request: Request, db: Db, task: TaskView, posted: Any) -> Response:
    """Closing a case cannot be undone: first say what will happen, and ask (what was typed is
    posted again, unchanged, with the confirmation)."""
    case = await readmodel.get_case(db, task.case_id)
    kept = [(k, v) for k, v in posted.multi_items() if isinstance(v, str) and k not in ("csrf_token", "confirmed")]
    others = [t for t in case.open_tasks if t.task_id != task.task_id] if case else []
    return render(request, "confirm_close.html", {"task": task, "case": case, "kept": kept, "others": others},
                  title=_("Close %(case)s?", case=task.case_id))


@router.get("/tasks/{task_id}", summary="Task page with its form")
async def task_page(request: Request, task_id: TaskId, principal: UiPrincipal, db: Db) -> Response:
    task = await task_actions.visible_task(db, principal, task_id)
    return await _task_page(request, db, principal, task, BoundForm.blank(_schema(task)))


@router.post("/tasks/{task_id}", summary="Complete the task with its form")
async def complete_task(request: Request, task_id: TaskId, principal: UiPrincipal, db: Db,
                        commands: Commands) -> Response:
    task = await task_actions.visible_task(db, principal, task_id)
    posted = await request.form()
    form = BoundForm.submitted(_schema(task), posted)
    if form.row_action(posted) or posted.get("_back") == "yes":  # a row added or removed, or "go back" from
        return await _task_page(request, db, principal, task, form)  # the confirmation: the form again, nothing sent
    if _closes_case(form) and posted.get("confirmed") != "yes":
        return await _confirm_close(request, db, task, posted)
    try:
        case = await task_actions.complete(db, commands, principal, task_id, form.payload())
    except ApiError as exc:
        if exc.code == "invalid_form":
            form.add_errors(exc.details)
            if not form.has_errors:
                form.form_errors.append(exc.message)
            problem = _("The form has errors. Correct the fields marked below and submit again.")
        elif exc.status in (403, 409, 503):  # what was typed stays in the form
            problem = _sentence(exc.message) + "."
        else:
            raise
        fresh = await task_actions.visible_task(db, principal, task_id)
        return await _task_page(request, db, principal, fresh, form, problem=problem, status=exc.status)
    response = redirect(f"{UI_PREFIX}/cases/{case.case_id}")
    stage = _(case.stage_label)  # marked in api/ui/words.py
    flash(request, response, "success",
          _("“%(task)s” for %(name)s completed. The case is now at stage %(stage)s.",
            task=_(task.title), name=task.member_name, stage=stage) if task.member_name else
          _("“%(task)s” completed. The case is now at stage %(stage)s.", task=_(task.title), stage=stage))
    return response


@router.post("/tasks/{task_id}/claim", summary="Claim the task")
async def claim_task(request: Request, task_id: TaskId, principal: UiPrincipal, db: Db) -> Response:
    response = redirect(safe_next(str((await request.form()).get("next", "")), default=_task_url(task_id)))
    try:
        await task_actions.claim(db, principal, task_id)
    except ApiError as exc:
        if exc.status not in (403, 409):
            raise
        flash_refusal(request, response, exc.status, _sentence(exc.message) + ".")
        return response
    task = await task_actions.visible_task(db, principal, task_id)
    flash(request, response, "success", _("You claimed “%(task)s” (%(case)s).", task=_(task.title), case=task.case_id))
    return response


@router.post("/tasks/{task_id}/reassign", summary="Reassign the task (supervisors)")
async def reassign_task(request: Request, task_id: TaskId, principal: UiPrincipal, db: Db,
                        commands: Commands) -> Response:
    """Through the API's own path (``perform_reassign``): the same checks of who may reassign
    and who may receive the task, the same refusals."""
    posted = await request.form()
    assignee, reason = str(posted.get("assignee", "")).strip().lower(), str(posted.get("reason", "")).strip()
    response = redirect(_task_url(task_id))
    task = await task_actions.visible_task(db, principal, task_id)
    try:
        body = ReassignBody(assignee=assignee, reason=reason)
    except ValidationError:
        flash_refusal(request, response, 422, _("Give the username to reassign to (lower case letters, digits, "
                                                ". _ -) and a reason."))
        return response
    try:
        await perform_reassign(db, commands, principal, task_id, body)
    except ApiError as exc:
        if exc.status not in (403, 404, 409, 422):
            raise
        flash_refusal(request, response, exc.status, _sentence(exc.message) + ".")
        return response
    flash(request, response, "success", _("“%(task)s” is now %(user)s’s.", task=_(task.title), user=assignee))
    return response


@router.post("/tasks/{task_id}/release", summary="Release the task")
async def release_task(request: Request, task_id: TaskId, principal: UiPrincipal, db: Db) -> Response:
    response = redirect(safe_next(str((await request.form()).get("next", "")), default=_task_url(task_id)))
    try:
        await task_actions.release(db, principal, task_id)
    except ApiError as exc:
        if exc.status != 409:
            raise
        flash_refusal(request, response, exc.status, _sentence(exc.message) + ".")
        return response
    flash(request, response, "success", _("Task %(task)s released: it is back in the inbox for anyone to take.", task=task_id))
    return response
