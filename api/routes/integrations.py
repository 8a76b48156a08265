"""Integrations send events with an API key: the UNHCR referral feed, clinics, embassies,
airlines, receiving partners.  Each key may send only its own event types, for its own
offices.  Every message is kept, accepted or rejected, and supervisors can see the
rejected ones of their offices (nothing sent is silently lost).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api import policy, readmodel
from api.auth import CurrentPrincipal
from api.commands import CaseAlreadyClosed
from api.deps import Commands, Db
from api.errors import ERROR_RESPONSES, REJECTION_STATUS, ApiError
from domain.case import validate_form
from domain.errors import CommandRejected
from domain.identity import case_id_for
from domain.model import Actor, ActorKind, Referral, Role
from domain.tasks import TaskType
from store import integrations as store
from store.integrations import IntegrationKey, IntegrationMessageRecord

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
    case_id: str | None = None
    try:
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
        case_id = await _apply(db, commands, key, actor, message)
    except ApiError as refused:
        await store.record_message(db, key_id=key.key_id, event_type=event_type, case_id=case_id, status="rejected",
                                   http_status=refused.status, payload=payload,
                                   error={"code": refused.code, "message": refused.message, "details": refused.details})
        raise
    message_id = await store.record_message(db, key_id=key.key_id, event_type=event_type, case_id=case_id,
                                            status="accepted", http_status=200, error=None, payload=payload)
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
            return case_id_for(message.referral.external_referral_id)
    case_id = message.case_id or (case_id_for(message.external_referral_id) if message.external_referral_id else None)
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
        validate_form(task_type, message.form or {}, today=datetime.now(UTC).date())
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
