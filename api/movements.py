"""The API's write side for group movements: every change is an Update to the movement's
``Movement`` workflow (creation is update-with-start), mapped to HTTP errors here."""

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
from domain.movements import commands as c
from domain.movements.decide import MOVEMENT_CODES
from domain.movements.model import MovementDetails, MovementState
from domain.movements.records import MovementOutcome, MovementRequest, MovementWorkflowInput
from workflows.movement import MovementWorkflow

_UPDATES = {c.AddCase: MovementWorkflow.add_case, c.RemoveCase: MovementWorkflow.remove_case,
            c.LockManifest: MovementWorkflow.lock, c.ConfirmDeparture: MovementWorkflow.confirm_departure,
            c.CancelMovement: MovementWorkflow.cancel, c.RecordBoarding: MovementWorkflow.record_boarding,
            c.RecordNeeds: MovementWorkflow.record_needs, c.DelayMovement: MovementWorkflow.delay,
            c.ConfirmArrival: MovementWorkflow.confirm_arrival}


def new_movement_id(actor: Actor) -> str:
    """``MV-`` and 16 hex digits: from the request's ``Idempotency-Key`` when it has one (the
    same creation sent again is the same movement), else random."""
    key = current_idempotency_key()
    digits = _digest("movement", actor.id, key)[:16] if key is not None else uuid.uuid4().hex[:16]
    return f"MV-{digits.upper()}"


class MovementCommands:
    def __init__(self, client: Client, task_queue: str, timeout: timedelta = timedelta(seconds=15)):
        self._client = client
        self._task_queue = task_queue
        self._timeout = timeout.total_seconds()

    async def create(self, movement_id: str, details: MovementDetails, actor: Actor) -> MovementOutcome:
        start = WithStartWorkflowOperation(
            MovementWorkflow.run, MovementWorkflowInput(movement_id=movement_id), id=movement_id,
            task_queue=self._task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
        request = MovementRequest(command=c.CreateMovement(details=details), actor=actor, audit=current_stamp(201))
        try:
            return await self._await(self._client.execute_update_with_start_workflow(
                MovementWorkflow.create, request, start_workflow_operation=start))
        except WorkflowAlreadyStartedError:
            raise ApiError(409, "movement_finished", f"movement {movement_id} has finished") from None
        except RPCError as exc:
            raise self._rpc_error(movement_id, exc) from None

    async def send(self, movement_id: str, command: Any, actor: Actor) -> MovementOutcome:
        update = _UPDATES[type(command)]
        request = MovementRequest(command=command, actor=actor, audit=current_stamp())
        update_id = _update_id(f"movement-{command.kind}", actor, movement_id, command.model_dump(mode="json"))
        handle = self._client.get_workflow_handle(movement_id)
        try:
            return await self._await(handle.execute_update(update, request, id=update_id))
        except RPCError as exc:
            raise self._rpc_error(movement_id, exc) from None

    async def confirm_arrival(self, movement_id: str, command: c.ConfirmArrival, actor: Actor) -> MovementOutcome:
        """The arrival goes to the movement's workflow; one that has finished (departed, every
        case reached) is started again from its own final state (the run's result, through
        Temporal), the arrival being its first Update: it fans the arrival out and finishes."""
        try:
            return await self.send(movement_id, command, actor)
        except ApiError as exc:
            if exc.code != "movement_finished":
                raise
        handle = self._client.get_workflow_handle_for(MovementWorkflow.run, movement_id)
        final: MovementState = await handle.result()
        start = WithStartWorkflowOperation(
            MovementWorkflow.run, MovementWorkflowInput(movement_id=movement_id, state=final), id=movement_id,
            task_queue=self._task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE)
        request = MovementRequest(command=command, actor=actor, audit=current_stamp())
        update_id = _update_id(f"movement-{command.kind}", actor, movement_id, command.model_dump(mode="json"))
        try:
            return await self._await(self._client.execute_update_with_start_workflow(
                MovementWorkflow.confirm_arrival, request, start_workflow_operation=start, id=update_id))
        except RPCError as exc:
            raise self._rpc_error(movement_id, exc) from None

    def _rpc_error(self, movement_id: str, exc: RPCError) -> ApiError:
        if exc.status == RPCStatusCode.NOT_FOUND:
            # The read model knows the movement (the routes check first): its workflow has finished.
            return ApiError(409, "movement_finished", f"movement {movement_id} has departed or been cancelled; "
                                                      "its manifest takes no more changes")
        if exc.status in _UNAVAILABLE:
            return engine_unavailable(f"the movement engine is unavailable ({exc.status.name}); send it again")
        return ApiError(500, "engine_error", f"the movement engine refused the call: {exc.message}")

    async def _await(self, call: Any) -> Any:
        try:
            return await asyncio.wait_for(call, timeout=self._timeout)
        except WorkflowUpdateFailedError as exc:
            raise _as_api_error(exc) from None
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            raise engine_unavailable("the movement engine did not answer in time; the command may still be applied, "
                                     "once: send the same request again to get its outcome") from None


def _as_api_error(exc: WorkflowUpdateFailedError) -> ApiError:
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.type in MOVEMENT_CODES:
        raw = cause.details[0].get("details", []) if cause.details and isinstance(cause.details[0], dict) else []
        details = [{"field": f"case {p['case_id']}" if p.get("case_id") not in (None, "*") else "manifest",
                    "reason": p.get("message", ""), **p} for p in raw]
        return ApiError(MOVEMENT_CODES[cause.type], cause.type, cause.message, details)
    if isinstance(cause, ApplicationError):
        return ApiError(500, cause.type or "command_failed", cause.message)
    return ApiError(500, "command_failed", str(cause or exc))
