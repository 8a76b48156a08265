"""Human tasks: what a task type is (``TaskSpec``), and the two the engine itself opens.

Every programme declares its own task types and specs (``domain.programmes.<name>``); the
engine knows only what a ``TaskSpec`` says (stage, role, form, SLA behaviour) and the two
task types that belong to no programme: the supervisor's review after a negative outcome
and the escalation of an overdue task.

A task type is stored as its plain string (``TaskOpened.task_type``, ``tasks.task_type``).
``TaskTypeName`` validates it back into the programme's enum member when the type is
registered, so code compares it with the enum and the JSON stays a string.

The order in which a stage's tasks open is decided by the engine from the case's state and
the programme's next-step rules, because real cases loop: a deferred interview opens another
interview, a no-show opens a rebooking, an expired clearance re-opens health assessments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator

from domain.model import Role, Stage

if TYPE_CHECKING:
    from domain.state import CaseState


class EngineTask(StrEnum):
    """The task types of every programme, opened by the engine itself."""

    REVIEW_OUTCOME = "review_outcome"
    RESOLVE_ESCALATION = "resolve_escalation"


# (state, now) -> when a task opened now is due, instead of the stage's SLA (None: the SLA)
DueRule = Callable[["CaseState", datetime], datetime | None]


@dataclass(frozen=True)
class TaskSpec:
    task_type: str
    stage: Stage | None  # None: opened in whatever stage the case is in
    title: str
    role: Role
    per_member: bool
    form: Any  # the completion form: a pydantic model or a discriminated union of them
    escalates: bool = True  # an overdue task of this type escalates to the office supervisor
    # Its form carries health details: shown to medical staff and supervisors only (the one
    # place the need-to-know policy learns which task types those are).
    health_data: bool = False
    # Its form carries protection details (who is a victim of trafficking, a minor alone, has
    # medical needs): shown to those who work the case with the person (caseworkers, medical
    # officers, supervisors), not to movement officers, who see what the travel needs (an escort).
    protection_data: bool = False
    # Opened beside the stage's flow (by an escalation or a clock), so while it is open the
    # stage's next step may still open, and the stage may still end.
    beside_flow: bool = False
    due: DueRule | None = None
    # The latest its due may be, whatever the grace a task opened late is given
    # (``domain.engine.flow.reachable_due``): a fit-to-travel check, the booked departure.
    due_limit: Callable[["CaseState"], datetime | None] | None = None
    # Completing it releases a hold another person put on (a medical hold after treatment):
    # the four-eyes rule applies.
    releases_hold: bool = False
    # A task that opens on a clock: given the decision's draft, schedules its opening and
    # answers True instead of letting it open now (fit-to-travel checks, 72 h before a flight).
    opens_later: Callable[[Any], bool] | None = None
    # A fact a group workflow (a movement, an orientation session) records on its cases that
    # has already happened (a departure, an arrival, an attendance): from its fan-out it is
    # recorded on a case on hold too (``domain.engine.decide``).
    group_fact: bool = False


# --- task type names ---------------------------------------------------------------------

_REGISTERED: dict[str, StrEnum] = {}


def register_task_types(*enums: type[StrEnum]) -> None:
    """Make a programme's task types known, so stored strings validate back to its members."""
    for enum in enums:
        for member in enum:
            known = _REGISTERED.get(member.value)
            if known is not None and known is not member:
                raise ValueError(f"task type {member.value!r} is declared twice ({type(known).__name__}, {enum.__name__})")
            _REGISTERED[member.value] = member


def task_type_member(value: str) -> str:
    """The registered enum member for a stored task type (the string itself if unknown)."""
    return _REGISTERED.get(value, value)


TaskTypeName = Annotated[str, AfterValidator(task_type_member)]

register_task_types(EngineTask)


def __getattr__(name: str) -> Any:
    # Compatibility: ``TaskType`` (every registered task type in one enum) and ``TASK_SPECS``
    # (every spec, the first programme's where two differ) are assembled by the registry.
    if name in ("TaskType", "TASK_SPECS"):
        import domain.programmes as registry

        return getattr(registry, name)
    raise AttributeError(name)
