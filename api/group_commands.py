"""What the API's write sides of group workflows share (a ``Movement``, an
``OrientationSession``): ids from the request's ``Idempotency-Key``, the wait for an Update's
answer, and the mapping of Temporal's refusals to HTTP errors.  Each group names itself
(``noun``), its codes and how it says "finished"."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.commands import _UNAVAILABLE, _digest, ended_empty, engine_unavailable
from api.errors import ApiError
from api.request_context import current_idempotency_key
from workflows.creation import DEFAULT_GRACE_SECONDS
from domain.model import Actor


def new_group_id(prefix: str, kind: str, actor: Actor) -> str:
    """``<prefix>-`` and 16 hex digits: from the request's ``Idempotency-Key`` when it has one
    (the same creation sent again is the same workflow), else random."""
    key = current_idempotency_key()
    digits = _digest(kind, actor.id, key)[:16] if key is not None else uuid.uuid4().hex[:16]
    return f"{prefix}-{digits.upper()}"


class GroupCommands:
    noun: str  # "movement", "session": in the messages
    codes: Mapping[str, int]  # the workflow's refusal codes -> HTTP status
    finished_code: str  # the error of a command to a workflow that has finished
    finished_message: str  # ... and its message, with {id}
    detail_field: Callable[[dict[str, Any]], str]  # the field a refusal's detail names

    def __init__(self, client: Client, task_queue: str, timeout: timedelta = timedelta(seconds=15),
                 nothing_created_grace_seconds: int = DEFAULT_GRACE_SECONDS):
        self._client = client
        self._task_queue = task_queue
        self._timeout = timeout.total_seconds()
        self._grace = nothing_created_grace_seconds

    def _rpc_error(self, workflow_id: str, exc: RPCError) -> ApiError:
        if exc.status == RPCStatusCode.NOT_FOUND:
            # The read model knows the workflow (the routes check first): it has finished.
            return ApiError(409, self.finished_code, self.finished_message.format(id=workflow_id))
        if exc.status in _UNAVAILABLE:
            return engine_unavailable(f"the {self.noun} engine is unavailable ({exc.status.name}); send it again")
        return ApiError(500, "engine_error", f"the {self.noun} engine refused the call: {exc.message}")

    async def _await(self, call: Any) -> Any:
        try:
            return await asyncio.wait_for(call, timeout=self._timeout)
        except WorkflowUpdateFailedError as exc:
            raise self._as_api_error(exc) from None
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            raise engine_unavailable(f"the {self.noun} engine did not answer in time; the command may still be "
                                     "applied, once: send the same request again to get its outcome") from None

    async def ended_empty(self, workflow_id: str, start: WithStartWorkflowOperation[Any, Any]) -> bool:
        return await ended_empty(self._client, workflow_id, start)

    async def finished_already(self, workflow_id: str, start: WithStartWorkflowOperation[Any, Any]) -> ApiError:
        """A creation whose id (from its Idempotency-Key) names a workflow that has finished:
        the 409, saying so.  The start operation's own outcome is read, so that its error is
        not logged later as "never retrieved"."""
        with contextlib.suppress(Exception):
            await start.workflow_handle()
        return ApiError(409, self.finished_code,
                        f"{self.noun} {workflow_id}, which this Idempotency-Key created, has finished; "
                        "send a new key to create another")

    def refusal(self, code: str, message: str, raw: list[dict[str, Any]]) -> ApiError:
        """The HTTP error of the workflow's refusal ``code`` (raised by its rules, in the
        workflow or judged by the API on a finished one's last state), each detail naming its field."""
        details = [{"field": self.detail_field(p), "reason": p.get("message", ""), **p} for p in raw]
        return ApiError(self.codes[code], code, message, details)

    def _as_api_error(self, exc: WorkflowUpdateFailedError) -> ApiError:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type in self.codes:
            raw = cause.details[0].get("details", []) if cause.details and isinstance(cause.details[0], dict) else []
            return self.refusal(cause.type, cause.message, raw)
        if isinstance(cause, ApplicationError):
            return ApiError(500, cause.type or "command_failed", cause.message)
        return ApiError(500, "command_failed", str(cause or exc))
