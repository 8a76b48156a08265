"""The API's write side for orientation sessions: every change is an Update to the session's
``OrientationSession`` workflow (scheduling is update-with-start), mapped to HTTP errors here."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.commands import _UNAVAILABLE, _digest, _update_id, engine_unavailable
from api.errors import ApiError
from api.request_context import current_idempotency_key, current_stamp
from domain.model import Actor
from domain.sessions import commands as c
from domain.sessions.decide import SESSION_CODES
from domain.sessions.model import SessionDetails
from domain.sessions.records import SessionOutcome, SessionRequest, SessionWorkflowInput
from workflows.orientation_session import OrientationSessionWorkflow

_UPDATES = {c.AddParticipants: OrientationSessionWorkflow.add_participants,
            c.RemoveParticipant: OrientationSessionWorkflow.remove_participant,
            c.RecordAttendance: OrientationSessionWorkflow.record_attendance,
            c.CancelSession: OrientationSessionWorkflow.cancel}


def new_session_id(actor: Actor) -> str:
    """``OS-`` and 16 hex digits: from the request's ``Idempotency-Key`` when it has one (the
    same scheduling sent again is the same session), else random."""
    key = current_idempotency_key()
    digits = _digest("orientation-session", actor.id, key)[:16] if key is not None else uuid.uuid4().hex[:16]
    return f"OS-{digits.upper()}"


class SessionCommands:
    def __init__(self, client: Client, task_queue: str, timeout: timedelta = timedelta(seconds=15)):
        self._client = client
        self._task_queue = task_queue
        self._timeout = timeout.total_seconds()

    async def schedule(self, session_id: str, details: SessionDetails, actor: Actor) -> SessionOutcome:
        start = WithStartWorkflowOperation(
            OrientationSessionWorkflow.run, SessionWorkflowInput(session_id=session_id), id=session_id,
            task_queue=self._task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
        request = SessionRequest(command=c.ScheduleSession(details=details), actor=actor, audit=current_stamp(201))
        try:
            return await self._await(self._client.execute_update_with_start_workflow(
                OrientationSessionWorkflow.schedule, request, start_workflow_operation=start))
        except WorkflowAlreadyStartedError:
            raise ApiError(409, "session_not_open", f"session {session_id} has finished") from None
        except RPCError as exc:
            raise self._rpc_error(session_id, exc) from None

    async def send(self, session_id: str, command: Any, actor: Actor) -> SessionOutcome:
        update = _UPDATES[type(command)]
        request = SessionRequest(command=command, actor=actor, audit=current_stamp())
        update_id = _update_id(f"session-{command.kind}", actor, session_id, command.model_dump(mode="json"))
        handle = self._client.get_workflow_handle(session_id)
        try:
            return await self._await(handle.execute_update(update, request, id=update_id))
        except RPCError as exc:
            raise self._rpc_error(session_id, exc) from None

    def _rpc_error(self, session_id: str, exc: RPCError) -> ApiError:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return ApiError(409, "session_not_open", f"session {session_id} was held or cancelled; "
                                                     "it takes no more changes")
        if exc.status in _UNAVAILABLE:
            return engine_unavailable(f"the session engine is unavailable ({exc.status.name}); send it again")
        return ApiError(500, "engine_error", f"the session engine refused the call: {exc.message}")

    async def _await(self, call: Any) -> Any:
        try:
            return await asyncio.wait_for(call, timeout=self._timeout)
        except WorkflowUpdateFailedError as exc:
            raise _as_api_error(exc) from None
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            raise engine_unavailable("the session engine did not answer in time; the command may still be applied, "
                                     "once: send the same request again to get its outcome") from None


def _as_api_error(exc: WorkflowUpdateFailedError) -> ApiError:
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.type in SESSION_CODES:
        raw = cause.details[0].get("details", []) if cause.details and isinstance(cause.details[0], dict) else []
        details = [{"field": f"member {p['member_id']}" if p.get("member_id") else
                    (f"case {p['case_id']}" if p.get("case_id") not in (None, "*") else "session"),
                    "reason": p.get("message", ""), **p} for p in raw]
        return ApiError(SESSION_CODES[cause.type], cause.type, cause.message, details)
    if isinstance(cause, ApplicationError):
        return ApiError(500, cause.type or "command_failed", cause.message)
    return ApiError(500, "command_failed", str(cause or exc))
