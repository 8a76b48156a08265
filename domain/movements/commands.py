"""What a movement officer (or the engine, for a fan-out's answers) asks of a movement."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field

from domain.movements.model import FanOutResult, MovementDetails, Reason


class CreateMovement(BaseModel):
    kind: Literal["create"] = "create"
    details: MovementDetails


class AddCase(BaseModel):
    """Whole cases (every member travels together), one or many at once: all join, or none
    and every blocking case, member and rule is named."""

    kind: Literal["add_case"] = "add_case"
    case_ids: list[str] = Field(min_length=1, max_length=500)


class RemoveCase(BaseModel):
    kind: Literal["remove_case"] = "remove_case"
    case_id: str
    reason: Reason


class LockManifest(BaseModel):
    kind: Literal["lock"] = "lock"


class NotBoarded(BaseModel):
    case_id: str
    reason: Reason = Field(description="Why the family did not board (the case goes back to rebooking).")


class ConfirmDeparture(BaseModel):
    kind: Literal["confirm_departure"] = "confirm_departure"
    departed_at: AwareDatetime
    not_boarded: list[NotBoarded] = Field(default_factory=list, max_length=1000)


class CancelMovement(BaseModel):
    kind: Literal["cancel"] = "cancel"
    reason: Reason


class RecordFanOut(BaseModel):
    """The engine's own: what the cases' workflows answered to a fan-out."""

    kind: Literal["record_fan_out"] = "record_fan_out"
    step: Literal["booking", "departure", "release"]
    results: list[FanOutResult]


MovementCommand = Annotated[
    CreateMovement | AddCase | RemoveCase | LockManifest | ConfirmDeparture | CancelMovement | RecordFanOut,
    Field(discriminator="kind"),
]
