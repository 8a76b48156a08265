"""Integrations send events with an API key: the UNHCR referral feed, clinics, embassies,
airlines, receiving partners.  Each key may send only its own event types, for its own
offices, and only once a supervisor of each of its offices has approved it (an admin mints
keys but sees no case data).  Every message is kept, accepted or rejected, and belongs to
one office - its case's, found among the key's offices, else the key's single office (a
multi-office key's message naming none of their cases is for a supervisor of all of them):
supervisors see their offices' messages, never another office's patient's
(``store.integrations`` has the rule).
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api import policy, readmodel
from api.auth import CurrentPrincipal
from api.case_ids import case_of_referral
from api.commands import CaseAlreadyClosed
from api.deps import Commands, Db
from api.errors import ERROR_RESPONSES, REJECTION_STATUS, ApiError
from domain.case import validate_form
from api.office_time import edge_today
from domain.errors import CommandRejected
from domain.model import Actor, ActorKind, Referral, Role
from domain.tasks import TaskType
from store import integrations as store
from store.integrations import IntegrationKey, IntegrationMessageRecord, message_office

router = APIRouter(prefix="/api/v1/integrations", tags=["integrations"], responses={
    401: ERROR_RESPONSES[401], 403: ERROR_RESPONSES[403], 404: ERROR_RESPONSES[404], 409: ERROR_RESPONSES[409],
    422: ERROR_RESPONSES[422]})


class IntegrationEventType(StrEnum):
    REFERRAL = "referral"
    HEALTH_RESULT = "health_result"
    FIT_TO_TRAVEL = "fit_to_travel"
    VISA_DECISION = "visa_decision"
    DEPARTURE = "departure"
    ARRIVAL_CONFIRMATION = "arrival_confirmation"


TASK_FOR_EVENT: dict[IntegrationEventType, TaskType] = {
    IntegrationEventType.HEALTH_RESULT: TaskType.ASSESS_HEALTH,
    IntegrationEventType.FIT_TO_TRAVEL: TaskType.CHECK_FIT_TO_TRAVEL,
    IntegrationEventType.VISA_DECISION: TaskType.RECORD_VISA,
    IntegrationEventType.DEPARTURE: TaskType.RECORD_DEPARTURE,
    IntegrationEventType.ARRIVAL_CONFIRMATION: TaskType.CONFIRM_ARRIVAL,
}


class IntegrationMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"event_type": "health_result", "external_referral_id": "UNHCR-TUR-2026-004211", "member_id": "C-...-M2",
         "form": {"assessment_date": "2026-11-20", "outcome": "cleared", "clearance_valid_until": "2027-05-20"}},
    ]})
    event_type: IntegrationEventType
    referral: Referral | None = Field(default=None, description="For event_type referral.")
    case_id: str | None = Field(default=None, max_length=64)
    external_referral_id: str | None = Field(default=None, max_length=64, description="Instead of case_id.")
    member_id: str | None = Field(default=None, max_length=80, description="For per-member results.")
    form: dict[str, Any] | None = Field(default=None, description="The task form (see GET /api/v1/tasks/{id}).")


class MessageAccepted(BaseModel):
    message_id: int
    case_id: str
    stage: str
    status: str
    version: int


_CASE_ID_SHAPE = re.compile(r"^[A-Za-z0-9-]{1,64}$")


async def _named_case(db: Db, commands: Commands, raw: Any) -> str | None:
    """The case a message names, read from the body as sent (also when it is invalid):
    its case_id, else the case of its (or its referral's) external referral id."""
    if not isinstance(raw, dict):
        return None
    case_id = raw.get("case_id")
    if isinstance(case_id, str) and _CASE_ID_SHAPE.match(case_id):
        return case_id
    external = raw.get("external_referral_id")
    if not isinstance(external, str) and isinstance(raw.get("referral"), dict):
        external = raw["referral"].get("external_referral_id")
    if isinstance(external, str) and 0 < len(external) <= 64 and external.isprintable():
        return await case_of_referral(db, commands, external)
    return None


async def _placement(db: Db, key: IntegrationKey, case_id: str | None) -> tuple[str | None, str | None]:
    """(case id, office) a message is stored under: its case only if that is one of the
    key's offices' (a case elsewhere is, for this key, no case at all)."""
    case_office = await readmodel.case_office(db, case_id) if case_id else None
    if case_office is not None and case_office in key.offices:
        return case_id, case_office
    return None, message_office(key, None)


async def _authenticate(request: Request, db: Db, api_key: str | None) -> IntegrationKey:
    key = await store.verify_key(db, api_key) if api_key else None
    if key is None:
        raise ApiError(401, "unauthorized", "a valid X-API-Key is required")
    request.state.audit_actor = {"kind": ActorKind.INTEGRATION.value, "id": key.key_id,
                                 "role": f"integration:{key.name}", "offices": key.offices}
    return key


@router.post("/messages", response_model=MessageAccepted, summary="Send an event (API key)")
async def receive(request: Request, db: Db, commands: Commands,
                  x_api_key: Annotated[str | None, Header(description="itk_<id>_<secret>")] = None) -> MessageAccepted:
    key = await _authenticate(request, db, x_api_key)
    try:
        raw = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raw = None
    payload = raw if isinstance(raw, dict) else {"unparsed": True}
    event_type = str(payload.get("event_type", "unknown"))[:40]
    try:
        if key.pending_offices:
            raise ApiError(403, "key_not_approved",
                           f"this key awaits the approval of a supervisor of {', '.join(key.pending_offices)}")
        if not isinstance(raw, dict):
            raise ApiError(422, "invalid_request", "the body must be a JSON object")
        try:
            message = IntegrationMessage.model_validate(raw)
        except ValidationError as exc:
            raise ApiError(422, "invalid_request", "the message is invalid", [
                {"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"]} for e in exc.errors()]) from None
        if message.event_type.value not in key.event_types:
            raise ApiError(403, "forbidden", f"this key may send only {', '.join(key.event_types)}")
        actor = Actor(kind=ActorKind.INTEGRATION, id=key.key_id, role=f"integration:{key.name}",
                      offices=tuple(key.offices))
        case_id, office = await _placement(db, key, await _apply(db, commands, key, actor, message))
        if case_id is None:  # a referral id whose (closed) case is another office's
            raise ApiError(404, "case_not_found", "no such case for this key")
    except ApiError as refused:
        case_id, office = await _placement(db, key, await _named_case(db, commands, raw))
        await store.record_message(db, key_id=key.key_id, event_type=event_type, case_id=case_id, office=office,
                                   status="rejected", http_status=refused.status, payload=payload,
                                   error={"code": refused.code, "message": refused.message, "details": refused.details})
        raise
    message_id = await store.record_message(db, key_id=key.key_id, event_type=event_type, case_id=case_id,
                                            office=office, status="accepted", http_status=200, error=None,
                                            payload=payload)
    case = await readmodel.get_case(db, case_id)
    assert case is not None
    return MessageAccepted(message_id=message_id, case_id=case_id, stage=case.stage.value, status=case.status.value,
                           version=case.version)


async def _apply(db: Db, commands: Commands, key: IntegrationKey, actor: Actor, message: IntegrationMessage) -> str:
    if message.event_type == IntegrationEventType.REFERRAL:
        if message.referral is None:
            raise ApiError(422, "invalid_request", "referral is required", [{"field": "referral", "reason": "missing"}])
        if message.referral.office not in key.offices:
            raise ApiError(403, "forbidden", f"this key may refer only to {', '.join(key.offices)}")
        try:
            return (await commands.refer(message.referral, actor)).case_id
        except CaseAlreadyClosed:
            return await case_of_referral(db, commands, message.referral.external_referral_id)
    case_id = message.case_id or (await case_of_referral(db, commands, message.external_referral_id)
                                  if message.external_referral_id else None)
    office = await readmodel.case_office(db, case_id) if case_id else None
    if case_id is None or office not in key.offices:
        raise ApiError(404, "case_not_found", "no such case for this key (give case_id or external_referral_id)")
    task_type = TASK_FOR_EVENT[message.event_type]
    tasks = (await readmodel.list_tasks(db, offices=[office], case_id=case_id, limit=200)).items
    matching = [t for t in tasks if t.task_type == task_type and (message.member_id is None or t.member_id == message.member_id)]
    if len(matching) != 1:
        raise ApiError(409, "no_matching_task",
                       f"case {case_id} has {len(matching)} open {task_type.value} tasks"
                       + ("" if message.member_id else "; name the member with member_id"))
    try:
        validate_form(task_type, message.form or {}, today=edge_today(office), programme=matching[0].programme)
    except CommandRejected as exc:
        raise ApiError(REJECTION_STATUS[exc.code], exc.code.value, exc.message, exc.details) from None
    await commands.complete_task(case_id, matching[0].task_id, message.form or {}, actor)
    return case_id


@router.get("/messages", response_model=list[IntegrationMessageRecord],
            summary="Messages integrations sent to your offices (supervisors), e.g. the rejected ones")
async def messages(principal: CurrentPrincipal, db: Db,
                   status: Annotated[str | None, Query(pattern="^(accepted|rejected)$")] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[IntegrationMessageRecord]:
    policy.require_role(principal, {Role.SUPERVISOR}, "read integration messages")
    return await store.list_messages(db, offices=principal.offices, status=status, limit=limit)


@router.get("/keys", response_model=list[IntegrationKey],
            summary="Integration keys covering your offices, with what awaits your approval (supervisors)")
async def keys(principal: CurrentPrincipal, db: Db) -> list[IntegrationKey]:
    policy.require_role(principal, {Role.SUPERVISOR}, "review integration keys")
    return await store.list_keys(db, offices=principal.offices)


@router.post("/keys/{key_id}/approve", response_model=IntegrationKey,
             summary="Approve a key for your offices among its offices (supervisors); it works once all approved")
async def approve(key_id: str, principal: CurrentPrincipal, db: Db) -> IntegrationKey:
    policy.require_role(principal, {Role.SUPERVISOR}, "approve integration keys")
    key = await store.get_key(db, key_id)
    mine = [o for o in key.offices if o in principal.offices] if key else []
    if key is None or not mine:
        raise ApiError(404, "key_not_found", f"no integration key {key_id} for your offices")
    if key.revoked_at is not None:
        raise ApiError(409, "key_revoked", f"integration key {key_id} is revoked")
    await store.approve_key(db, key_id, mine, principal.username)
    approved = await store.get_key(db, key_id)
    assert approved is not None
    return approved
