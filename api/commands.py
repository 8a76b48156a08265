"""The API's write side: every change is a Temporal Update to the case's workflow.

A rejection decided by the workflow's validator comes back as an ``ApplicationError``
whose type is a ``RejectionCode``; it is turned into the matching HTTP error here, so
routes never see Temporal exceptions.

Each programme has its own workflow type (``ResettlementCase``, ``AvrrCase``); a referral
starts the one of its programme.  Both answer the same updates (``refer``,
``complete_task``, ``act``), so commands to an existing case need not know its type.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import REJECTION_STATUS, ApiError
from domain.errors import RejectionCode
from domain.identity import case_id_for
from domain.model import Actor, Programme, Referral
from domain.case import CaseAction
from domain.records import (
    CaseActionRequest,
    CaseWorkflowInput,
    CommandOutcome,
    CompleteTaskRequest,
    ReferCaseRequest,
    ReferralOutcome,
)
from workflows.avrr_case import AvrrCaseWorkflow
from workflows.case_workflow import CaseWorkflow
from workflows.resettlement_case import ResettlementCaseWorkflow

WORKFLOW_TYPES: dict[Programme, type[CaseWorkflow]] = {
    Programme.RESETTLEMENT: ResettlementCaseWorkflow,
    Programme.AVRR: AvrrCaseWorkflow,
}


class CaseAlreadyClosed(Exception):
    """The referral's case exists but its workflow has finished; serve it from the read model."""


class CaseCommands:
    def __init__(self, client: Client, task_queue: str, timeout: timedelta = timedelta(seconds=60),
                 arrival_confirmation_days: int = 3, avrr_monitoring_months: tuple[int, ...] = (3, 6, 12)):
        self._client = client
        self._task_queue = task_queue
        self._timeout = timeout.total_seconds()
        self._arrival_confirmation_days = arrival_confirmation_days
        self._avrr_monitoring_months = list(avrr_monitoring_months)

    async def refer(self, referral: Referral, actor: Actor) -> ReferralOutcome:
        """Open the case of a referral, or find the one it already opened (update-with-start)."""
        case_id = case_id_for(referral.external_referral_id)
        workflow_type = WORKFLOW_TYPES[referral.programme]
        start = WithStartWorkflowOperation(
            workflow_type.run,  # type: ignore[attr-defined]
            CaseWorkflowInput(case_id=case_id),
            id=case_id,
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
        try:
            return await self._await(
                self._client.execute_update_with_start_workflow(
                    CaseWorkflow.refer,
                    ReferCaseRequest(referral=referral, actor=actor,
                                     arrival_confirmation_days=self._arrival_confirmation_days,
                                     monitoring_months=(self._avrr_monitoring_months
                                                        if referral.programme == Programme.AVRR else None)),
                    start_workflow_operation=start,
                )
            )
        except WorkflowAlreadyStartedError:
            raise CaseAlreadyClosed(case_id) from None

    async def complete_task(self, case_id: str, task_id: str, form: dict[str, Any], actor: Actor) -> CommandOutcome:
        return await self._update(case_id, CaseWorkflow.complete_task,
                                  CompleteTaskRequest(task_id=task_id, form=form, actor=actor))

    async def act(self, case_id: str, action: CaseAction, actor: Actor) -> CommandOutcome:
        """A case-level action (withdraw, hold, resume, reassign, note, member correction,
        consent withdrawal)."""
        return await self._update(case_id, CaseWorkflow.act, CaseActionRequest(action=action, actor=actor))

    async def _update(self, case_id: str, update: Any, request: Any) -> CommandOutcome:
        handle = self._client.get_workflow_handle(case_id)  # either workflow type: same updates
        try:
            return await self._await(handle.execute_update(update, request))
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                # The workflow has finished: the case is closed, nothing can be completed.
                raise ApiError(409, RejectionCode.CASE_CLOSED.value, f"case {case_id} is closed") from None
            raise

    async def _await(self, call: Any) -> Any:
        try:
            return await asyncio.wait_for(call, timeout=self._timeout)
        except WorkflowUpdateFailedError as exc:
            raise _as_api_error(exc) from None
        except TimeoutError:
            raise ApiError(
                503, "engine_unavailable",
                "the case engine did not answer in time; an accepted command is never lost, "
                "so read the case before sending it again",
            ) from None


def _as_api_error(exc: WorkflowUpdateFailedError) -> ApiError:
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        try:
            code = RejectionCode(cause.type or "")
        except ValueError:
            return ApiError(500, cause.type or "command_failed", cause.message)
        details = cause.details[0].get("details", []) if cause.details and isinstance(cause.details[0], dict) else []
        # A code without an HTTP status of its own conflicts with the case's state.
        return ApiError(REJECTION_STATUS[code], code.value, cause.message, details)
    return ApiError(500, "command_failed", str(cause or exc))
