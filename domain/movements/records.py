"""Messages between the Movement workflow, its activities and the API (Temporal payloads)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel

from domain.model import Actor
from domain.movements.commands import MovementCommand
from domain.movements.model import CaseFacts, FanOutResult, MovementState
from domain.records import AuditStamp

MOVEMENT_WORKFLOW_TYPE = "Movement"
CASE_FACTS = "movement_case_facts"
RECORD_MOVEMENT = "record_movement"
FAN_OUT = "movement_fan_out"


class MovementWorkflowInput(BaseModel):
    movement_id: str
    state: MovementState | None = None
    # How long a workflow whose creation was refused waits for another before it ends with no
    # result (workflows/creation.py); the API's nothing_created_grace_seconds.
    nothing_created_grace_seconds: int = 3600


class MovementRequest(BaseModel):
    command: MovementCommand
    actor: Actor
    audit: AuditStamp | None = None


class MovementOutcome(BaseModel):
    movement_id: str
    version: int
    changed: bool


class CaseFactsRequest(BaseModel):
    movement_id: str
    case_ids: list[str]


class CaseFactsList(BaseModel):
    facts: list[CaseFacts]


class RecordMovementRequest(BaseModel):
    state: MovementState


class FanOutRequest(BaseModel):
    """One case's part of a fan-out.  ``update_id`` is derived from the movement, the step
    and the case only: every attempt of it, by any worker, is the same Temporal Update."""

    movement_id: str
    case_id: str
    step: Literal["booking", "departure", "release", "delay", "arrival"]
    update_id: str
    task_id: str | None = None  # the case's task to complete, as the case showed it; None: ask the case
    # booking: the movement's flight
    flight_number: str
    departure_at: datetime
    departure_airport: str
    arrival_airport: str
    # departure: departed / no_show / postponed, and when / why
    outcome: Literal["book", "departed", "no_show", "postponed", "rebook", "arrived"] = "book"
    departed_at: datetime | None = None
    reason: str | None = None
    # delay: the booking to move (or drop: outcome postponed) is the one on the previous time;
    # ``update_id`` drops it, ``book_update_id`` books the new time
    previous_departure_at: datetime | None = None
    book_update_id: str | None = None
    # arrival
    arrived_on: date | None = None
    place: str | None = None
    receiving_partner: str | None = None
    actor: Actor
    audit: AuditStamp | None = None


class FanOutBatch(BaseModel):
    """Cases of one fan-out that one activity reaches (each by its own Update)."""

    requests: list[FanOutRequest]


class FanOutResults(BaseModel):
    results: list[FanOutResult]


def fan_out_update_id(movement_id: str, step: str, case_id: str) -> str:
    return f"movement-{movement_id}-{step}-{case_id}"

