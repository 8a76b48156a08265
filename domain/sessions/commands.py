"""What an orientation officer (or the engine, for the fan-out's answers) asks of a session."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.text import ShowsRules
from domain.sessions.model import FanOutResult, Reason, SessionDetails

MemberId = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
CaseId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]


class ScheduleSession(BaseModel):
    kind: Literal["schedule"] = "schedule"
    details: SessionDetails


class Invitee(ShowsRules):
    """A person to add: one member of a case, or (``member_id`` absent) every member of the
    case whose orientation is open."""

    model_config = ConfigDict(extra="forbid")
    case_id: CaseId
    member_id: MemberId | None = None


class AddParticipants(BaseModel):
    """All join, or none and every blocking person and rule is named."""

    kind: Literal["add_participants"] = "add_participants"
    invitees: list[Invitee] = Field(min_length=1, max_length=500)


class RemoveParticipant(BaseModel):
    kind: Literal["remove_participant"] = "remove_participant"
    member_id: MemberId
    reason: Reason


class Attendance(ShowsRules):
    """One participant's attendance: attended, or absent with the reason."""

    model_config = ConfigDict(extra="forbid")
    member_id: MemberId
    attended: bool = Field(strict=True, description="true or false (a JSON boolean, not \"yes\" or 1).")
    absence_reason: Reason | None = Field(default=None, description="Required when attended is false.")

    @model_validator(mode="after")
    def _reason(self) -> Attendance:
        if not self.attended and self.absence_reason is None:
            raise ValueError("absence_reason is required when attended is false")
        if self.attended and self.absence_reason is not None:
            raise ValueError("absence_reason is only for a participant who did not attend")
        return self


class RecordAttendance(BaseModel):
    """The whole session's attendance in one form: every participant once."""

    kind: Literal["record_attendance"] = "record_attendance"
    attendance: list[Attendance] = Field(min_length=1, max_length=500)


class CancelSession(BaseModel):
    kind: Literal["cancel"] = "cancel"
    reason: Reason


class RecordFanOut(BaseModel):
    """The engine's own: what the cases' workflows answered to the attendees' orientation."""

    kind: Literal["record_fan_out"] = "record_fan_out"
    results: list[FanOutResult]


SessionCommand = Annotated[
    ScheduleSession | AddParticipants | RemoveParticipant | RecordAttendance | CancelSession | RecordFanOut,
    Field(discriminator="kind"),
]
