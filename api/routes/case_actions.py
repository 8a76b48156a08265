"""Case-level actions at any stage: withdraw, hold / resume, reassign a task, add a note,
correct a member's data, and for AVRR cases the withdrawal of consent.  Each goes to the case's workflow as an Update and answers with
the case's new state; each carries the authenticated actor and a reason."""

from __future__ import annotations

from datetime import date
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api import policy, readmodel
from api.after_command import case_after_command
from api.auth import CurrentPrincipal, Principal
from api.deps import Commands, Db, lent_back
from api.errors import ERROR_RESPONSES, ApiError
from api.idempotency import Idempotency
from api.schemas import CaseDetail
from domain.case import (
    AddNote,
    CancelBooking,
    CaseAction,
    CorrectMember,
    HoldCase,
    ReassignTask,
    ResumeCase,
    SplitCase,
    WithdrawCase,
    WithdrawConsent,
)
from domain.model import EARLIEST_BIRTH, ENTERED_BIRTH_RULE, Role
from domain.programmes.registry import definition_of
from domain.person_names import PERSON_NAME_PATTERN, PERSON_NAME_RULE, PersonName, person_name_problem
from domain.text import ShowsRules, Text
from store.movements import other_open_movements
from store.orientation_sessions import member_history
from store.users import find_user

router = APIRouter(tags=["case actions"], responses={
    401: ERROR_RESPONSES[401], 403: ERROR_RESPONSES[403], 404: ERROR_RESPONSES[404], 409: ERROR_RESPONSES[409],
    422: ERROR_RESPONSES[422]})

Reason = Text(min_length=1, max_length=2000)


class ReasonBody(ShowsRules):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "Family asked to pause."}]})
    reason: Reason


class NoteBody(ShowsRules):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"text": "Called the family; all well."}]})
    text: Text(min_length=1, max_length=4000)


class ReassignBody(ShowsRules):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"assignee": "mehmet",
                                                                               "reason": "Ayşe is on leave."}]})
    assignee: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$")]
    reason: Reason


class ConsentWithdrawalBody(ShowsRules):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"withdrawn_by": "Karwan Aziz", "withdrawn_on": "2026-12-02", "language": "ku",
         "reason": "Decided to stay: found work in Istanbul."}]})
    withdrawn_by: PersonName() = Field(  # type: ignore[valid-type]
        description="Who withdrew consent: the migrant, or the legal guardian of a minor.")
    withdrawn_on: date = Field(description="When the migrant told us; not in the future, nor before the case "
                                           "was referred (checked against the case).")
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")] = Field(
        description="ISO 639 code of the language the decision was given in.")
    reason: Reason


class CorrectionBody(ShowsRules):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"changes": {"date_of_birth": "2014-07-12"}, "reason": "Birth certificate shows the 12th."}]})
    changes: dict[str, Any] = Field(
        description="Fields to correct: full_name, date_of_birth, sex, nationality, relationship.",
        json_schema_extra={"properties": {"full_name": {"type": "string", "minLength": 1, "maxLength": 200,
                                                        "pattern": PERSON_NAME_PATTERN,
                                                        "description": PERSON_NAME_RULE},
                                          # the rules of a date of birth typed in (domain.engine.corrections)
                                          "date_of_birth": {"type": "string", "format": "date", "description": (
                                              f"Not in the future and not before {EARLIEST_BIRTH.isoformat()}. "
                                              f"{ENTERED_BIRTH_RULE}")}}})
    reason: Reason


MemberId = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class SplitBody(ShowsRules):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"member_ids": ["C-ABCD-EFGH-IJKL-M4"], "principal_member_id": "C-ABCD-EFGH-IJKL-M4",
         "reason": "Not fit to travel for months; the rest of the family travels now."}]})
    member_ids: list[MemberId] = Field(min_length=1, max_length=50, description=(
        "The members who move to the new case: at least one, not all, not the case's principal, each once."))
    principal_member_id: MemberId = Field(description=(
        "The new case's principal: one of member_ids, an adult when one of them is an adult."))
    reason: Reason


class SplitOutcome(BaseModel):
    case: CaseDetail = Field(description="The original case, without the members who moved.")
    new_case: CaseDetail = Field(description="The case split off it (id <case_id>-S<n>), in the same stage.")


async def perform_case_action(db: Db, commands: Commands, principal: Principal, case_id: str,
                              action: CaseAction) -> CaseDetail:
    """The one path of every case-level action, for the JSON API and the UI alike."""
    if isinstance(action, CorrectMember):
        _check_corrected_name(action)
    policy.require_case_visible(principal, case_id, await readmodel.case_office(db, case_id))
    policy.require_role(principal, set(policy.ACTION_ROLES[action.kind]), f"{action.kind.replace('_', ' ')} a case")
    if isinstance(action, CancelBooking):
        await _not_on_a_movement(db, case_id)
    async with lent_back(db):  # not held while the workflow is awaited (api.deps)
        await commands.act(case_id, action, principal.actor)
    return policy.redact_case(await case_after_command(db, case_id), principal)


async def _not_on_a_movement(db: Db, case_id: str) -> None:
    """A booking a group movement made is the movement's to drop (taking the case off its
    manifest drops it, and the manifest stays true); only a case's own booking is cancelled
    on the case."""
    on_movement = (await other_open_movements(db, [case_id], "")).get(case_id)
    if on_movement is not None:
        raise ApiError(409, "on_movement",
                       f"case {case_id} is on the manifest of movement {on_movement}: take it off the manifest "
                       f"(POST /api/v1/movements/{on_movement}/cases/{case_id}/remove), which drops its booking",
                       [{"field": "case_id", "reason": f"on movement {on_movement}"}])


def _check_corrected_name(action: CorrectMember) -> None:
    """A corrected name is typed in: held to ``PersonName`` here, at the edge (the engine
    validates a correction as a whole member, whose recorded name may predate the rule)."""
    name = action.changes.get("full_name")
    problem = person_name_problem(name.strip()) if isinstance(name, str) else None
    if problem is not None:
        raise ApiError(422, "invalid_request", f"changes.full_name {problem}", [
            {"field": "body.changes.full_name", "reason": problem, "allowed": PERSON_NAME_RULE}])



async def _once(request: Request, db: Db, principal: Principal, run: Callable[[], Awaitable[BaseModel]]) -> Any:
    """A case action under its optional ``Idempotency-Key`` (``api.idempotency``), as referrals
    and completions are: the same key and body again answer as the first did (the Temporal
    update id, derived from the key and the action, keeps it applied once); the same key with
    another body is 422 ``idempotency_key_reused``, not a second note, hold or correction."""
    idem = Idempotency(request, db, f"user:{principal.username}")
    replay = await idem.begin()
    if replay is not None:
        return replay
    try:
        answer = await run()
    except BaseException:
        await idem.abandon()
        raise
    await idem.finish(200, answer.model_dump(mode="json"))
    return answer


@router.post("/api/v1/cases/{case_id}/withdraw", response_model=CaseDetail, summary="Withdraw the case (closes it)")
async def withdraw(case_id: str, body: ReasonBody, principal: CurrentPrincipal, db: Db, commands: Commands,
                   request: Request) -> Any:
    return await _once(request, db, principal, lambda: perform_case_action(db, commands, principal, case_id,
                                                                           WithdrawCase(reason=body.reason)))


@router.post("/api/v1/cases/{case_id}/hold", response_model=CaseDetail,
             summary="Put the case on hold (supervisor); SLA clocks pause")
async def hold(case_id: str, body: ReasonBody, principal: CurrentPrincipal, db: Db, commands: Commands,
               request: Request) -> Any:
    return await _once(request, db, principal, lambda: perform_case_action(db, commands, principal, case_id,
                                                                           HoldCase(reason=body.reason)))


@router.post("/api/v1/cases/{case_id}/resume", response_model=CaseDetail,
             summary="Resume a held case (supervisor); SLA clocks go on with the time they had left")
async def resume(case_id: str, body: ReasonBody, principal: CurrentPrincipal, db: Db, commands: Commands,
                 request: Request) -> Any:
    return await _once(request, db, principal, lambda: perform_case_action(db, commands, principal, case_id,
                                                                           ResumeCase(reason=body.reason)))


@router.post("/api/v1/cases/{case_id}/cancel-booking", response_model=CaseDetail,
             summary="Cancel the case's own flight booking (movement officer, supervisor): the tasks that "
                     "depended on it are cancelled and the case books again")
async def cancel_booking(case_id: str, body: ReasonBody, principal: CurrentPrincipal, db: Db, commands: Commands,
                         request: Request) -> Any:
    """A booked flight the case will not take (a date typed wrong, a document that ends before
    it, a fit-to-travel check too late for it): the booking is dropped, its fit-to-travel,
    consent and departure tasks are cancelled, and ``book_movement`` opens again.  409 when
    the case has no booking (or has departed), and for a case on a group movement's manifest:
    that booking is the movement's (take the case off the manifest)."""
    return await _once(request, db, principal, lambda: perform_case_action(db, commands, principal, case_id,
                                                                           CancelBooking(reason=body.reason)))


@router.post("/api/v1/cases/{case_id}/notes", response_model=CaseDetail, summary="Add a note to the case")
async def add_note(case_id: str, body: NoteBody, principal: CurrentPrincipal, db: Db, commands: Commands,
                   request: Request) -> Any:
    return await _once(request, db, principal, lambda: perform_case_action(db, commands, principal, case_id,
                                                                           AddNote(text=body.text)))


@router.post("/api/v1/cases/{case_id}/members/{member_id}/corrections", response_model=CaseDetail,
             summary="Correct a member's data (recorded as an event; earlier events are never rewritten)")
async def correct_member(case_id: str, member_id: str, body: CorrectionBody, principal: CurrentPrincipal, db: Db,
                         commands: Commands, request: Request) -> Any:
    return await _once(request, db, principal, lambda: perform_case_action(
        db, commands, principal, case_id, CorrectMember(member_id=member_id, changes=body.changes, reason=body.reason)))


async def perform_reassign(db: Db, commands: Commands, principal: Principal, task_id: str,
                           body: ReassignBody) -> CaseDetail:
    """The one path of a reassignment, for the JSON API and the UI alike: the task must be
    visible to the supervisor, and the assignee an active user of the task's office with the
    task's role (or a supervisor); otherwise 404, 403 or 422 naming the assignee, and nothing
    changes."""
    task = policy.require_task_visible(principal, task_id, await readmodel.get_task(db, task_id))
    policy.require_role(principal, set(policy.ACTION_ROLES["reassign"]), "reassign a task")
    assignee = await find_user(db, body.assignee)
    if assignee is None or not assignee.active or task.office not in assignee.offices:
        raise ApiError(422, "invalid_request", f"{body.assignee} is not an active user of office {task.office}",
                       [{"field": "body.assignee", "reason": "not an active user of the task's office"}])
    if assignee.role.value not in (task.role, Role.SUPERVISOR.value):
        raise ApiError(422, "invalid_request", f"{body.assignee} is a {assignee.role.value}; this task needs a {task.role}",
                       [{"field": "body.assignee", "reason": f"must be a {task.role}"}])
    return await perform_case_action(db, commands, principal, task.case_id,
                                     ReassignTask(task_id=task_id, assignee=body.assignee, reason=body.reason))


@router.post("/api/v1/tasks/{task_id}/reassign", response_model=CaseDetail,
             summary="Reassign an open task to another user of the office (supervisor)")
async def reassign(task_id: str, body: ReassignBody, principal: CurrentPrincipal, db: Db,
                   commands: Commands, request: Request) -> Any:
    return await _once(request, db, principal, lambda: perform_reassign(db, commands, principal, task_id, body))


@router.post("/api/v1/cases/{case_id}/consent-withdrawal", response_model=CaseDetail,
             summary="AVRR: record that the migrant withdrew consent (closes the case at once, at any stage)")
async def withdraw_consent(case_id: str, body: ConsentWithdrawalBody, principal: CurrentPrincipal, db: Db,
                           commands: Commands, request: Request) -> Any:
    return await _once(request, db, principal,
                       lambda: perform_consent_withdrawal(case_id, body, principal, db, commands))


async def perform_consent_withdrawal(case_id: str, body: ConsentWithdrawalBody, principal: Principal, db: Db,
                                    commands: Commands) -> CaseDetail:
    found = await readmodel.case_office_and_programme(db, case_id)
    policy.require_case_visible(principal, case_id, found[0] if found else None)
    assert found is not None
    policy.require_role(principal, set(policy.ACTION_ROLES["withdraw_consent"]), "record a withdrawal of consent")
    if "withdraw_consent" not in definition_of(found[1]).actions:
        raise ApiError(409, "wrong_programme",
                       f"case {case_id} is a {found[1]} case, which takes no consent to withdraw "
                       f"(to stop it, withdraw the case: POST /api/v1/cases/{case_id}/withdraw)")
    async with lent_back(db):
        await commands.act(case_id, WithdrawConsent(withdrawn_by=body.withdrawn_by, withdrawn_on=body.withdrawn_on,
                                                    language=body.language, reason=body.reason), principal.actor)
    return policy.redact_case(await case_after_command(db, case_id), principal)


async def perform_split(db: Db, commands: Commands, principal: Principal, case_id: str, body: SplitBody) -> SplitOutcome:
    """The one path of a split, for the JSON API and the UI alike (``domain.engine.split``)."""
    policy.require_case_visible(principal, case_id, await readmodel.case_office(db, case_id))
    policy.require_role(principal, set(policy.ACTION_ROLES["split"]), "split a family")
    on_movement = (await other_open_movements(db, [case_id], "")).get(case_id)
    if on_movement is not None:
        raise ApiError(409, "on_movement",
                       f"case {case_id} is on the manifest of movement {on_movement}: a family travels together; take "
                       f"the case off the manifest first (POST /api/v1/movements/{on_movement}/cases/{case_id}/remove), "
                       "then split it", [{"field": "case_id", "reason": f"on movement {on_movement}"}])
    on_session = (await member_history(db, body.member_ids, ""))[1]
    if on_session:
        member_id, session_id = sorted(on_session.items())[0]
        raise ApiError(409, "on_orientation_session",
                       f"{member_id} is invited to orientation session {session_id}, which records attendance on this "
                       f"case: take them off the session first (POST /api/v1/orientation-sessions/{session_id}/"
                       f"participants/{member_id}/remove), then split the family",
                       [{"field": "member_ids", "reason": f"on orientation session {s}", "member_id": m}
                        for m, s in sorted(on_session.items())])
    async with lent_back(db):
        outcome = await commands.act(case_id, SplitCase(member_ids=body.member_ids,
                                                        principal_member_id=body.principal_member_id,
                                                        reason=body.reason), principal.actor)
    if outcome.new_case_id is None:  # cannot happen: a split always opens a case
        raise ApiError(500, "split_failed", f"case {case_id} recorded no split")
    return SplitOutcome(case=policy.redact_case(await case_after_command(db, case_id), principal),
                        new_case=policy.redact_case(await case_after_command(db, outcome.new_case_id), principal))


@router.post("/api/v1/cases/{case_id}/split", response_model=SplitOutcome,
             summary="Split the family: move some members into a new case (caseworker, supervisor), with a reason")
async def split(case_id: str, body: SplitBody, principal: CurrentPrincipal, db: Db, commands: Commands,
                request: Request) -> Any:
    """The named members move to a new case, ``<case_id>-S<n>``, in the same stage, with their
    per-member records and open tasks; the stage's case-level open tasks exist in both.
    Refused (409/422, naming the field and the rule): an unknown member, every member, the
    principal, a new principal who does not move (or a minor when an adult moves); a closed,
    held, booked or departed case; a case on an open movement's manifest, or a moving member
    invited to an open orientation session (take them off it first).  With the same
    ``Idempotency-Key`` and body, a retry answers as the first request did: one new case."""
    return await _once(request, db, principal, lambda: perform_split(db, commands, principal, case_id, body))
