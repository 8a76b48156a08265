"""What can be asked of a case: imperative commands, validated at the edge and in the workflow."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from domain.destination_services import CaseServices
from domain.model import Referral
from domain.offices import DEFAULT_TIME_ZONE


class ReferCase(BaseModel):
    case_id: str
    referral: Referral
    arrival_confirmation_days: int = 3
    # Programme terms of the referral (months after arrival at which monitoring visits are
    # due, for a programme that monitors reintegration; None: the programme's default).
    monitoring_months: list[int] | None = None
    # The office's time zone, recorded with the case: its date rules are judged in it.
    office_time_zone: str = DEFAULT_TIME_ZONE
    # Resettlement's orientation age rule for this case (None, in requests sent before it: everyone attends).
    orientation_min_age: int | None = None
    # Resettlement: the exit permission the office's host state requires (None: none; the
    # programme's ``referral_terms`` records it or not).
    exit_permission: str | None = None
    # The destination's profile in force at referral (``domain.destination_services``); None:
    # every stage of the programme applies.
    services: CaseServices | None = None


class CompleteTask(BaseModel):
    task_id: str
    form: dict[str, Any]
    # The group workflow whose fact this completion records ("movement MV-...", "orientation
    # session OS-..."), set only by its fan-out, never by a person's request: a fact
    # (a task its programme marks ``group_fact``) is recorded on a case on hold too.  None: a person's completion.
    group: str | None = None


class Tick(BaseModel):
    """A durable timer fired: apply whatever the clock has made due."""

    kind: Literal["tick"] = "tick"


class WithdrawCase(BaseModel):
    kind: Literal["withdraw"] = "withdraw"
    reason: str = Field(min_length=1, max_length=2000)


class HoldCase(BaseModel):
    kind: Literal["hold"] = "hold"
    reason: str = Field(min_length=1, max_length=2000)


class ResumeCase(BaseModel):
    kind: Literal["resume"] = "resume"
    reason: str = Field(min_length=1, max_length=2000)


class ReassignTask(BaseModel):
    kind: Literal["reassign"] = "reassign"
    task_id: str
    assignee: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$")
    reason: str = Field(min_length=1, max_length=2000)


class AddNote(BaseModel):
    kind: Literal["note"] = "note"
    text: str = Field(min_length=1, max_length=4000)


class CorrectMember(BaseModel):
    kind: Literal["correct_member"] = "correct_member"
    member_id: str
    changes: dict[str, Any]
    reason: str = Field(min_length=1, max_length=2000)


class WithdrawConsent(BaseModel):
    """The migrant withdrew their consent (a programme action: only programmes that take
    consent accept it, ``ProgrammeDefinition.actions``).  Recorded by a caseworker; it stops the case at once."""

    kind: Literal["withdraw_consent"] = "withdraw_consent"
    withdrawn_by: str = Field(min_length=1, max_length=200)
    withdrawn_on: date
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]
    reason: str = Field(min_length=1, max_length=2000)


class CancelBooking(BaseModel):
    """The booked flight will not carry the case (a programme action of programmes that book
    travel): the booking is dropped, the tasks that depended on it are cancelled."""

    kind: Literal["cancel_booking"] = "cancel_booking"
    reason: str = Field(min_length=1, max_length=2000)


class SplitCase(BaseModel):
    """Move some of the family into a case of their own (``domain.engine.split``): a reasoned,
    explicit action; the rest stay on this case with its principal."""

    kind: Literal["split"] = "split"
    member_ids: list[str] = Field(min_length=1, max_length=50)
    principal_member_id: str
    reason: str = Field(min_length=1, max_length=2000)


class OpenSplitCase(BaseModel):
    """Open the case a split decided, from what the original case recorded (its ``CaseSplit``
    and its state before it): sent by the original's workflow, never by a person."""

    kind: Literal["open_split"] = "open_split"
    opening: Any  # the CaseSplitFrom event (typed in domain.engine.split; Any keeps this module light)
    tasks: list[Any] = Field(default_factory=list)  # CarriedTask


CaseAction = (WithdrawCase | HoldCase | ResumeCase | ReassignTask | AddNote | CorrectMember | WithdrawConsent
              | CancelBooking | SplitCase)
Command = ReferCase | CompleteTask | Tick | CaseAction | OpenSplitCase
