"""The case core: ``decide`` turns a command into events, ``evolve`` folds events into state.

Both are pure functions of their inputs (no clock, no randomness, no I/O): the caller
passes the time, the actor and an event-id factory in a ``DecisionContext``.  That is
what lets the same code run inside a Temporal workflow (deterministic replay), in the
projection rebuild, in "state as of time T", and in unit tests without Temporal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from domain import events as ev
from domain.errors import CommandRejected, RejectionCode
from domain.model import Actor, CaseStatus, Member, Priority, Programme, Referral, RESETTLEMENT_STAGES, Stage
from domain.sla import due_at
from domain.tasks import STAGE_STEPS, TASK_SPECS, TaskType


# --- state -------------------------------------------------------------------------------


class TaskState(BaseModel):
    task_id: str
    task_type: TaskType
    stage: Stage
    member_id: str | None = None
    status: Literal["open", "completed"] = "open"
    opened_at: datetime
    due_at: datetime
    completed_at: datetime | None = None
    completed_by: str | None = None


class MemberProgress(BaseModel):
    """Per-person readiness: the case moves when every member is ready."""

    health: Literal["pending", "cleared"] = "pending"
    clearance_valid_until: date | None = None
    follow_up_needed: bool = False
    orientation: Literal["pending", "attended"] = "pending"
    visa: Literal["pending", "issued"] = "pending"
    visa_valid_until: date | None = None


class Movement(BaseModel):
    flight_number: str
    departure_at: datetime
    departure_airport: str
    arrival_airport: str


class CaseState(BaseModel):
    model_config = ConfigDict(validate_assignment=False)

    case_id: str
    programme: Programme
    office: str
    priority: Priority
    destination_country: str | None
    origin_country: str | None
    external_referral_id: str
    referral_fingerprint: str
    members: list[Member]
    progress: dict[str, MemberProgress]
    stage: Stage = Stage.REFERRAL
    status: CaseStatus = CaseStatus.ACTIVE
    closure_reason: str | None = None
    tasks: dict[str, TaskState] = Field(default_factory=dict)
    task_counter: int = 0
    version: int = 0
    referred_at: datetime
    stage_entered_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    movement: Movement | None = None
    departed_at: datetime | None = None
    arrived_on: date | None = None
    arrival_place: str | None = None

    @property
    def open_tasks(self) -> list[TaskState]:
        return [t for t in self.tasks.values() if t.status == "open"]

    @property
    def principal(self) -> Member:
        return next(m for m in self.members if m.relationship == "principal")


# --- commands ----------------------------------------------------------------------------


class ReferCase(BaseModel):
    case_id: str
    referral: Referral


class CompleteTask(BaseModel):
    task_id: str
    form: dict[str, Any]


Command = ReferCase | CompleteTask


@dataclass(frozen=True)
class DecisionContext:
    """What ``decide`` may know of the world: the time, who acts, and fresh event ids."""

    now: datetime
    actor: Actor
    new_event_id: Callable[[], str]


def referral_fingerprint(referral: Referral) -> str:
    """Digest of a referral's content: the same referral resent is not a conflict."""
    return hashlib.sha256(referral.model_dump_json().encode()).hexdigest()[:32]


# --- decide ------------------------------------------------------------------------------


class _Draft:
    """Collects the events of one decision, applying each so later ones see its effect."""

    def __init__(self, state: CaseState | None, ctx: DecisionContext, case_id: str):
        self.state = state.model_copy(deep=True) if state is not None else None
        self.ctx = ctx
        self.case_id = case_id
        self.recorded: list[ev.RecordedEvent] = []

    def emit(self, event: Any) -> None:
        seq = (self.state.version if self.state else 0) + 1
        recorded = ev.RecordedEvent(
            event_id=self.ctx.new_event_id(),
            case_id=self.case_id,
            seq=seq,
            occurred_at=self.ctx.now,
            actor=self.ctx.actor,
            event=event,
        )
        self.state = _apply(self.state, recorded)
        self.recorded.append(recorded)


def decide(state: CaseState | None, command: Command, ctx: DecisionContext) -> list[ev.RecordedEvent]:
    """Decide which events a command produces, or raise ``CommandRejected``."""
    if isinstance(command, ReferCase):
        return _decide_referral(state, command, ctx)
    if state is None:
        raise CommandRejected(RejectionCode.CASE_NOT_FOUND, "the case has not been referred")
    return _decide_completion(state, command, ctx)


def _decide_referral(state: CaseState | None, command: ReferCase, ctx: DecisionContext) -> list[ev.RecordedEvent]:
    fingerprint = referral_fingerprint(command.referral)
    if state is not None:
        if state.referral_fingerprint != fingerprint:
            raise CommandRejected(
                RejectionCode.REFERRAL_CONFLICT,
                f"referral {command.referral.external_referral_id} is already case {state.case_id} "
                "with different data; correct the case instead of referring it again",
            )
        return []  # the same referral again: nothing new happened
    referral = command.referral
    members = [
        Member(member_id=f"{command.case_id}-M{i}", **m.model_dump())
        for i, m in enumerate(referral.members, start=1)
    ]
    draft = _Draft(None, ctx, command.case_id)
    draft.emit(
        ev.CaseReferred(
            case_id=command.case_id,
            programme=referral.programme,
            office=referral.office,
            priority=referral.priority,
            destination_country=referral.destination_country,
            origin_country=referral.origin_country,
            external_referral_id=referral.external_referral_id,
            members=members,
            referral_fingerprint=fingerprint,
        )
    )
    _enter_stage(draft, Stage.REFERRAL)
    return draft.recorded


def _decide_completion(state: CaseState, command: CompleteTask, ctx: DecisionContext) -> list[ev.RecordedEvent]:
    task = state.tasks.get(command.task_id)
    if task is None:
        raise CommandRejected(RejectionCode.TASK_NOT_FOUND, f"case {state.case_id} has no task {command.task_id}")
    if state.status == CaseStatus.CLOSED:
        raise CommandRejected(RejectionCode.CASE_CLOSED, f"case {state.case_id} is closed")
    if task.status != "open":
        raise CommandRejected(
            RejectionCode.TASK_NOT_OPEN,
            f"task {task.task_id} is already {task.status}"
            + (f" (by {task.completed_by} at {task.completed_at.isoformat()})" if task.completed_at else ""),
        )
    if task.stage != state.stage:
        raise CommandRejected(
            RejectionCode.WRONG_STAGE,
            f"task {task.task_id} belongs to stage '{task.stage}' but the case is in stage '{state.stage}'",
        )
    spec = TASK_SPECS[task.task_type]
    form = validate_form(task.task_type, command.form, today=ctx.now.date())
    draft = _Draft(state, ctx, state.case_id)
    draft.emit(ev.COMPLETION_EVENTS[task.task_type](task_id=task.task_id, member_id=task.member_id, **form.model_dump()))
    _advance(draft, spec.stage)
    return draft.recorded


def validate_form(task_type: TaskType, data: dict[str, Any], *, today: date) -> Any:
    """Validate a completion form; the rejection names each field, the reason and the input."""
    model = TASK_SPECS[task_type].form
    try:
        return model.model_validate(data, context={"today": today})
    except ValidationError as exc:
        raise CommandRejected(
            RejectionCode.INVALID_FORM,
            f"the {task_type.value} form is invalid: "
            + "; ".join(f"{_loc(e['loc'])}: {e['msg']}" for e in exc.errors()),
            details=[
                {"field": _loc(e["loc"]), "reason": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_input=False)
            ],
        ) from None


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "form"


def _advance(draft: _Draft, stage: Stage) -> None:
    """After a completion: open the stage's next step, or move the case to the next stage."""
    state = draft.state
    assert state is not None
    if any(t.stage == stage and t.status == "open" for t in state.tasks.values()):
        return  # other members' tasks of this step are still open
    steps = STAGE_STEPS[stage]
    done = {t.task_type for t in state.tasks.values() if t.stage == stage and t.status == "completed"}
    remaining = [step for step in steps if step not in done]
    if remaining:
        _open_step(draft, remaining[0])
        return
    following = RESETTLEMENT_STAGES[RESETTLEMENT_STAGES.index(stage) + 1]
    if following == Stage.CLOSED:
        draft.emit(ev.CaseClosed(reason="arrived", stage=stage))
    else:
        _enter_stage(draft, following)


def _enter_stage(draft: _Draft, stage: Stage) -> None:
    assert draft.state is not None
    draft.emit(ev.StageEntered(stage=stage, previous_stage=draft.state.stage if draft.state.version > 1 else None))
    _open_step(draft, STAGE_STEPS[stage][0])


def _open_step(draft: _Draft, task_type: TaskType) -> None:
    state = draft.state
    assert state is not None
    spec = TASK_SPECS[task_type]
    members: list[str | None] = [m.member_id for m in state.members] if spec.per_member else [None]
    for member_id in members:
        n = draft.state.task_counter + 1  # type: ignore[union-attr]
        draft.emit(
            ev.TaskOpened(
                task_id=f"{state.case_id}-T{n:02d}",
                task_type=task_type,
                stage=spec.stage,
                member_id=member_id,
                due_at=due_at(spec.stage, state.priority, draft.ctx.now),
            )
        )


# --- evolve ------------------------------------------------------------------------------


def evolve(state: CaseState | None, recorded: ev.RecordedEvent) -> CaseState:
    """The state after one more event.  Does not modify ``state``."""
    return _apply(state.model_copy(deep=True) if state is not None else None, recorded)


def fold(
    recorded: Iterable[ev.RecordedEvent], *, start: CaseState | None = None, as_of: datetime | None = None
) -> CaseState | None:
    """Case state from its events (after ``start``, which is not modified), optionally only
    the events that happened by ``as_of``: "the case as it stood on that day"."""
    state = start.model_copy(deep=True) if start is not None else None
    for r in recorded:
        if as_of is not None and r.occurred_at > as_of:
            break
        state = _apply(state, r)
    return state


def _apply(state: CaseState | None, recorded: ev.RecordedEvent) -> CaseState:
    """Apply one event in place (on a state the caller owns) and return it."""
    event, at = recorded.event, recorded.occurred_at
    if isinstance(event, ev.CaseReferred):
        state = CaseState(
            case_id=event.case_id,
            programme=event.programme,
            office=event.office,
            priority=event.priority,
            destination_country=event.destination_country,
            origin_country=event.origin_country,
            external_referral_id=event.external_referral_id,
            referral_fingerprint=event.referral_fingerprint,
            members=list(event.members),
            progress={m.member_id: MemberProgress() for m in event.members},
            referred_at=at,
            stage_entered_at=at,
            updated_at=at,
        )
    elif state is None:
        raise ValueError(f"event {recorded.seq} ({event.type}) precedes the case's CaseReferred")
    elif isinstance(event, ev.StageEntered):
        state.stage = event.stage
        state.stage_entered_at = at
    elif isinstance(event, ev.TaskOpened):
        state.task_counter += 1
        state.tasks[event.task_id] = TaskState(
            task_id=event.task_id,
            task_type=event.task_type,
            stage=event.stage,
            member_id=event.member_id,
            opened_at=at,
            due_at=event.due_at,
        )
    elif isinstance(event, ev.CaseClosed):
        state.stage = Stage.CLOSED
        state.status = CaseStatus.CLOSED
        state.closure_reason = event.reason
        state.closed_at = at
    elif isinstance(event, ev.TaskCompletion):
        task = state.tasks[event.task_id]
        task.status = "completed"
        task.completed_at = at
        task.completed_by = recorded.actor.id
        _apply_completion(state, event)
    state.version = recorded.seq
    state.updated_at = at
    return state


def _apply_completion(state: CaseState, event: ev.TaskCompletion) -> None:
    progress = state.progress.get(event.member_id) if event.member_id else None
    if isinstance(event, ev.HealthAssessmentRecorded) and progress is not None:
        progress.health = "cleared"
        progress.clearance_valid_until = event.clearance_valid_until
        progress.follow_up_needed = event.follow_up_needed
    elif isinstance(event, ev.OrientationAttended) and progress is not None:
        progress.orientation = "attended"
    elif isinstance(event, ev.VisaIssued) and progress is not None:
        progress.visa = "issued"
        progress.visa_valid_until = event.valid_until
    elif isinstance(event, ev.MovementBooked):
        state.movement = Movement(
            flight_number=event.flight_number,
            departure_at=event.departure_at,
            departure_airport=event.departure_airport,
            arrival_airport=event.arrival_airport,
        )
    elif isinstance(event, ev.CaseDeparted):
        state.departed_at = event.departed_at
    elif isinstance(event, ev.ArrivalConfirmed):
        state.arrived_on = event.arrived_on
        state.arrival_place = event.place
