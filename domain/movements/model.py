"""A movement: its details, its manifest, the facts it learns about a case, its events and state.

The state travels as a Temporal payload (the workflow's continue-as-new input, the
projection activity's input): fields may be added with defaults, never renamed.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, Strict, StrictBool,
                      StringConstraints, ValidationInfo, field_validator, model_validator)
from pydantic_core import PydanticCustomError

from domain.model import Actor, CaseStatus, Country, Name, Notes, Office, Stage
from domain.offices import check_time_zone, time_zone
from domain.forms import EARLIEST_CASE_DATE, LATEST_CASE_DATE
from domain.text import Line, Rule, ShowsRules, Text

FlightNumber = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2}[0-9]{1,4}[A-Z]?$"),
                         Field(description="IATA flight designator, e.g. TK1751 (a charter's too).")]
Airport = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"),
                    Field(description="IATA airport code of a known airport (the IATA airports table), e.g. IST")]
TimeZone = Annotated[str, AfterValidator(check_time_zone),
                     Field(description="IANA time zone of the departure airport, e.g. Europe/Istanbul.")]
Reason = Text(max_length=1000, min_length=1)


def _within_calendar(value: datetime) -> datetime:
    if not EARLIEST_CASE_DATE <= value.date() <= LATEST_CASE_DATE:
        raise ValueError(f"must lie between {EARLIEST_CASE_DATE.isoformat()} and {LATEST_CASE_DATE.isoformat()}")
    return value


# A flight's time: an offset required, and a day a case can have (a year like 9999 would
# overflow the day-of-travel arithmetic of the rules: refused here, said in the schema).
FlightTime = Annotated[AwareDatetime, AfterValidator(_within_calendar),
                       Rule(f"With its UTC offset; between {EARLIEST_CASE_DATE.isoformat()} and "
                            f"{LATEST_CASE_DATE.isoformat()}.")]
# A count from JSON: an integer, not "3" or true.
Count = Annotated[int, Strict()]
# Every body a movement officer sends is refused with an unknown field, named.
_STRICT = ConfigDict(extra="forbid")

# The special needs a manifest lists per person (the travel-relevant part of a member's needs,
# never the health details behind them) and the escorts each one needs on board.
SpecialNeed = Literal["wheelchair", "stretcher", "medical_escort", "unaccompanied_minor"]
NEEDS_MEDICAL_ESCORT: frozenset[str] = frozenset({"stretcher", "medical_escort"})
NEEDS_OPERATIONAL_ESCORT: frozenset[str] = frozenset({"unaccompanied_minor"})

# A movement's capacity counts seats: an infant under 2 on the day of travel flies on an
# adult's lap (IATA practice) and takes none, but is on the manifest and counted as a person.
LAP_INFANT_AGE_YEARS = 2


class MovementKind(StrEnum):
    CHARTER = "charter"
    SCHEDULED_BLOCK = "scheduled_block"  # a block of seats on a scheduled flight
    COMMERCIAL = "commercial"


class MovementStatus(StrEnum):
    OPEN = "open"  # the manifest takes cases
    LOCKED = "locked"  # the manifest is final; every case is booked on the movement's flight
    DEPARTED = "departed"
    CANCELLED = "cancelled"


class TransitPoint(ShowsRules):
    model_config = _STRICT

    airport: Airport
    arrives_at: FlightTime = Field(title="Arrives")
    departs_at: FlightTime = Field(title="Departs")

    @field_validator("departs_at")
    @classmethod
    def _order(cls, departs_at: datetime, info: ValidationInfo) -> datetime:
        # A field's own validator, so that the refusal names departs_at (a model's names none).
        arrives_at = info.data.get("arrives_at")
        if arrives_at is not None and departs_at < arrives_at:
            raise PydanticCustomError("flight_times", "must not be before arrives_at: the plane leaves the transit "
                                                      "point after it lands")
        return departs_at


class Escort(BaseModel):
    model_config = _STRICT

    name: Name
    kind: Literal["operational", "medical"] = "operational"


class MovementDetails(ShowsRules):
    """What the movement officer says about the flight."""

    model_config = _STRICT

    kind: MovementKind = Field(title="Kind")
    flight_number: FlightNumber
    charter_id: Line(max_length=64) | None = Field(  # type: ignore[valid-type]
        default=None, description="The charter's contract or reference number (charters).")
    carrier: Name
    departure_airport: Airport
    arrival_airport: Airport = Field(description="IATA airport code of the destination (a known airport), e.g. "
                                                 "OSL; not the departure_airport.  Its country is arrival_country.")
    # Derived, never typed: the API looks ``arrival_airport`` up in the IATA airports table
    # (``api.airports``: file I/O, so not here, where the workflow decides) and fills it in.
    # The destination rule compares it with each case's country (``rules.destination_problems``).
    # None: a movement created before it was derived (recorded histories), which the rule skips.
    arrival_country: Country | None = Field(
        default=None, title="Arrival country", json_schema_extra={"readOnly": True}, description=(
            "ISO 3166-1 alpha-2 country of arrival_airport, derived from it by the server (IATA airports "
            "table): leave it out; one that is not the airport's country is refused.  Every case on the "
            "manifest travels to it: its resettlement / family reunification destination, or its AVRR "
            "country of return."))
    departure_at: FlightTime = Field(title="Departure", description=(
        "Scheduled departure, in the departure airport's local time: written with departure_time_zone's offset "
        "at that instant (e.g. +03:00 in Europe/Istanbul), or in UTC (Z); another offset is refused."))
    departure_time_zone: TimeZone = Field(description=(
        "IANA time zone of the departure airport, e.g. Europe/Istanbul: its UTC offset at the departure must be the "
        "departure airport's zone's (IATA airports table); an alias is fine."))
    arrival_at: FlightTime | None = Field(default=None, title="Arrival", description=(
        "Scheduled arrival, in the arrival airport's local time; after the departure."))
    transit: list[TransitPoint] = Field(default_factory=list, max_length=6, title="Transit points", description=(
        "Each reached after the departure, and left no earlier than reached."))
    seat_capacity: Count = Field(ge=1, le=1000, description=(
        "Seats for the manifest; infants under 2 travel on a lap and take none."))
    escorts: list[Escort] = Field(default_factory=list, max_length=50)
    office: Office
    notes: Notes | None = None

    # The route's rules, each a validator of the field it is about (after the fields it is
    # compared with, declared before it), so that a refusal names that field, not the body.
    @field_validator("arrival_airport")
    @classmethod
    def _other_airport(cls, arrival_airport: str, info: ValidationInfo) -> str:
        if arrival_airport == info.data.get("departure_airport"):
            raise PydanticCustomError("flight_route", "must differ from departure_airport: a flight lands at "
                                                      "another airport")
        return arrival_airport

    @field_validator("arrival_at")
    @classmethod
    def _arrives_after(cls, arrival_at: datetime | None, info: ValidationInfo) -> datetime | None:
        departure_at = info.data.get("departure_at")
        if arrival_at is not None and departure_at is not None and arrival_at <= departure_at:
            raise PydanticCustomError("flight_times", "must be after departure_at ({departure_at})",
                                      {"departure_at": departure_at.isoformat()})
        return arrival_at

    @field_validator("transit")
    @classmethod
    def _transit_after(cls, transit: list[TransitPoint], info: ValidationInfo) -> list[TransitPoint]:
        departure_at = info.data.get("departure_at")
        for point in transit:
            if departure_at is not None and point.arrives_at <= departure_at:
                raise PydanticCustomError("flight_times", "transit point {airport} must be reached after "
                                          "departure_at ({departure_at})",
                                          {"airport": point.airport, "departure_at": departure_at.isoformat()})
        return transit

    def travel_day(self) -> date:
        """The day of travel, in the departure airport's time zone."""
        return self.departure_at.astimezone(time_zone(self.departure_time_zone)).date()


# --- what the movement learns about a case (from the case's workflow) -------------------------


class MemberFacts(BaseModel):
    member_id: str
    full_name: str
    date_of_birth: date
    health: str
    clearance_valid_until: date | None = None
    visa: str
    visa_valid_until: date | None = None
    fit_to_travel_at: datetime | None = None
    sex: str | None = None
    nationality: str | None = None
    needs: list[SpecialNeed] = Field(default_factory=list, description=(
        "Travel-relevant needs the case knows, never the health details behind them (AVRR: a medical escort "
        "the member's latest fit-to-travel assessment asked for; the screening's unaccompanied minor)."))


class CaseFacts(BaseModel):
    """A case as its workflow's ``state`` query shows it, reduced to what a manifest needs."""

    case_id: str
    found: bool = True
    office: str = ""
    programme: str = ""
    status: CaseStatus = CaseStatus.ACTIVE
    closure_reason: str | None = None
    stage: Stage = Stage.REFERRAL
    on_hold: bool = False
    members: list[MemberFacts] = Field(default_factory=list)
    consent_status: str | None = None  # AVRR: pending / given / reconfirmed / withdrawn
    # False when the case has no health stage of IOM's: its programme has none (family
    # reunification) or its destination's profile skips it (the destination screens health).
    medical_clearance_required: bool = True
    # Resettlement: the exit permission the host state requires (None: none; facts taken
    # before the rule carry none), and the last day of the one recorded (None: not recorded).
    exit_permission_required: str | None = None
    exit_permission_valid_until: date | None = None
    open_tasks: dict[str, str] = Field(default_factory=dict, description="task type -> an open task's id")
    booked_flight: str | None = None
    booked_departure_at: datetime | None = None
    departed_at: datetime | None = None
    other_movement_id: str | None = Field(default=None, description="another open movement holding this case")
    # Where the case travels to (None: facts taken before the destination rule, or not known):
    # resettlement's and family reunification's destination country (as now: a resubmission
    # changes it), and AVRR's country of return (the referral's origin_country).
    destination_country: str | None = None
    return_country: str | None = None


# --- the manifest ---------------------------------------------------------------------------


class ManifestMember(BaseModel):
    member_id: str
    full_name: str
    date_of_birth: date
    sex: str | None = None
    nationality: str | None = None
    lap_infant: bool = Field(default=False, description=(
        "Under 2 on the day of travel (the departure airport's zone): on an adult's lap, no seat.  Counted for "
        "the current day of travel: a delay recounts it (a baby who turns 2 before the new day takes a seat)."))
    seat_since_delay: bool = Field(default=False, description=(
        "A lap infant before a delay that made the person 2 on the new day of travel: now needs a seat "
        "(named in rule_check when the seats no longer fit)."))
    needs: list[SpecialNeed] = Field(default_factory=list, description="Seat and escort needs on board: those the "
                                                                      "case knows and those the movement officer "
                                                                      "listed, each once.")
    case_needs: list[SpecialNeed] = Field(default_factory=list, description=(
        "The needs the case knows (from its own workflow when it joined the manifest: AVRR's fit-to-travel "
        "assessment asking for a medical escort, its screening's unaccompanied minor; a case of minors only). "
        "They are in ``needs`` too, and stay when the movement officer lists the person's needs."))

    @property
    def listed_needs(self) -> list[str]:
        """The needs the movement officer listed beyond those the case knows."""
        return sorted(set(self.needs) - set(self.case_needs))
    # The airport's check-in / boarding record for this person (None: not recorded).
    boarded: bool | None = None
    not_boarded_reason: str | None = None


class FanOutResult(BaseModel):
    """What one case's workflow answered to a fanned-out command."""

    case_id: str
    outcome: str  # booked / departed / no_show / postponed / released / not_applied
    applied: bool = Field(description="False when the case could not take it (reason says why).")
    reason: str | None = None


class ManifestEntry(BaseModel):
    case_id: str
    members: list[ManifestMember]
    added_at: datetime
    added_by: str
    boarded: bool | None = None
    not_boarded_reason: str | None = None
    # The case's task the fan-out completes, as the case's workflow showed it at the lock /
    # the confirmation (None: the fan-out asks the case first).
    booking_task_id: str | None = None
    departure_task_id: str | None = None
    booking: FanOutResult | None = None
    departure: FanOutResult | None = None
    # A delay: the case's booking moved to the new time (pending until the case answered);
    # a case whose documents do not reach the new day is dropped instead (the reason names them).
    delay_pending: bool = False
    delay_drop_reason: str | None = None
    delay: FanOutResult | None = None
    arrival: FanOutResult | None = None

    def member(self, member_id: str) -> ManifestMember | None:
        return next((m for m in self.members if m.member_id == member_id), None)

    @property
    def not_boarded_members(self) -> list[ManifestMember]:
        return [m for m in self.members if m.boarded is False]

    @property
    def seats(self) -> int:
        return sum(1 for m in self.members if not m.lap_infant)


class RemovedEntry(BaseModel):
    case_id: str
    removed_at: datetime
    removed_by: str
    reason: str
    # Taken off a locked manifest: the case's booking on the flight is dropped through its
    # record_departure task (postponed, with the reason) when open, else by the case's own
    # CancelBooking: whether it is to be dropped, that task, and what the case answered.
    release_task_id: str | None = None
    release_booking: bool = False

    @property
    def releasing(self) -> bool:
        """Whether the case's booking on the flight is to be dropped (entries kept from before
        ``release_booking`` say so by their task alone)."""
        return self.release_task_id is not None or self.release_booking
    release: FanOutResult | None = None
    released_by: Actor | None = None
    delay: FanOutResult | None = None  # dropped by a delay: what the case answered


class Problem(BaseModel):
    """One reason a case may not be (or stay) on a manifest: the rule, and the member it names."""

    case_id: str  # "*": the manifest as a whole, or a field of the command (``field``)
    rule: str
    message: str
    member_id: str | None = None
    member_name: str | None = None
    field: str | None = None  # the command's field a refusal is about, when it is not a case


# --- events and state ---------------------------------------------------------------------


class MovementEvent(BaseModel):
    at: datetime
    actor: Actor


class MovementCreated(MovementEvent):
    type: Literal["movement_created"] = "movement_created"
    details: MovementDetails


class CaseAdded(MovementEvent):
    type: Literal["case_added"] = "case_added"
    entry: ManifestEntry


class CaseRemoved(MovementEvent):
    type: Literal["case_removed"] = "case_removed"
    case_id: str
    reason: str
    release_task_id: str | None = Field(default=None, description="locked manifest: the case's record_departure "
                                                                  "task that drops its booking")
    release_booking: bool = Field(default=False, description="locked manifest: the case's booking on the flight is "
                                                             "dropped (by that task when open, else by the case's "
                                                             "CancelBooking)")


class ManifestLocked(MovementEvent):
    type: Literal["manifest_locked"] = "manifest_locked"
    booking_tasks: dict[str, str] = Field(default_factory=dict, description="case id -> its open book_movement task")
    members: dict[str, list[ManifestMember]] = Field(default_factory=dict, description=(
        "case id -> its people as the case had them at the lock, where that differs from what the manifest listed "
        "(a correction of a name, date of birth, sex or nationality since the case was added; the lap seat and "
        "the needs the case knows follow).  Empty: nothing changed, or a lock decided before the refresh "
        "(workflows.movement's MANIFEST_MEMBERS_PATCH)."))


class DepartureConfirmed(MovementEvent):
    type: Literal["departure_confirmed"] = "departure_confirmed"
    departed_at: datetime
    not_boarded: dict[str, str] = Field(default_factory=dict, description="case id -> why it did not board")
    departure_tasks: dict[str, str] = Field(default_factory=dict, description="case id -> its open record_departure task")


class BoardingRecord(BaseModel):
    """One person's check-in / boarding record at the airport."""

    # The validator's rule, in the JSON Schema too: not boarded needs the reason.
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "if": {"properties": {"boarded": {"const": False}}, "required": ["boarded"]},
        "then": {"required": ["reason"], "properties": {"reason": {"type": "string", "minLength": 1}}}})

    case_id: str
    member_id: str
    boarded: StrictBool = Field(description="true or false (a JSON boolean: not \"yes\", 1 or \"true\").")
    reason: Reason | None = Field(default=None, description="Why the person did not board (required then).")

    @model_validator(mode="after")
    def _reason(self) -> BoardingRecord:
        if not self.boarded and self.reason is None:
            raise ValueError(f"reason is required for {self.member_id}, who did not board")
        return self


class BoardingRecorded(MovementEvent):
    type: Literal["boarding_recorded"] = "boarding_recorded"
    records: list[BoardingRecord]


class NeedsRecorded(MovementEvent):
    type: Literal["needs_recorded"] = "needs_recorded"
    case_id: str
    member_id: str
    needs: list[SpecialNeed]


class SeatRecount(BaseModel):
    """One person's seat and age-related needs on the new day of travel, where a delay changed them."""

    member_id: str
    lap_infant: bool
    needs: list[SpecialNeed]
    case_needs: list[SpecialNeed]


class MovementDelayed(MovementEvent):
    type: Literal["movement_delayed"] = "movement_delayed"
    details: MovementDetails = Field(description="The movement's details with the new times.")
    previous_departure_at: datetime
    reason: str
    drop: dict[str, str] = Field(default_factory=dict, description="case id -> why the new time is too late for it")
    problems: list[Problem] = Field(default_factory=list)
    recount: dict[str, list[SeatRecount]] = Field(default_factory=dict, description=(
        "case id -> each member whose lap seat or age-related needs (a case of minors only: unaccompanied) "
        "differ on the new day of travel, as recounted (empty: nothing changed, or a delay decided before the "
        "recount, DELAY_RECOUNT_PATCH)."))


class CaseDelayRecorded(MovementEvent):
    type: Literal["case_delay_recorded"] = "case_delay_recorded"
    result: FanOutResult


class ArrivalConfirmed(MovementEvent):
    type: Literal["arrival_confirmed"] = "arrival_confirmed"
    arrived_on: date
    place: str
    receiving_partner: str | None = None


class CaseArrivalRecorded(MovementEvent):
    type: Literal["case_arrival_recorded"] = "case_arrival_recorded"
    result: FanOutResult


class MovementCancelled(MovementEvent):
    type: Literal["movement_cancelled"] = "movement_cancelled"
    reason: str


class CaseBooked(MovementEvent):
    type: Literal["case_booked"] = "case_booked"
    result: FanOutResult


class CaseDepartureRecorded(MovementEvent):
    type: Literal["case_departure_recorded"] = "case_departure_recorded"
    result: FanOutResult


class CaseReleased(MovementEvent):
    type: Literal["case_released"] = "case_released"
    result: FanOutResult


AnyMovementEvent = Annotated[
    MovementCreated | CaseAdded | CaseRemoved | ManifestLocked | DepartureConfirmed | MovementCancelled
    | CaseBooked | CaseDepartureRecorded | CaseReleased | BoardingRecorded | NeedsRecorded | MovementDelayed
    | CaseDelayRecorded | ArrivalConfirmed | CaseArrivalRecorded,
    Field(discriminator="type"),
]


class MovementState(BaseModel):
    movement_id: str
    details: MovementDetails
    status: MovementStatus = MovementStatus.OPEN
    manifest: list[ManifestEntry] = Field(default_factory=list)
    removed: list[RemovedEntry] = Field(default_factory=list)
    created_at: datetime
    created_by: str
    updated_at: datetime
    version: int = 0
    locked_at: datetime | None = None
    locked_by: Actor | None = None
    confirmed_by: Actor | None = None  # who confirmed the departure or cancelled: the fan-out acts as them
    departed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancellation_reason: str | None = None
    delays: int = 0  # how many times the flight was delayed (each delay's fan-out has its own update ids)
    previous_departure_at: datetime | None = None  # before the latest delay
    delay_reason: str | None = None
    delayed_by: Actor | None = None
    delay_problems: list[Problem] = Field(default_factory=list)
    arrived_on: date | None = None
    arrival_place: str | None = None
    receiving_partner: str | None = None
    arrival_confirmed_by: Actor | None = None

    def entry(self, case_id: str) -> ManifestEntry | None:
        return next((e for e in self.manifest if e.case_id == case_id), None)

    @property
    def seats_taken(self) -> int:
        return sum(e.seats for e in self.manifest)

    @property
    def people(self) -> int:
        return sum(len(e.members) for e in self.manifest)

    @property
    def pending_bookings(self) -> list[str]:
        """Cases the locked manifest still has to book (the lock's fan-out)."""
        if self.status != MovementStatus.LOCKED:
            return []
        return [e.case_id for e in self.manifest if e.booking is None]

    @property
    def pending_departures(self) -> list[str]:
        """Cases the departure or the cancellation still has to reach (its fan-out)."""
        if self.status not in (MovementStatus.DEPARTED, MovementStatus.CANCELLED):
            return []
        return [e.case_id for e in self.manifest if e.departure is None and self._reached_by_outcome(e)]

    @staticmethod
    def _reached_by_outcome(entry: ManifestEntry) -> bool:
        # Only a case the lock booked has a departure to record (or a booking to drop): a
        # cancellation before the lock booked nobody, and a case the booking could not reach
        # shows why in its ``booking``.
        return entry.booking is not None and entry.booking.applied

    @property
    def pending_releases(self) -> list[str]:
        """Cases taken off the locked manifest whose booking is still to be dropped."""
        return [r.case_id for r in self.removed
                if r.releasing and r.release is None]

    def removed_entry(self, case_id: str) -> RemovedEntry | None:
        return next((r for r in reversed(self.removed) if r.case_id == case_id), None)

    @property
    def pending_delays(self) -> list[str]:
        """Cases whose booking a delay has still to move (or drop)."""
        return [e.case_id for e in self.manifest if e.delay_pending]

    @property
    def pending_arrivals(self) -> list[str]:
        """Departed cases the confirmed arrival has still to reach."""
        if self.arrived_on is None:
            return []
        return [e.case_id for e in self.manifest if e.departure is not None and e.departure.applied
                and e.departure.outcome == "departed" and e.arrival is None]

    @property
    def fan_out_done(self) -> bool:
        return (not self.pending_bookings and not self.pending_departures and not self.pending_releases
                and not self.pending_delays and not self.pending_arrivals)

    def summary(self) -> dict[str, Any]:
        return {"cases": len(self.manifest), "people": self.people, "seats": self.seats_taken}
