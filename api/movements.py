"""The API's write side for group movements: every change is an Update to the movement's
``Movement`` workflow (creation is update-with-start), mapped to HTTP errors here."""

from __future__ import annotations

from typing import Any

from temporalio.client import WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.commands import _update_id
from api.errors import ApiError
from api.group_commands import GroupCommands, new_group_id
from api.request_context import current_stamp
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
    """``MV-`` and 16 hex digits (``api.group_commands.new_group_id``)."""
    return new_group_id("MV", "movement", actor)


class MovementCommands(GroupCommands):
    noun = "movement"
    codes = MOVEMENT_CODES
    finished_code = "movement_finished"
    finished_message = ("movement {id} has departed or been cancelled; "
                        "its manifest takes no more changes")

    @staticmethod
    def detail_field(p: dict[str, Any]) -> str:
        if p.get("field"):
            return str(p["field"])
        return f"case {p['case_id']}" if p.get("case_id") not in (None, "*") else "manifest"

    def refusal(self, code: str, message: str, raw: list[dict[str, Any]]) -> ApiError:
        """As every group workflow's, but the named field wins over the problem's own (empty)
        ``field``: a case's problem is at ``case C-...``, a command's at its field."""
        details = [{**p, "field": self.detail_field(p), "reason": p.get("message", "")} for p in raw]
        return ApiError(self.codes[code], code, message, details)

    async def create(self, movement_id: str, details: MovementDetails, actor: Actor,
                     reuse: WorkflowIDReusePolicy = WorkflowIDReusePolicy.REJECT_DUPLICATE) -> MovementOutcome:
        start = WithStartWorkflowOperation(
            MovementWorkflow.run, MovementWorkflowInput(movement_id=movement_id, nothing_created_grace_seconds=self._grace),
            id=movement_id, task_queue=self._task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=reuse)
        request = MovementRequest(command=c.CreateMovement(details=details), actor=actor, audit=current_stamp(201))
        try:
            return await self._await(self._client.execute_update_with_start_workflow(
                MovementWorkflow.create, request, start_workflow_operation=start))
        except WorkflowAlreadyStartedError:
            if reuse == WorkflowIDReusePolicy.REJECT_DUPLICATE and await self.ended_empty(movement_id, start):
                return await self.create(movement_id, details, actor, WorkflowIDReusePolicy.ALLOW_DUPLICATE)
            raise await self.finished_already(movement_id, start) from None
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
