"""Messages between the OrientationSession workflow, its activities and the API (Temporal payloads)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from domain.model import Actor
from domain.records import AuditStamp
from domain.sessions.commands import SessionCommand
from domain.sessions.model import FanOutResult, SessionCaseFacts, SessionState

SESSION_WORKFLOW_TYPE = "OrientationSession"
SESSION_CASE_FACTS = "orientation_session_case_facts"
RECORD_SESSION = "record_orientation_session"
SESSION_FAN_OUT = "orientation_session_fan_out"


class SessionWorkflowInput(BaseModel):
    session_id: str
    state: SessionState | None = None
    # How long a workflow whose creation was refused waits for another before it ends with no
    # result (workflows/creation.py); the API's nothing_created_grace_seconds.
    nothing_created_grace_seconds: int = 3600


class SessionRequest(BaseModel):
    command: SessionCommand
    actor: Actor
    audit: AuditStamp | None = None


class SessionOutcome(BaseModel):
    session_id: str
    version: int
    changed: bool


class SessionFactsRequest(BaseModel):
    session_id: str
    case_ids: list[str]


class SessionFactsList(BaseModel):
    facts: list[SessionCaseFacts]


class RecordSessionRequest(BaseModel):
    state: SessionState


class OrientationRequest(BaseModel):
    """One attendee's orientation, to be recorded on their case.  ``update_id`` is derived from
    the session and the member only: every attempt, by any worker, is the same Update."""

    session_id: str
    case_id: str
    member_id: str
    update_id: str
    task_id: str | None = None  # the member's open record_orientation task as the case showed it; None: ask
    session_date: date
    language: str
    facilitator: str
    actor: Actor
    audit: AuditStamp | None = None


class OrientationBatch(BaseModel):
    requests: list[OrientationRequest]


class OrientationResults(BaseModel):
    results: list[FanOutResult]


def orientation_update_id(session_id: str, member_id: str) -> str:
    return f"orientation-{session_id}-{member_id}"
