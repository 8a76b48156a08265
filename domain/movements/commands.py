"""What a movement officer (or the engine, for a fan-out's answers) asks of a movement."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from domain.model import ShortText
from domain.text import ShowsRules
from domain.movements.model import (
    BoardingRecord,
    FanOutResult,
    FlightTime,
    MovementDetails,
    Reason,
    SpecialNeed,
    TransitPoint,
)

# A command with a field it does not know is refused, naming the field (never half-understood).
STRICT = ConfigDict(extra="forbid")


def _each_person_once(records: list[BoardingRecord]) -> list[BoardingRecord]:
    """A boarding sheet lists every person once: the same person twice (with the same answer or
    opposite ones) is refused, naming them, instead of the last row silently winning."""
    seen: set[tuple[str, str]] = set()
    for r in records:
        key = (r.case_id, r.member_id)
        if key in seen:
            raise PydanticCustomError("repeated_person", "lists {member_id} (case {case_id}) more than once: "
                                      "every person once, boarded or not", {"member_id": r.member_id,
                                                                            "case_id": r.case_id})
        seen.add(key)
    return records


class CreateMovement(BaseModel):
    model_config = STRICT

    kind: Literal["create"] = "create"
    details: MovementDetails


class AddCase(BaseModel):
    """Whole cases (every member travels together), one or many at once: all join, or none
    and every blocking case, member and rule is named."""

    model_config = STRICT

    kind: Literal["add_case"] = "add_case"
    case_ids: list[str] = Field(min_length=1, max_length=500)


class RemoveCase(BaseModel):
    model_config = STRICT

    kind: Literal["remove_case"] = "remove_case"
    case_id: str
    reason: Reason


class LockManifest(BaseModel):
    model_config = STRICT

    kind: Literal["lock"] = "lock"


class NotBoarded(BaseModel):
    model_config = STRICT

    case_id: str
    reason: Reason = Field(description="Why the family did not board (the case goes back to rebooking).")


class RecordBoarding(BaseModel):
    """The airport's check-in / boarding sheet: per person, boarded or not (with the reason).
    Recorded on a locked manifest before (or with) the departure confirmation; the same sheet
    again changes nothing.  A person who did not board takes the whole case back to rebooking
    at the departure: a family travels together (see README, group movements)."""

    model_config = STRICT

    kind: Literal["record_boarding"] = "record_boarding"
    records: list[BoardingRecord] = Field(min_length=1, max_length=1000, description=(
        "Every person once: a sheet that lists a person twice is refused, naming them."))

    @field_validator("records")
    @classmethod
    def _once(cls, records: list[BoardingRecord]) -> list[BoardingRecord]:
        return _each_person_once(records)


class ConfirmDeparture(ShowsRules):
    model_config = STRICT

    kind: Literal["confirm_departure"] = "confirm_departure"
    departed_at: FlightTime = Field(description=(
        "When the flight left: not in the future, and not more than 12 hours before the movement's scheduled "
        "departure_at (a flight does not leave half a day early; a delay only moves a flight later, so one "
        "brought forward is cancelled and created again with the earlier time before it leaves).  Every "
        "departing person needs a fit-to-travel check within the 72 hours before it."))
    not_boarded: list[NotBoarded] = Field(default_factory=list, max_length=1000)
    boarding: list[BoardingRecord] = Field(default_factory=list, max_length=1000, description=(
        "Per-person boarding records given with the confirmation (added to those recorded before); every "
        "person once."))

    @field_validator("boarding")
    @classmethod
    def _once(cls, records: list[BoardingRecord]) -> list[BoardingRecord]:
        return _each_person_once(records)


class DelayMovement(ShowsRules):
    """New times for the flight.  Without ``arrival_at`` / ``transit`` they move by as much as
    the departure.  On a locked manifest every booked case is moved to the new time (its
    fit-to-travel checks re-armed to it); a case whose documents do not reach the new day of
    travel goes back to rebooking instead, each member named."""

    model_config = STRICT

    kind: Literal["delay"] = "delay"
    departure_at: FlightTime = Field(description="The new departure, later than the current one; written with the "
                                                 "movement's departure_time_zone offset at that instant (e.g. +03:00 "
                                                 "in Europe/Istanbul), or in UTC (Z); another offset is refused.")
    arrival_at: FlightTime | None = None
    transit: list[TransitPoint] | None = Field(default=None, max_length=6)
    reason: Reason


class ConfirmArrival(BaseModel):
    """The movement arrived: recorded on every case that departed on it, exactly once."""

    model_config = STRICT

    kind: Literal["confirm_arrival"] = "confirm_arrival"
    arrived_on: date = Field(description=(
        "The day the flight landed, in the arrival airport's calendar: not before the day the departure "
        "instant (departed_at) falls on in the arrival airport's time zone (from the IATA airports table; "
        "where the airport has none, not before its day in UTC-12, the earliest calendar on Earth), and not "
        "after today in the movement's office's time zone (every case refuses an arrival in its future; refused "
        "at the API before anything is recorded)."))
    place: ShortText
    receiving_partner: ShortText | None = Field(default=None, description="Required by AVRR cases (the "
                                                                          "receiving office or partner).")


class RecordNeeds(BaseModel):
    """A person's special needs on board, as the movement officer lists them (replacing the
    officer's earlier list; the needs the case knows stay, each need listed once); checked
    against the escorts at once and at lock."""

    model_config = STRICT

    kind: Literal["record_needs"] = "record_needs"
    case_id: str
    member_id: str
    needs: list[SpecialNeed] = Field(max_length=4)


class CancelMovement(BaseModel):
    model_config = STRICT

    kind: Literal["cancel"] = "cancel"
    reason: Reason


class RecordFanOut(BaseModel):
    """The engine's own: what the cases' workflows answered to a fan-out."""

    model_config = STRICT

    kind: Literal["record_fan_out"] = "record_fan_out"
    step: Literal["booking", "departure", "release", "delay", "arrival"]
    results: list[FanOutResult]


MovementCommand = Annotated[
    CreateMovement | AddCase | RemoveCase | LockManifest | ConfirmDeparture | CancelMovement | RecordFanOut
    | RecordBoarding | DelayMovement | ConfirmArrival | RecordNeeds,
    Field(discriminator="kind"),
]
