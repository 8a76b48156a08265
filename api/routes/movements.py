"""Group movements (issue 13): create, list, read, add / remove cases, lock the manifest,
confirm the departure, cancel.  Movement officers and supervisors only, office-scoped: a
movement of another office is reported as not found.

Commands go to the movement's ``Movement`` workflow (``api.movements``); reads come from its
read model (migration 0035), written before a command answers.  The fan-outs that a lock, a
departure or a cancellation start (to every case on the manifest) run on in the workflow
after the command has answered: ``fan_out.pending`` says how many cases it has still to reach.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from api import policy, readmodel
from api.airports import (
    arrival_day_refusal,
    local_offset_refusal,
    departure_zone_refusal,
    with_arrival_country,
)
from api.auth import CurrentPrincipal, Principal
from api.deps import Db, lent_back
from api.errors import ERROR_RESPONSES, ApiError
from api.manifest_pdf import manifest_pdf
from api.movements import MovementCommands, new_movement_id
from api.request_context import record_cases_shown
from domain.engine.form_validation import validate_form
from domain.errors import CommandRejected
from domain.model import Role
from domain.movements import commands as c
from domain.movements.model import (
    FanOutResult,
    ManifestEntry,
    MovementDetails,
    MovementState,
    MovementStatus,
    Problem,
    Reason,
    SpecialNeed,
    RemovedEntry,
)
from domain.offices import local_time
from domain.movements.export import COLUMNS, ManifestRow, current_manifest, manifest_rows
from domain.movements.decide import MovementRejected, decide
from domain.movements.rules import (
    lap_or_seat_problems,
    left_case_problems,
    listed_twice_problems,
    needs_problems,
    seat_problems,
)
from settings import get_settings
from store import movements as store

MOVEMENT_ROLES = {Role.MOVEMENT_OFFICER, Role.SUPERVISOR}
MovementId = Annotated[str, StringConstraints(pattern=r"^MV-[0-9A-F]{16}$")]
CaseId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]

router = APIRouter(prefix="/api/v1/movements", tags=["movements"],
                   responses={401: ERROR_RESPONSES[401], 403: ERROR_RESPONSES[403]})


def _commands(request: Request) -> MovementCommands:
    app = request.app
    if getattr(app.state, "movement_commands", None) is None:
        settings = app.state.settings
        app.state.movement_commands = MovementCommands(
            app.state.temporal, settings.temporal_task_queue, timeout=timedelta(seconds=settings.command_timeout_seconds),
            nothing_created_grace_seconds=settings.nothing_created_grace_seconds)
    return app.state.movement_commands


Commands = Annotated[MovementCommands, Depends(_commands)]


class FanOutProgress(BaseModel):
    step: str | None = Field(description="booking (after the lock), release (a case taken off the locked "
                                         "manifest), delay (after new times), departure (after the confirmation or "
                                         "a cancellation), arrival (after the arrival), or null when nothing is "
                                         "under way.")
    pending: int = Field(description="Cases the step has still to reach.")
    applied: int
    not_applied: int = Field(description="Cases that could not take it (each entry's reason says why).")


class MovementView(BaseModel):
    movement_id: str
    status: MovementStatus
    details: MovementDetails
    people: int = Field(description="Everyone on the manifest, infants included.")
    seats_taken: int = Field(description="Seats the manifest needs: infants under 2 travel on a lap.")
    seats_left: int
    manifest: list[ManifestEntry] = Field(description="Each person's name, date of birth, sex and nationality as "
                                                      "their case has them now (a correction made after the lock "
                                                      "too, as in the CSV and PDF exports); the seats (lap_infant) "
                                                      "as the manifest counted them.")
    removed: list[RemovedEntry]
    fan_out: FanOutProgress
    version: int
    created_at: datetime
    created_by: str
    updated_at: datetime
    locked_at: datetime | None
    departed_at: datetime | None
    cancelled_at: datetime | None
    cancellation_reason: str | None
    delays: int = Field(description="How many times the flight was delayed.")
    previous_departure_at: datetime | None = Field(description="The departure before the latest delay.")
    delay_reason: str | None
    delay_problems: list[Problem] = Field(description="The latest delay: each member whose medical clearance or "
                                                      "travel document does not reach the new day of travel "
                                                      "(a locked manifest's case goes back to rebooking).")
    arrived_on: date | None
    arrival_place: str | None
    rule_check: list[Problem] = Field(description="The special-needs rule for every person on the manifest "
                                                  "against the movement's escorts (checked again at lock), and, "
                                                  "while the movement is open or locked, case_closed for a listed "
                                                  "case closed since it joined (withdrawn, consent withdrawn: its "
                                                  "closure reason; the lock refuses it, take it off), its seats on "
                                                  "the current "
                                                  "day of travel: infant_without_adult per case, capacity (the "
                                                  "whole, then each person a delay made 2, no longer on a lap), "
                                                  "which refuse the lock and the departure until a case is taken "
                                                  "off; member_on_manifest for a person listed under two "
                                                  "cases (a family split after a case joined); members_changed "
                                                  "for a person listed under a case that no longer holds them "
                                                  "(split off since it was added: the lock and the departure "
                                                  "refuse it); and lap_or_seat for a person whose seat no longer "
                                                  "fits the date of birth their case has now on the day of travel "
                                                  "(a child corrected to under 2 with a seat, or to 2 or more on "
                                                  "a lap).")


class MovementSummary(BaseModel):
    movement_id: str
    office: str
    kind: str
    status: MovementStatus
    flight_number: str
    carrier: str
    departure_airport: str
    arrival_airport: str
    departure_at: datetime
    departure_time_zone: str
    seat_capacity: int
    seats_taken: int
    people: int
    cases: int
    version: int
    updated_at: datetime


class MovementList(BaseModel):
    items: list[MovementSummary]
    next_offset: int | None = None


class AddCaseBody(BaseModel):
    """One case (``case_id``) or several at once (``case_ids``): all join, or none."""

    model_config = ConfigDict(extra="forbid")

    case_id: CaseId | None = None
    case_ids: list[CaseId] | None = Field(default=None, min_length=1, max_length=500)

    @model_validator(mode="after")
    def _one_of(self) -> AddCaseBody:
        if (self.case_id is None) == (self.case_ids is None):
            raise ValueError("give either case_id or case_ids")
        return self

    def ids(self) -> list[str]:
        return [self.case_id] if self.case_id is not None else list(self.case_ids or [])


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class NeedsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    needs: list[SpecialNeed] = Field(max_length=4, description="The person's needs on board as the movement officer "
                                                              "lists them (replaces the officer's list; the needs "
                                                              "the case knows stay, each listed once).")


def closed_case_problems(state: MovementState, closed: Mapping[str, str | None]) -> list[Problem]:
    """The lock's ``case_closed`` rule, for the movement's ``rule_check`` before the lock refuses
    it: each listed case that is closed now (``closed``: case id -> its closure reason, the read
    model's ``cases``), named with why, so the officer takes it off."""
    return [Problem(case_id=e.case_id, rule="case_closed",
                    message=f"case {e.case_id} is closed" + (f" ({closed[e.case_id]})" if closed[e.case_id] else "")
                            + ": take it off the manifest")
            for e in state.manifest if e.case_id in closed]


async def closed_cases(db: Db, case_ids: list[str]) -> dict[str, str | None]:
    """Case id -> closure reason of each of ``case_ids`` the read model has closed."""
    if not case_ids:
        return {}
    rows = await db.fetch("SELECT case_id, closure_reason FROM cases WHERE case_id = ANY($1::text[]) "
                          "AND status = 'closed'", case_ids)
    return {r["case_id"]: r["closure_reason"] for r in rows}


def view(state: MovementState, identities: Mapping[str, Mapping[str, Any]] | None = None,
         closed: Mapping[str, str | None] | None = None) -> MovementView:
    """The movement as the API and the UI show it; its people's names go in each of their
    cases' audit trails (``record_cases_shown``).  ``identities``: who each person is now and
    which case holds them (``readmodel.current_members``, ``shown``): the manifest shows them
    as the exports do, and ``rule_check`` names who left their case and whose seat no longer
    fits their date of birth.  ``closed``: the listed cases closed since they joined, with their
    closure reasons (``closed_cases``), named in ``rule_check`` (``case_closed``)."""
    record_cases_shown([e.case_id for e in state.manifest] + [r.case_id for r in state.removed], state.movement_id)
    results: list[FanOutResult | None]
    if state.pending_releases:
        step, results = "release", [r.release for r in state.removed if r.releasing]
    elif state.arrived_on is not None:
        step, results = "arrival", [e.arrival for e in state.manifest if e.case_id not in state.pending_arrivals
                                    or e.arrival is not None]
    elif state.status == MovementStatus.LOCKED and state.delays and not state.pending_bookings:
        step, results = "delay", [e.delay for e in state.manifest] + [r.delay for r in state.removed]
    elif state.status == MovementStatus.LOCKED:
        step, results = "booking", [e.booking for e in state.manifest]
    elif state.status in (MovementStatus.DEPARTED, MovementStatus.CANCELLED):
        step, results = "departure", [e.departure for e in state.manifest]
    else:
        step, results = None, []
    pending = (len(state.pending_bookings) + len(state.pending_departures) + len(state.pending_releases)
               + len(state.pending_delays) + len(state.pending_arrivals))
    done = [r for r in results if r is not None]
    identities = identities or {}
    now = state.model_copy(update={"manifest": current_manifest(state, identities)}) if identities else state
    live = state.status in (MovementStatus.OPEN, MovementStatus.LOCKED)
    return MovementView(
        movement_id=state.movement_id, status=state.status, details=state.details, people=state.people,
        seats_taken=state.seats_taken, seats_left=state.details.seat_capacity - state.seats_taken,
        manifest=now.manifest, removed=state.removed,
        fan_out=FanOutProgress(step=step if pending or done else None, pending=pending,
                               applied=sum(r.applied for r in done), not_applied=sum(not r.applied for r in done)),
        version=state.version, created_at=state.created_at, created_by=state.created_by, updated_at=state.updated_at,
        locked_at=state.locked_at, departed_at=state.departed_at, cancelled_at=state.cancelled_at,
        cancellation_reason=state.cancellation_reason, delays=state.delays,
        previous_departure_at=state.previous_departure_at, delay_reason=state.delay_reason,
        delay_problems=state.delay_problems, arrived_on=state.arrived_on, arrival_place=state.arrival_place,
        rule_check=[p for e in now.manifest for p in needs_problems(e.case_id, e.members, state.details)]
        + (closed_case_problems(state, closed or {}) + listed_twice_problems(now) + seat_problems(now) if live else [])
        + (left_case_problems(now, {m: str(r["case_id"]) for m, r in identities.items() if r.get("case_id")})
           + lap_or_seat_problems(now, locked=state.status == MovementStatus.LOCKED) if live else []))


async def shown(db: Db, state: MovementState) -> MovementView:
    """``view`` with each person as their case has them now: the read of the exports
    (``readmodel.current_members``)."""
    live = state.status in (MovementStatus.OPEN, MovementStatus.LOCKED)
    return view(state, await readmodel.current_members(db, [p.member_id for e in state.manifest for p in e.members]),
                await closed_cases(db, [e.case_id for e in state.manifest]) if live else None)


def _require_role(principal: Principal) -> None:
    policy.require_role(principal, MOVEMENT_ROLES, "work on movements")


DEPARTURE_ZONE_RULE = (
    "departure_time_zone must be on the departure airport's clock: its UTC offset at the departure instant is "
    "the offset of the airport's own time zone (from the IATA airports table) then, or the creation is refused "
    "(422 at departure_time_zone, naming the airport's zone); an alias such as Asia/Istanbul is fine.  "
    "departure_at is written with that zone's offset at that instant (e.g. +03:00 in Europe/Istanbul), or in "
    "UTC (Z); another offset is refused (422 at departure_at, naming the offset expected).  An airport without "
    "a zone in the table is not judged against it.")
DELAY_OFFSET_RULE = (
    "The new departure_at is written with the movement's departure_time_zone's UTC offset at that instant "
    "(e.g. +03:00 in Europe/Istanbul), or in UTC (Z); another offset is refused (422 at departure_at, naming "
    "the offset expected).")
ARRIVAL_DAY_RULE = (
    "arrived_on is not after today in the movement's office's time zone (each case refuses an arrival in its "
    "future, judged so), nor before the day the departure instant falls on at the arrival airport; either is "
    "refused (422 at arrived_on) before anything is recorded.")


def arrival_future_refusal(body: c.ConfirmArrival, office: str, now: datetime | None = None) -> ApiError | None:
    """A 422 for an ``arrived_on`` the cases would refuse as in the future, or None.  Judged as
    each case's ``confirm_arrival`` form judges it (``validate_form``, its ``arrived_on`` a
    ``HappenedOn``): against today in the office's zone.  Not ``edge_today``'s later of UTC and
    the office's day, which may let through a day the cases refuse: a refusal here can be sent
    again, a movement's arrival once recorded cannot be corrected."""
    zone = get_settings().time_zone_of(office)
    here = local_time(now or datetime.now(UTC), zone)
    today = here.date()
    form = {"arrived_on": body.arrived_on.isoformat(), "place": body.place,
            "receiving_partner": body.receiving_partner}
    try:
        validate_form("confirm_arrival", form, today=today, now=here)
    except CommandRejected as exc:
        said = "; ".join(str(d.get("reason")) for d in exc.details
                         if isinstance(d, dict) and d.get("field") == "arrived_on")
        if not said:
            return None  # another field: the command's own model and the cases judge it
        if body.arrived_on > today:
            reason = (f"{body.arrived_on.isoformat()} is after today in the office {office}'s time zone {zone} "
                      f"({today.isoformat()}): every case of the movement would refuse it ({said}); if the flight "
                      f"landed on that day at the arrival airport, confirm it once it is {body.arrived_on.isoformat()} "
                      f"in {zone}")
            allowed = f"{today.isoformat()} or earlier (today in the office's zone {zone})"
        else:
            reason, allowed = f"every case of the movement would refuse it: {said}", "a day each case accepts"
        return ApiError(422, "invalid_command", f"arrived_on: {reason}", [{
            "field": "arrived_on", "reason": reason, "allowed": allowed}])
    return None


async def _visible(db: Db, principal: Principal, movement_id: str) -> MovementState:
    _require_role(principal)
    found = await store.get_movement(db, movement_id)
    if found is None or found[0] not in policy.visible_offices(principal):
        raise ApiError(404, "movement_not_found", f"no movement {movement_id}")
    return found[1]


_COMMAND_ERRORS: dict[int | str, dict[str, Any]] = {404: ERROR_RESPONSES[404], 409: ERROR_RESPONSES[409],
                                                    422: ERROR_RESPONSES[422]}


@router.post("", response_model=MovementView, status_code=201, responses={422: ERROR_RESPONSES[422]},
             summary="Create a movement (a charter, a block of seats, a commercial group booking); every airport "
                     "a known IATA code, the arrival's country derived from it (arrival_country)",
             description=DEPARTURE_ZONE_RULE)
async def create_movement(details: MovementDetails, principal: CurrentPrincipal, db: Db,
                          commands: Commands) -> MovementView:
    _require_role(principal)
    if details.office not in principal.offices:
        raise ApiError(403, "forbidden", f"you may create movements only for your offices ({', '.join(principal.offices)})",
                       [{"field": "body.office", "reason": "not one of your offices", "allowed": principal.offices}])
    # Every airport known, and the country the flight lands in (the manifest's destination
    # rule), from the IATA airports table: looked up here, not in the workflow (file I/O).
    details = await with_arrival_country(details)
    # The departure's zone is the departure airport's, and departure_at is written on its clock:
    # the day-of-travel rules (visa, clearance) are judged in it (api.airports, the IATA table).
    if (refused := await departure_zone_refusal(details.departure_at, details.departure_time_zone,
                                                details.departure_airport)) is not None:
        raise refused
    if (refused := local_offset_refusal(details.departure_at, details.departure_time_zone)) is not None:
        raise refused
    movement_id = new_movement_id(principal.actor)
    async with lent_back(db):  # not held while the workflow is awaited (api.deps)
        await commands.create(movement_id, details, principal.actor)
    return await shown(db, await _visible(db, principal, movement_id))


@router.get("", response_model=MovementList, summary="Movements of your offices, latest departure first")
async def list_movements(
    principal: CurrentPrincipal, db: Db,
    status: MovementStatus | None = None,
    departs_from: Annotated[AwareDatetime | None, Query(description="Departing at or after this time.")] = None,
    departs_until: Annotated[AwareDatetime | None, Query(description="Departing before this time.")] = None,
    case_id: Annotated[str | None, Query(max_length=64, description="Movements whose manifest holds this case.")] = None,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> MovementList:
    _require_role(principal)
    rows = await store.list_movements(db, offices=policy.visible_offices(principal),
                                      status=status.value if status else None, departs_from=departs_from,
                                      departs_until=departs_until, case_id=case_id, limit=limit + 1, offset=offset)
    return MovementList(items=[MovementSummary(**r) for r in rows[:limit]],
                        next_offset=offset + limit if len(rows) > limit else None)


@router.get("/{movement_id}", response_model=MovementView, responses={404: ERROR_RESPONSES[404]},
            summary="A movement with its manifest and the progress of its fan-out")
async def get_movement(movement_id: MovementId, principal: CurrentPrincipal, db: Db) -> MovementView:
    return await shown(db, await _visible(db, principal, movement_id))


async def _send(db: Db, principal: Principal, commands: MovementCommands, movement_id: str,
                command: Any) -> MovementView:
    await _visible(db, principal, movement_id)
    async with lent_back(db):
        await commands.send(movement_id, command, principal.actor)
    return await shown(db, await _visible(db, principal, movement_id))


@router.post("/{movement_id}/cases", response_model=MovementView, responses=_COMMAND_ERRORS,
             summary="Add whole cases (every member travels together; one, or several at once) to the manifest; "
                     "the manifest rules are checked and each blocking case, member and rule named (destination: "
                     "a case travels only to the country its flight lands in, arrival_country: its resettlement "
                     "or family reunification destination, AVRR's country of return)")
async def add_case(movement_id: MovementId, body: AddCaseBody, principal: CurrentPrincipal, db: Db,
                   commands: Commands) -> MovementView:
    return await _send(db, principal, commands, movement_id, c.AddCase(case_ids=body.ids()))


@router.post("/{movement_id}/cases/{case_id}/remove", response_model=MovementView, responses=_COMMAND_ERRORS,
             summary="Take a case off the manifest, with the reason (off a locked one: its booking on the flight "
                     "is dropped on the case, which goes back to rebooking)")
async def remove_case(movement_id: MovementId, case_id: CaseId, body: ReasonBody, principal: CurrentPrincipal,
                      db: Db, commands: Commands) -> MovementView:
    return await _send(db, principal, commands, movement_id, c.RemoveCase(case_id=case_id, reason=body.reason))


@router.post("/{movement_id}/lock", response_model=MovementView, responses=_COMMAND_ERRORS,
             summary="Lock the manifest: every case checked again, then booked on the movement's flight")
async def lock_manifest(movement_id: MovementId, principal: CurrentPrincipal, db: Db,
                        commands: Commands) -> MovementView:
    return await _send(db, principal, commands, movement_id, c.LockManifest())


@router.post("/{movement_id}/departure", response_model=MovementView, responses=_COMMAND_ERRORS,
             summary="Confirm the departure: recorded on every case of the manifest, exactly once; cases that "
                     "did not board go back to rebooking with the reason.  Repeating it changes nothing")
async def confirm_departure(movement_id: MovementId, body: c.ConfirmDeparture, principal: CurrentPrincipal, db: Db,
                            commands: Commands) -> MovementView:
    state = await _visible(db, principal, movement_id)
    if state.status == MovementStatus.DEPARTED:  # its workflow may have finished: judged on its last state
        return await _repeated(db, state, body, principal, commands)
    return await _send(db, principal, commands, movement_id, body)


@router.post("/{movement_id}/cancel", response_model=MovementView, responses=_COMMAND_ERRORS,
             summary="Cancel the movement: booked cases go back to rebooking (the flight postponed) with the reason")
async def cancel_movement(movement_id: MovementId, body: ReasonBody, principal: CurrentPrincipal, db: Db,
                          commands: Commands) -> MovementView:
    state = await _visible(db, principal, movement_id)
    command = c.CancelMovement(reason=body.reason)
    if state.status == MovementStatus.CANCELLED:
        return await _repeated(db, state, command, principal, commands)
    return await _send(db, principal, commands, movement_id, command)


async def _repeated(db: Db, state: MovementState, command: Any, principal: Principal,
                    commands: MovementCommands) -> MovementView:
    """A departure / cancellation sent to a movement that has it already, whose workflow may
    have finished: the movement's own rules judge it on the recorded state (pure, nothing is
    sent): the same one again changes nothing; one that says something else is refused."""
    try:
        decide(state, command, datetime.now(UTC), principal.actor)
    except MovementRejected as exc:
        raise commands.refusal(exc.code, exc.message, exc.details) from None
    return await shown(db, state)


@router.post("/{movement_id}/boarding", response_model=MovementView, responses=_COMMAND_ERRORS,
             summary="Record the check-in / boarding sheet (per person: boarded, or not with the reason) on the "
                     "locked manifest; the same sheet again changes nothing.  A person who did not board takes the "
                     "whole case back to rebooking at the departure (a family travels together)")
async def record_boarding(movement_id: MovementId, body: c.RecordBoarding, principal: CurrentPrincipal, db: Db,
                          commands: Commands) -> MovementView:
    return await _send(db, principal, commands, movement_id, body)


@router.post("/{movement_id}/cases/{case_id}/members/{member_id}/needs", response_model=MovementView,
             responses=_COMMAND_ERRORS,
             summary="List a person's special needs on board (wheelchair, stretcher, medical escort, unaccompanied "
                     "minor); matched to the escorts in rule_check and at lock")
async def record_needs(movement_id: MovementId, case_id: CaseId, member_id: CaseId, body: NeedsBody,
                       principal: CurrentPrincipal, db: Db, commands: Commands) -> MovementView:
    return await _send(db, principal, commands, movement_id,
                       c.RecordNeeds(case_id=case_id, member_id=member_id, needs=body.needs))


@router.post("/{movement_id}/delay", response_model=MovementView, responses=_COMMAND_ERRORS,
             summary="New times for the flight: every booked case moved to them (its fit-to-travel checks re-armed "
                     "to the new departure), exactly once; a case whose documents do not reach the new day goes "
                     "back to rebooking, each member named in delay_problems",
             description=DELAY_OFFSET_RULE)
async def delay_movement(movement_id: MovementId, body: c.DelayMovement, principal: CurrentPrincipal, db: Db,
                         commands: Commands) -> MovementView:
    state = await _visible(db, principal, movement_id)
    if (refused := local_offset_refusal(body.departure_at, state.details.departure_time_zone)) is not None:
        raise refused
    return await _send(db, principal, commands, movement_id, body)


@router.post("/{movement_id}/arrival", response_model=MovementView, responses=_COMMAND_ERRORS,
             summary="Confirm the arrival: recorded on every case that departed on the movement, exactly once; "
                     "repeating it changes nothing",
             description=ARRIVAL_DAY_RULE)
async def confirm_arrival(movement_id: MovementId, body: c.ConfirmArrival, principal: CurrentPrincipal, db: Db,
                          commands: Commands) -> MovementView:
    state = await _visible(db, principal, movement_id)
    if state.status != MovementStatus.DEPARTED:
        raise ApiError(409, "movement_not_departed", f"movement {movement_id} is {state.status.value}: an arrival "
                                                     "is confirmed after the departure")
    if state.arrived_on is not None and (state.arrived_on, state.arrival_place, state.receiving_partner) == (
            body.arrived_on, body.place, body.receiving_partner):
        return await shown(db, state)  # confirmed already (its workflow may have finished): nothing changes
    # The day the flight left in the arrival airport's own zone (the IATA table's, read here: the
    # workflow bounds it by UTC-12 only, the earliest calendar on Earth, as it reads no table).
    if state.arrived_on is None and (refused := await arrival_day_refusal(
            body.arrived_on, state.departed_at, state.details.arrival_airport)) is not None:
        raise refused
    # Not after today in the movement's office: each case judges its arrival form so (the
    # workflow's own bound, tomorrow in UTC, would record a day every case then refuses).
    if state.arrived_on is None and (refused := arrival_future_refusal(body, state.details.office)) is not None:
        raise refused
    async with lent_back(db):
        await commands.confirm_arrival(movement_id, body, principal.actor)
    return await shown(db, await _visible(db, principal, movement_id))


# The export (CSV and PDF, the same rows: domain/movements/export.py): what an airline and a
# receiving country need, no health details (a lap infant and the seat needs are seating facts;
# clearances, treatments and follow-up never appear).
MANIFEST_COLUMNS = COLUMNS


def _cell(value: object) -> str:
    """A spreadsheet opening the file must not run a name as a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def _export(db: Db, request: Request, principal: Principal, movement_id: str,
                  name: str) -> tuple[MovementState, list[ManifestRow]]:
    """The manifest's rows; each export of a case's personal data goes in that case's audit
    trail (``record_cases_shown``: the middleware writes those rows with the request's own).

    Which source wins: each person's name, date of birth, sex and nationality come from their
    case as it is now (the read model's ``case_members``), not from the manifest's copy, which
    was taken when the case joined and refreshed at the lock.  A correction the caseworker
    records afterwards (the passport's spelling) reaches the airline with the next export; the
    manifest's copy is the fallback for a person the read model no longer has.  The document
    numbers are read from the cases' events, the split-off cases' origins included
    (``store.movements.travel_documents``)."""
    state = await _visible(db, principal, movement_id)
    case_ids = [e.case_id for e in state.manifest]
    member_ids = [p.member_id for e in state.manifest for p in e.members]
    rows = manifest_rows(state, await store.travel_documents(db, case_ids),
                         await readmodel.current_members(db, member_ids))
    record_cases_shown(case_ids, movement_id)
    return state, rows


@router.get("/{movement_id}/manifest.csv", response_class=Response, responses={
    200: {"content": {"text/csv": {}}, "description": "One row per person, then the escorts."},
    404: ERROR_RESPONSES[404]},
    summary="The manifest for the airline and the receiving country (CSV; each export is audited per case)")
async def export_manifest(movement_id: MovementId, request: Request, principal: CurrentPrincipal, db: Db) -> Response:
    state, rows = await _export(db, request, principal, movement_id, "manifest.csv")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(MANIFEST_COLUMNS)
    for row in rows:
        writer.writerow([_cell(v) for v in row.cells()])
    filename = f"manifest-{movement_id}-{state.details.flight_number}.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/{movement_id}/manifest.pdf", response_class=Response, responses={
    200: {"content": {"application/pdf": {}}, "description": "The CSV's rows, printable (A4 landscape)."},
    404: ERROR_RESPONSES[404]},
    summary="The manifest as a printable PDF (the CSV's content; each export is audited per case)")
async def export_manifest_pdf(movement_id: MovementId, request: Request, principal: CurrentPrincipal,
                              db: Db) -> Response:
    state, rows = await _export(db, request, principal, movement_id, "manifest.pdf")
    printed_at = datetime.now(UTC).replace(microsecond=0).isoformat()
    # fpdf2 lays the pages out in Python: off the event loop for a long manifest.
    body = await asyncio.to_thread(manifest_pdf, state, rows, printed_by=principal.username, printed_at=printed_at)
    filename = f"manifest-{movement_id}-{state.details.flight_number}.pdf"
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
