"""Integrations send events with an API key: the UNHCR referral feed, clinics, embassies,
airlines, receiving partners.  Each key may send only its own event types, for its own
offices, and only once a supervisor of each of its offices has approved it (an admin mints
keys but sees no case data).  Every message is kept, accepted or rejected, and belongs to
one office - its case's, found among the key's offices, else the key's single office (a
multi-office key's message naming none of their cases is for a supervisor of all of them):
supervisors see their offices' messages, never another office's patient's
(``store.integrations`` has the rule).

Every message carries an ``Idempotency-Key`` (``api.idempotency``).  One that passes the
checks at intake is committed to the inbox and answered 202 with its status URL; the API's
delivery loop (``api.inbox_delivery``) applies it to its case.  A partner reads its fate at
``/inbox/{id}``; a supervisor retries or dismisses the rejected ones (README, "The
integration inbox").
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api import idempotency, policy, readmodel
from api.auth import CurrentPrincipal
from api.case_ids import case_of_referral
from api.deps import Commands, Db
from api.openapi_bodies import raw_json_body
from api.errors import ERROR_RESPONSES, REJECTION_STATUS, ApiError, ErrorBody
from domain.case import validate_form
from api.office_time import edge_now, edge_today
from domain.errors import CommandRejected, plain_reason
from domain.model import ActorKind, Role
from domain.referral_request import ReferralRequest
from domain.tasks import TaskType
from domain.split_lineage import case_holding
from store import inbox as inbox_store
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
    referral: ReferralRequest | None = Field(default=None, description="For event_type referral.")
    case_id: str | None = Field(default=None, max_length=64)
    external_referral_id: str | None = Field(default=None, max_length=64, description="Instead of case_id.")
    member_id: str | None = Field(default=None, max_length=80, description="For per-member results.")
    form: dict[str, Any] | None = Field(default=None, description="The task form (see GET /api/v1/tasks/{id}).")


class MessageAccepted(BaseModel):
    """A message committed to the inbox: it is delivered to its case next (see its status URL)."""
    inbox_id: int
    message_id: int = Field(description="The same as inbox_id (the id of the kept message).")
    status: str = Field(description="pending: committed, not yet applied to its case.")
    status_url: str
    case_id: str | None = Field(description="The case the message is for (for a referral: the case it opens).")


class InboxStatus(BaseModel):
    """What became of a message: pending (not applied yet: being delivered, retried while the
    case engine is unavailable, or held until its task opens), applied (with the case's stage,
    status and version after it), rejected (the workflow's code, message and details), or
    dismissed by a supervisor of the office."""
    inbox_id: int
    status: str
    event_type: str
    case_id: str | None
    received_at: Any
    attempts: int
    held_reason: str | None = Field(description="Pending because it came early: what it waits for.")
    held_until: Any = None
    next_attempt_at: Any = None
    last_failure: dict[str, Any] | None = Field(description="Pending: why the last attempt did not get through.")
    resolved_at: Any = None
    result: dict[str, Any] | None
    error: dict[str, Any] | None = Field(description="Rejected: code, message, details.")
    status_url: str


class DismissBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=1000)


def _status_url(inbox_id: int) -> str:
    return f"/api/v1/integrations/inbox/{inbox_id}"


def _status(message: inbox_store.InboxMessage) -> InboxStatus:
    return InboxStatus(inbox_id=message.id, status=message.status, event_type=message.event_type,
                       case_id=message.case_id, received_at=message.received_at, attempts=message.attempts,
                       held_reason=message.held_reason, held_until=message.held_until,
                       next_attempt_at=message.next_attempt_at if message.status == "pending" else None,
                       last_failure=message.last_failure if message.status == "pending" else None,
                       resolved_at=message.resolved_at, result=message.result, error=message.error,
                       status_url=_status_url(message.id))


InboxId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The id answered when the message was accepted.")]

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


@router.post("/messages", response_model=MessageAccepted, status_code=202,
             openapi_extra=raw_json_body(IntegrationMessage, "The event: an IntegrationMessage (validated by the "
                                                             "route, so that a refused message is kept with its errors)."),
             summary="Send an event (API key, Idempotency-Key); committed to the inbox, then applied",
             responses={400: {"model": ErrorBody, "description": "No (or an invalid) Idempotency-Key header."}})
async def receive(request: Request, db: Db, commands: Commands,
                  x_api_key: Annotated[str | None, Header(description="itk_<id>_<secret>")] = None,
                  idempotency_key: Annotated[str | None, Header(
                      description="Required: one key per message; the same key again with the same body "
                                  "returns the first answer, with another body 422.")] = None) -> Any:
    key = await _authenticate(request, db, x_api_key)
    settings = request.app.state.settings
    try:
        raw = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raw = None
    payload = raw if isinstance(raw, dict) else {"unparsed": True}
    event_type = str(payload.get("event_type", "unknown"))[:40]
    scope = f"integration:{key.key_id}"
    try:
        idem_key = idempotency.key_of(request)
        if idem_key is None:
            raise ApiError(400, "idempotency_key_required",
                           f"integration messages need an {idempotency.HEADER} header (one unique key per message)",
                           [{"field": f"header.{idempotency.HEADER}", "reason": "missing"}])
        fingerprint = await idempotency.request_fingerprint(request)
        known = await inbox_store.known_key(db, scope, idem_key, settings.idempotency_retention_hours)
        if known is not None:
            return idempotency.answer_known(known, fingerprint)
        case_id, office = await _intake(db, commands, key, raw)
        async with db.transaction():
            known = await inbox_store.claim_key(db, scope, idem_key, fingerprint, lock_seconds=60,
                                                retention_hours=settings.idempotency_retention_hours)
            if known is None:
                inbox_id = await inbox_store.accept(db, key_id=key.key_id, event_type=event_type, case_id=case_id,
                                                    office=office, payload=payload, idempotency_key=idem_key)
                body = MessageAccepted(inbox_id=inbox_id, message_id=inbox_id, status="pending",
                                       status_url=_status_url(inbox_id), case_id=case_id).model_dump(mode="json")
                await inbox_store.answer_key(db, scope, idem_key, 202, body)
        if known is not None:  # a concurrent duplicate committed first: its answer
            return idempotency.answer_known(known, fingerprint)
    except ApiError as refused:
        case_id, office = await _placement(db, key, await _named_case(db, commands, raw))
        await store.record_message(db, key_id=key.key_id, event_type=event_type, case_id=case_id, office=office,
                                   status="rejected", http_status=refused.status, payload=payload,
                                   error={"code": refused.code, "message": refused.message, "details": refused.details})
        raise
    request.state.audit_case_id = case_id
    request.app.state.inbox.kick()
    return JSONResponse(body, status_code=202, headers={"Location": body["status_url"]})


async def _intake(db: Db, commands: Commands, key: IntegrationKey, raw: Any) -> tuple[str, str]:
    """What is checked before a message is accepted (refused at once otherwise): the key's
    approval and scope, the body, the case (one of the key's offices'), the member, the form.
    Whether its task is open is the delivery's to find out (a message may come early)."""
    if key.pending_offices:
        raise ApiError(403, "key_not_approved",
                       f"this key awaits the approval of a supervisor of {', '.join(key.pending_offices)}")
    if not isinstance(raw, dict):
        raise ApiError(422, "invalid_request", "the body must be a JSON object")
    try:
        message = IntegrationMessage.model_validate(raw)
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", "the message is invalid", [
            {"field": ".".join(str(p) for p in e["loc"]), "reason": plain_reason(e["msg"])} for e in exc.errors()]) from None
    if message.event_type.value not in key.event_types:
        raise ApiError(403, "forbidden", f"this key may send only {', '.join(key.event_types)}")
    if message.event_type == IntegrationEventType.REFERRAL:
        if message.referral is None:
            raise ApiError(422, "invalid_request", "referral is required", [{"field": "referral", "reason": "missing"}])
        if message.referral.office not in key.offices:
            raise ApiError(403, "forbidden", f"this key may refer only to {', '.join(key.offices)}")
        commands.check_admission(message.referral, at="referral.")
        known = await readmodel.find_case_by_referral(db, message.referral.external_referral_id)
        if known is not None and known.office not in key.offices:
            raise ApiError(404, "case_not_found", "no such case for this key")
        case_id = known.case_id if known else commands.case_id_for(message.referral.external_referral_id)
        return case_id, message.referral.office
    case_id = message.case_id or (await case_of_referral(db, commands, message.external_referral_id)
                                  if message.external_referral_id else None)
    case = await readmodel.get_case(db, case_id) if case_id else None
    if case_id is None or case is None or case.office not in key.offices:
        raise ApiError(404, "case_not_found", "no such case for this key (give case_id or external_referral_id)")
    if message.member_id is not None and message.member_id not in {m.member_id for m in case.members}:
        # A member keeps their id when a family is split: the message follows the person to
        # the case they are in now (the partner knows the referral, not the split).
        async def of_key(case_id: str) -> Any | None:
            split = await readmodel.get_case(db, case_id)
            return split if split is not None and split.office in key.offices else None
        moved = await case_holding(case, message.member_id, of_key)
        if moved is None:
            raise ApiError(422, "unknown_member", f"case {case_id} has no member {message.member_id}",
                           [{"field": "member_id", "reason": "not a member of this case"}])
        case_id, case = moved.case_id, moved
    task_type = TASK_FOR_EVENT[message.event_type]
    try:
        validate_form(task_type, message.form or {}, today=edge_today(case.office), now=edge_now(case.office),
                      programme=case.programme)
    except CommandRejected as exc:
        raise ApiError(REJECTION_STATUS[exc.code], exc.code.value, exc.message, exc.details) from None
    except KeyError:  # the case's programme has no such task
        raise ApiError(422, "invalid_request", f"a {case.programme} case has no {task_type.value} task",
                       [{"field": "event_type", "reason": "no such task in this programme"}]) from None
    return case_id, case.office


@router.get("/inbox/{inbox_id}", response_model=InboxStatus,
            summary="What became of a message you sent (API key): pending, applied, rejected or dismissed")
async def inbox_status(inbox_id: InboxId, request: Request, db: Db,
                       x_api_key: Annotated[str | None, Header(description="itk_<id>_<secret>")] = None
                       ) -> InboxStatus:
    key = await _authenticate(request, db, x_api_key)
    message = await inbox_store.get(db, inbox_id)
    if message is None or message.key_id not in await store.key_lineage(db, key.key_id):
        raise ApiError(404, "message_not_found", f"no message {inbox_id} of this key")
    return _status(message)


@router.get("/inbox", response_model=list[inbox_store.InboxMessage],
            summary="The inbox of your offices (supervisors): by default the rejected messages, the work to do")
async def inbox(principal: CurrentPrincipal, db: Db,
                status: Annotated[str | None, Query(pattern="^(pending|applied|rejected|dismissed)$")] = "rejected",
                limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[inbox_store.InboxMessage]:
    policy.require_role(principal, {Role.SUPERVISOR}, "read integration messages")
    return await inbox_store.list_for_offices(db, offices=principal.offices, status=status, limit=limit)


async def _supervised(db: Db, principal: Any, request: Request, inbox_id: int) -> inbox_store.InboxMessage:
    policy.require_role(principal, {Role.SUPERVISOR}, "work on integration messages")
    message = await inbox_store.get(db, inbox_id)
    key = await store.get_key(db, message.key_id) if message else None
    if message is None or key is None or not inbox_store.visible_to(message, principal.offices, key.offices):
        raise ApiError(404, "message_not_found", f"no message {inbox_id} of your offices")
    request.state.audit_case_id = message.case_id
    return message


async def retry_message(db: Db, principal: Any, request: Request, inbox_id: int) -> inbox_store.InboxMessage:
    """A supervisor sends a rejected message to its case again (the API's route and the UI's)."""
    message = await _supervised(db, principal, request, inbox_id)
    if not message.accepted:
        raise ApiError(409, "not_retryable", "this message was refused when it was sent (the partner was told): "
                       "the partner sends it again, or dismiss it")
    if not await inbox_store.retry(db, inbox_id, principal.username):
        raise ApiError(409, "not_rejected", f"message {inbox_id} is {message.status}; only a rejected one is retried")
    request.app.state.inbox.kick()
    retried = await inbox_store.get(db, inbox_id)
    assert retried is not None
    return retried


async def dismiss_message(db: Db, principal: Any, request: Request, inbox_id: int,
                          reason: str) -> inbox_store.InboxMessage:
    """A supervisor dismisses a rejected message with a reason (the API's route and the UI's)."""
    message = await _supervised(db, principal, request, inbox_id)
    if not await inbox_store.dismiss(db, inbox_id, principal.username, reason):
        raise ApiError(409, "not_rejected", f"message {inbox_id} is {message.status}; only a rejected one is dismissed")
    dismissed = await inbox_store.get(db, inbox_id)
    assert dismissed is not None
    return dismissed


@router.post("/inbox/{inbox_id}/retry", response_model=inbox_store.InboxMessage,
             summary="Send a rejected message to its case again, e.g. after fixing the case (supervisors; audited)")
async def retry(inbox_id: InboxId, principal: CurrentPrincipal, request: Request, db: Db) -> inbox_store.InboxMessage:
    return await retry_message(db, principal, request, inbox_id)


@router.post("/inbox/{inbox_id}/dismiss", response_model=inbox_store.InboxMessage,
             summary="Dismiss a rejected message with a reason (supervisors; audited)")
async def dismiss(inbox_id: InboxId, body: DismissBody, principal: CurrentPrincipal, request: Request,
                  db: Db) -> inbox_store.InboxMessage:
    return await dismiss_message(db, principal, request, inbox_id, body.reason)


@router.get("/messages", response_model=list[IntegrationMessageRecord],
            summary="Messages integrations sent to your offices (supervisors), e.g. the rejected ones")
async def messages(principal: CurrentPrincipal, db: Db,
                   status: Annotated[str | None, Query(
                       pattern="^(accepted|pending|applied|rejected|dismissed)$",
                       description="accepted: the old name of applied")] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[IntegrationMessageRecord]:
    policy.require_role(principal, {Role.SUPERVISOR}, "read integration messages")
    status = "applied" if status == "accepted" else status
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
