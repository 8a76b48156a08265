"""The API's write side for orientation sessions: every change is an Update to the session's
``OrientationSession`` workflow (scheduling is update-with-start), mapped to HTTP errors here."""

from __future__ import annotations

from typing import Any

from temporalio.client import WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.commands import _update_id
from api.group_commands import GroupCommands, new_group_id
from api.request_context import current_stamp
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
    """``OS-`` and 16 hex digits (``api.group_commands.new_group_id``)."""
    return new_group_id("OS", "orientation-session", actor)


class SessionCommands(GroupCommands):
    noun = "session"
    codes = SESSION_CODES
    finished_code = "session_not_open"
    finished_message = "session {id} was held or cancelled; it takes no more changes"

    @staticmethod
    def detail_field(p: dict[str, Any]) -> str:
        if p.get("case_id") == "*" and p.get("rule") in SessionDetails.model_fields:
            return str(p["rule"])  # a rule of the session's own details (starts_at): that field
        return (f"member {p['member_id']}" if p.get("member_id") else
                (f"case {p['case_id']}" if p.get("case_id") not in (None, "*") else "session"))

    async def schedule(self, session_id: str, details: SessionDetails, actor: Actor,
                       reuse: WorkflowIDReusePolicy = WorkflowIDReusePolicy.REJECT_DUPLICATE) -> SessionOutcome:
        start = WithStartWorkflowOperation(
            OrientationSessionWorkflow.run,
            SessionWorkflowInput(session_id=session_id, nothing_created_grace_seconds=self._grace), id=session_id,
            task_queue=self._task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=reuse)
        request = SessionRequest(command=c.ScheduleSession(details=details), actor=actor, audit=current_stamp(201))
        try:
            return await self._await(self._client.execute_update_with_start_workflow(
                OrientationSessionWorkflow.schedule, request, start_workflow_operation=start))
        except WorkflowAlreadyStartedError:
            if reuse == WorkflowIDReusePolicy.REJECT_DUPLICATE and await self.ended_empty(session_id, start):
                return await self.schedule(session_id, details, actor, WorkflowIDReusePolicy.ALLOW_DUPLICATE)
            raise await self.finished_already(session_id, start) from None
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
