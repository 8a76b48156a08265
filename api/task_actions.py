"""Task work shared by the JSON API and the web UI: one set of checks, one code path.

A caseworker may complete a task from ``POST /api/v1/tasks/{id}/complete`` or from the
form at ``/ui/tasks/{id}``; both must refuse exactly the same things with exactly the same
errors (visibility, role, task open, claim, form), so the checks live here and both front
doors call them.  Every refusal is an ``ApiError``; the JSON API renders it as JSON and
the UI as a message on the page.

A completion sent again after a 503 (the engine did not answer in time, PostgreSQL went
away) must get the first one's outcome, not "task not open": a task the caller completed is
therefore not refused from the read model but sent to the workflow again, whose update id
is derived from the completion (actor, task, form), so Temporal answers with the first
outcome; a completion with another form is refused by the workflow's own validator.  The
request's connection is lent back to the pool while the workflow is awaited (``api.deps``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from api import policy, readmodel
from api.airports import an_airport_in, arrival_day_refusal, country_of, known, loaded, unknown_airport
from api.after_command import case_after_command
from api.auth import Principal
from api.commands import CaseCommands
from api.deps import lent_back
from api.errors import REJECTION_STATUS, ApiError
from api.schemas import CaseDetail, ClaimResult, Page, TaskView
from domain.case import fold, validate_form
from api.office_time import edge_now, edge_today
from domain.engine.case_rules import opened_by
from domain.errors import CommandRejected
from domain.model import Role, Stage
from domain.programmes.registry import spec_of
from domain.state import TaskState
from domain.tasks import EngineTask, TaskType
from store.projection import load_events


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


async def own_decision_under_review(db: asyncpg.Connection, principal: Principal, task: TaskView) -> TaskState | None:
    """The completed task whose outcome ``task`` would release or resubmit, when ``principal``
    recorded it (the four-eyes rule, ``domain.engine.case_rules.check_four_eyes``); None when
    the rule does not keep them from this task.  Read from the case's events: only for the
    tasks the rule covers (a medical hold's release, a review)."""
    if task.status != "open" or not task.programme:
        return None
    spec = spec_of(task.programme, task.task_type)
    if not (spec.releases_hold or task.task_type == EngineTask.REVIEW_OUTCOME):
        return None
    state = fold(await load_events(db, task.case_id))
    own = state.tasks.get(task.task_id) if state is not None else None
    opener = opened_by(state, own) if state is not None and own is not None else None
    return opener if opener is not None and opener.completed_by == principal.username else None


async def claim(db: asyncpg.Connection, principal: Principal, task_id: str) -> ClaimResult:
    """Take an open task to work on.  A task the four-eyes rule keeps this person from
    completing (releasing the medical hold they recorded) is not claimed for them: parked with
    the one person who may not do it, it would be kept from every colleague who may.  (A review
    is claimed: its author may still close or reassess, only not approve a resubmission.)"""
    task = await visible_task(db, principal, task_id)
    policy.require_may_work(principal, task)
    require_open(task)
    if task.task_type != EngineTask.REVIEW_OUTCOME and (opener := await own_decision_under_review(db, principal, task)):
        raise ApiError(403, "four_eyes", f"four-eyes rule: {principal.username} recorded the decision this task "
                                         f"releases ({opener.task_id}), so another {task.role.replace('_', ' ')} "
                                         "must claim and complete it")
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
    if task.status != "open":
        await _complete_again(db, commands, principal, task, form)
        return policy.redact_case(await case_after_command(db, task.case_id), principal)
    if task.claimed_by not in (None, principal.username):
        raise ApiError(409, "task_claimed", f"task {task_id} is claimed by {task.claimed_by}")
    try:  # the workflow validates again; checking here answers bad input without a round trip
        validate_form(task.task_type, form, today=edge_today(task.office), now=edge_now(task.office),
                      programme=task.programme)
    except CommandRejected as exc:
        raise ApiError(REJECTION_STATUS[exc.code], exc.code.value, exc.message, exc.details) from None
    if task.task_type == TaskType.BOOK_MOVEMENT:
        await _check_airports(db, task, form)
    if task.task_type == TaskType.CONFIRM_ARRIVAL:
        await _check_arrival_day(db, task, form)
    if task.task_type == TaskType.REVIEW_OUTCOME and form.get("decision") == "resubmit":
        commands.check_host_country(task.office, form.get("destination_country"), "destination_country",
                                    task.task_type)
    async with lent_back(db):
        await commands.complete_task(task.case_id, task_id, form, principal.actor)
    return policy.redact_case(await case_after_command(db, task.case_id), principal)


async def _complete_again(db: asyncpg.Connection, commands: CaseCommands, principal: Principal, task: TaskView,
                          form: dict[str, Any]) -> None:
    """A task that is no longer open: 409 ``task_not_open`` (naming who completed it), unless
    the caller completed it, when this may be their completion sent again after a 503.  Then
    the workflow decides: the same completion attaches to the first and answers as it did
    (Temporal's update-id deduplication); another form is refused by its validator, which is
    answered with the read model's 409, as any other completion of a completed task."""
    if task.status != "completed" or task.completed_by != principal.actor.id:
        require_open(task)
    try:
        async with lent_back(db):
            await commands.complete_task(task.case_id, task.task_id, form, principal.actor)
    except ApiError as refused:
        if refused.status >= 500:  # an outage: the client sends it again
            raise
        require_open(task)  # task_not_open, or case_closed from a workflow that has finished


async def _check_arrival_day(db: asyncpg.Connection, task: TaskView, form: dict[str, Any]) -> None:
    """A case's arrival is dated in its arrival airport's calendar, not before the day the
    departure instant falls on there (as a movement's arrival, ``api.airports``): the workflow
    only knows the earliest calendar on Earth (UTC-12), which let a flight east (Istanbul to
    Tashkent) arrive the day before it left.  The airport is the case's latest booking's."""
    row = await db.fetchrow(
        """SELECT c.departed_at, (SELECT e.payload->>'arrival_airport' FROM case_events e
                                   WHERE e.case_id = c.case_id AND e.event_type = 'MovementBooked'
                                   ORDER BY e.seq DESC LIMIT 1) AS arrival_airport
             FROM cases c WHERE c.case_id = $1""", task.case_id)
    arrived_on = form.get("arrived_on")
    if row is None or not row["arrival_airport"] or not isinstance(arrived_on, str):
        return
    day = date.fromisoformat(arrived_on)
    if day >= edge_today(task.office):
        # Already ahead there (a flight east at night): the office's today is the latest a
        # caseworker may date it (nothing is dated in the office's future), so it is taken.
        return
    refused = await arrival_day_refusal(day, row["departed_at"], row["arrival_airport"])
    if refused is not None:
        raise refused


async def _check_airports(db: asyncpg.Connection, task: TaskView, form: dict[str, Any]) -> None:
    """A case's own booking, as a group movement's (``api.airports``: the IATA table is file
    I/O, so it is read here, never where the workflow decides): both airports known, and the
    arrival airport in the country the case travels to, its destination country (resettlement,
    family reunification) or its AVRR country of return, where both are known (an airport in a
    place without a country code a case can have is not judged).  A 422 naming the
    field, why and what is allowed; nothing is sent."""
    await loaded()
    airports = [("departure_airport", form["departure_airport"]), ("arrival_airport", form["arrival_airport"])]
    problems = [unknown_airport(field, code) for field, code in airports if not known(code)]
    case = await readmodel.get_case(db, task.case_id) if not problems else None
    if case is not None:
        avrr = case.programme == "avrr"
        country = case.origin_country if avrr else case.destination_country
        arrival = form["arrival_airport"]
        lands_in = country_of(arrival)
        # A country with no airport of its own (Palestine, Liechtenstein, ...) is reached through
        # a neighbour's (AMM, ZRH): not judged.
        if country is not None and lands_in is not None and lands_in != country and an_airport_in(country):
            what = "returns to" if avrr else "is bound for"
            problems.append({"field": "arrival_airport",
                             "reason": f"{arrival} is in {lands_in}, but case {case.case_id} {what} {country}",
                             "allowed": f"an airport in {country}"})
    if problems:
        raise ApiError(422, "invalid_form", f"the {task.task_type} form is invalid: " + "; ".join(
            f"{p['field']}: {p['reason']}" for p in problems), [p | {"type": "airport"} for p in problems])
