"""Messages between the case workflow, its activities and the API (the Temporal payloads)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from domain.destination_services import CaseServices
from domain.case import CaseAction, CaseState
from domain.events import CarriedTask, CaseSplitFrom, RecordedEvent
from domain.model import Actor, Referral, check_monitoring_months
from domain.offices import DEFAULT_TIME_ZONE, check_time_zone


class AuditStamp(BaseModel):
    """The audit row of a command, written by the recording activity in the same transaction
    as the command's events: an applied change can never lack its audit row, whatever process
    dies when.  The actor is the command's own."""

    action: str = Field(description="The route that sent the command, e.g. 'POST /api/v1/tasks/{task_id}/complete'.")
    status: int = Field(default=200, description="The HTTP status the command answers with when applied.")
    source_ip: str | None = None


class CaseWorkflowInput(BaseModel):
    """How a case workflow starts: fresh (state None, a `refer` update follows at once)
    or continued-as-new with the state it had."""

    case_id: str
    state: CaseState | None = None
    # How long a workflow whose referral was refused waits for it to come back before it ends
    # with no result (workflows/creation.py); the API's nothing_created_grace_seconds.
    nothing_created_grace_seconds: int = 3600


class ReferCaseRequest(BaseModel):
    referral: Referral
    actor: Actor
    audit: AuditStamp | None = None
    arrival_confirmation_days: int = Field(default=3, ge=1, le=60)
    # AVRR: months after arrival at which monitoring visits fall due; None for resettlement
    # (and for AVRR means the default 3, 6, 12).
    monitoring_months: Annotated[list[int], AfterValidator(lambda v: list(check_monitoring_months(v)))] | None = None
    # The IANA time zone of the referral's office (settings), in which the case's dates are
    # judged; requests sent before offices had zones carry none: UTC.
    office_time_zone: Annotated[str, AfterValidator(check_time_zone)] = DEFAULT_TIME_ZONE
    # Resettlement: members this old or older on the day must attend orientation; requests sent
    # before the rule carry none (everyone), so running cases replay as they ran.
    orientation_min_age: int | None = Field(default=None, ge=0, le=120)
    # Resettlement: the exit permission the office's host state requires of refugees leaving it
    # (settings; ``domain.offices.EXIT_PERMISSIONS``); None, also in requests sent before the
    # rule: none required, so running cases replay as they ran.
    exit_permission: str | None = Field(default=None, min_length=1, max_length=120)
    # The destination's profile in force now, which the case will follow (None: every stage).
    services: CaseServices | None = None


class ReferralOutcome(BaseModel):
    case_id: str
    created: bool = Field(description="False when the same referral had already opened this case.")
    version: int


class CompleteTaskRequest(BaseModel):
    task_id: str
    form: dict[str, Any]
    actor: Actor
    audit: AuditStamp | None = None
    # Set only by a group workflow's fan-out (activities/movements.py, activities/orientation_sessions.py):
    # the fact it records reaches a case on hold too (``CompleteTask.group``).  The API never sets it.
    group: str | None = None


class CaseActionRequest(BaseModel):
    action: CaseAction = Field(discriminator="kind")
    actor: Actor
    audit: AuditStamp | None = None


class CommandOutcome(BaseModel):
    case_id: str
    version: int
    event_types: list[str]
    # A split (``SplitCase``): the case its members moved to, opened before the answer.
    new_case_id: str | None = None


class OpenSplitCaseRequest(BaseModel):
    """The original case's workflow asks the new case's to open (``open_split``, update-with-
    start), after ``CaseSplit`` is recorded; every attempt carries the same ids."""

    case_id: str  # the new case (its workflow id)
    workflow_type: str
    opening: CaseSplitFrom
    tasks: list[CarriedTask] = Field(default_factory=list)
    actor: Actor
    update_id: str


class CaseEventsBatch(BaseModel):
    """New events of a case plus the state they lead to, for the recording activity."""

    case_id: str
    events: list[RecordedEvent]
    state: CaseState
    # The command's audit row (None for the engine's own ticks and for histories recorded
    # before audit rows were written with the events).
    audit: AuditStamp | None = None
    actor: Actor | None = None


RECORD_CASE_EVENTS = "record_case_events"
OPEN_SPLIT_CASE = "open_split_case"
