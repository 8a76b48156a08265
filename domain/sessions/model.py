"""An orientation session: its details, its participants, the facts it learns about a case,
its events and state.

The state travels as a Temporal payload (continue-as-new input, the projection activity's
input): fields may be added with defaults, never renamed.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from domain.model import Actor, CaseStatus, Country, Name, Notes, Office, Stage
from domain.offices import DEFAULT_TIME_ZONE, check_time_zone, time_zone
from domain.person_names import PersonName
from domain.text import Line, Rule, ShowsRules, Text

LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$"),
                         Field(description="ISO 639 code of the language the session is held in, e.g. ar.",
                               examples=["ar"])]
TimeZone = Annotated[str, AfterValidator(check_time_zone),
                     Field(description="IANA time zone the session's date and time are given in (the office's).")]
Reason = Text(max_length=1000, min_length=1)
EARLIEST_START, LATEST_START = date(2000, 1, 1), date(2199, 12, 31)


LONGEST_PAST_START = timedelta(days=30)
"""How far in the past a session may still be scheduled: one held recently and entered late
is recorded; a date years back is a typing error (its attendance would be counted in a month
in which the cases did not exist).  An admission rule (``domain.sessions.decide``, in the
Update validator): sessions scheduled before it replay as decided."""


def _plausible_start(value: datetime) -> datetime:
    # Far-off instants are typing errors (and would overflow the local day near year 1 or 9999).
    if not EARLIEST_START <= value.date() <= LATEST_START:
        raise ValueError(f"must be between {EARLIEST_START.isoformat()} and {LATEST_START.isoformat()}")
    return value


StartsAt = Annotated[AwareDatetime, AfterValidator(_plausible_start),
                     Rule(f"Between {EARLIEST_START.isoformat()} and {LATEST_START.isoformat()}.")]
ORIENTATION_TASK = "record_orientation"


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"  # takes participants; attendance not recorded yet
    HELD = "held"  # attendance recorded; each attendee's orientation is recorded on their case
    CANCELLED = "cancelled"


class SessionDetails(ShowsRules):
    """What the orientation officer says about the session."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "starts_at": "2026-12-10T10:00:00+03:00", "mode": "in_person", "place": "IOM Istanbul, training room 2",
        "language": "ar", "destination_country": "NO", "capacity": 30, "facilitator": "Leyla Osman", "office": "IST"}]})

    starts_at: StartsAt = Field(title="Starts", description="When the session starts: the local time where it is "
                                                            "held, with its time zone's UTC offset at that instant (or in UTC, Z); not more than "
                                                            f"{LONGEST_PAST_START.days} days ago when it is scheduled.")
    time_zone: TimeZone | None = Field(default=None, description="IANA time zone of the session's start (e.g. "
                                                                "Europe/Istanbul); absent: the office's.")
    # Counts are JSON integers: not "30", not true (strict: a number typed as a string is a
    # client's error to hear about; what was stored is an integer and reads back as one).
    duration_minutes: int = Field(default=180, ge=30, le=8 * 60, strict=True, title="Duration (minutes)")
    mode: Literal["in_person", "online"] = Field(description="Held at a place, or online.")
    place: Line(max_length=300, min_length=1) = Field(  # type: ignore[valid-type]
        description="The address and room, or the online meeting's link.")
    language: LanguageCode
    destination_country: Country = Field(description="The resettlement country the session prepares for.")
    capacity: int = Field(ge=1, le=500, strict=True,
                          description="People the session takes (each participant is a person).")
    facilitator: Name
    office: Office
    notes: Notes | None = None

    def session_date(self) -> date:
        """The day of the session, in its time zone."""
        return self.starts_at.astimezone(time_zone(self.time_zone or DEFAULT_TIME_ZONE)).date()


class SessionDetailsIn(SessionDetails):
    """The details as an officer types them in (``POST /api/v1/orientation-sessions``): the
    facilitator's name is a ``PersonName`` (no invisible characters).  A session's state keeps
    ``SessionDetails``, whose ``Line`` still reads what sessions scheduled before recorded."""

    facilitator: PersonName() = Field(examples=["Leyla Osman"])  # type: ignore[valid-type]

    def as_details(self) -> SessionDetails:
        """The plain ``SessionDetails`` the session's workflow takes (the same values)."""
        return SessionDetails.model_validate(self.model_dump())


# --- what the session learns about a case (from the case's workflow) ----------------------


class MemberFacts(BaseModel):
    member_id: str
    full_name: str
    date_of_birth: date
    orientation: str = "pending"
    task_id: str | None = Field(default=None, description="the member's open record_orientation task")
    absent_before: bool = Field(default=False, description="absent from an earlier session (a re-invitation)")
    other_session_id: str | None = Field(default=None, description="another scheduled session holding the member")


class SessionCaseFacts(BaseModel):
    """A case as its workflow's ``state`` query shows it, reduced to what a session needs."""

    case_id: str
    found: bool = True
    office: str = ""
    programme: str = ""
    status: CaseStatus = CaseStatus.ACTIVE
    stage: Stage = Stage.REFERRAL
    on_hold: bool = False
    destination_country: str | None = None
    members: list[MemberFacts] = Field(default_factory=list)
    referred_at: datetime | None = Field(default=None, description=(
        "when the case was referred: no one of it was on a session that had ended before; None for a case "
        "split off another (its family was referred earlier) and in facts recorded before"))

    def member(self, member_id: str) -> MemberFacts | None:
        return next((m for m in self.members if m.member_id == member_id), None)


# --- participants -----------------------------------------------------------------------------


class FanOutResult(BaseModel):
    """What the case's workflow answered to an attendee's orientation."""

    case_id: str
    member_id: str
    applied: bool = Field(description="False when the case could not take it (reason says why).")
    reason: str | None = None


class Participant(BaseModel):
    case_id: str
    member_id: str
    full_name: str
    date_of_birth: date
    reinvited: bool = Field(default=False, description="Absent from an earlier session: invited again.")
    added_at: datetime
    added_by: str
    attendance: Literal["attended", "absent"] | None = None
    absence_reason: str | None = None
    # The case's record_orientation task the recording completes, as the case showed it when
    # the attendance was recorded (None: the fan-out asks the case first).
    task_id: str | None = None
    result: FanOutResult | None = None
    invited_case_id: str | None = Field(default=None, description=(
        "The case the person was invited under, when a family split has moved them to another case since "
        "(``case_id`` is then the case that holds them, where their attendance is recorded); None: the same case."))

    def follow(self, case_id: str) -> None:
        """The person is now in ``case_id`` (a family split moved them): the session follows them."""
        if case_id != self.case_id:
            self.invited_case_id = self.invited_case_id or self.case_id
            self.case_id = case_id


class RemovedParticipant(BaseModel):
    case_id: str
    member_id: str
    full_name: str
    removed_at: datetime
    removed_by: str
    reason: str


class Problem(BaseModel):
    """One reason a person may not join (or be recorded on) a session: the rule and whom it names."""

    case_id: str
    rule: str
    message: str
    member_id: str | None = None
    member_name: str | None = None


# --- events and state --------------------------------------------------------------------------


class SessionEvent(BaseModel):
    at: datetime
    actor: Actor


class SessionScheduled(SessionEvent):
    type: Literal["session_scheduled"] = "session_scheduled"
    details: SessionDetails


class ParticipantsAdded(SessionEvent):
    type: Literal["participants_added"] = "participants_added"
    participants: list[Participant]


class ParticipantRemoved(SessionEvent):
    type: Literal["participant_removed"] = "participant_removed"
    case_id: str
    member_id: str
    reason: str


class AttendanceEntry(BaseModel):
    case_id: str
    member_id: str
    attended: bool
    absence_reason: str | None = None
    task_id: str | None = None


class AttendanceRecorded(SessionEvent):
    type: Literal["attendance_recorded"] = "attendance_recorded"
    entries: list[AttendanceEntry]


class SessionCancelled(SessionEvent):
    type: Literal["session_cancelled"] = "session_cancelled"
    reason: str


class OrientationReached(SessionEvent):
    type: Literal["orientation_reached"] = "orientation_reached"
    result: FanOutResult


AnySessionEvent = Annotated[
    SessionScheduled | ParticipantsAdded | ParticipantRemoved | AttendanceRecorded | SessionCancelled
    | OrientationReached,
    Field(discriminator="type"),
]


class SessionState(BaseModel):
    session_id: str
    details: SessionDetails
    status: SessionStatus = SessionStatus.SCHEDULED
    participants: list[Participant] = Field(default_factory=list)
    removed: list[RemovedParticipant] = Field(default_factory=list)
    created_at: datetime
    created_by: str
    updated_at: datetime
    version: int = 0
    recorded_at: datetime | None = None
    recorded_by: Actor | None = None  # who recorded the attendance: the fan-out acts as them
    cancelled_at: datetime | None = None
    cancellation_reason: str | None = None

    def participant(self, member_id: str) -> Participant | None:
        return next((p for p in self.participants if p.member_id == member_id), None)

    @property
    def seats_left(self) -> int:
        return self.details.capacity - len(self.participants)

    @property
    def attended(self) -> int:
        return sum(1 for p in self.participants if p.attendance == "attended")

    @property
    def absent(self) -> int:
        return sum(1 for p in self.participants if p.attendance == "absent")

    @property
    def pending_fan_out(self) -> list[Participant]:
        """Attendees whose orientation the recording has still to reach on their case."""
        if self.status != SessionStatus.HELD:
            return []
        return [p for p in self.participants if p.attendance == "attended" and p.result is None]

    @property
    def fan_out_done(self) -> bool:
        return not self.pending_fan_out

    def summary(self) -> dict[str, Any]:
        return {"participants": len(self.participants), "attended": self.attended, "absent": self.absent}
