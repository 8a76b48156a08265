"""Orientation as group sessions (issue 15): schedule, list, read, propose people, add /
remove participants, record the whole session's attendance, cancel.

Who: caseworkers and supervisors of the session's office.  Orientation attendance was always
a caseworker's task (``record_orientation``), so the orientation officer is a caseworker
permission, not a new role: any caseworker of the office may run its sessions.  Another
office's session is reported as not found; other roles get 403.

Commands go to the session's ``OrientationSession`` workflow (``api.orientation_sessions``);
reads come from its read model (migration 0038), written before a command answers.  After
the attendance is recorded, each attendee's orientation reaches their case in the workflow:
``fan_out.pending`` says how many people it has still to reach.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from api import policy, readmodel
from api.airports import local_offset_refusal
from api.auth import CurrentPrincipal, Principal
from api.deps import Db, lent_back
from api.errors import ERROR_RESPONSES, ApiError
from api.orientation_sessions import SessionCommands, new_session_id
from api.request_context import record_cases_shown
from domain.model import Country, Role
from domain.offices import office_time_zone
from domain.sessions import commands as c
from domain.sessions.model import (
    LanguageCode,
    Participant,
    Reason,
    RemovedParticipant,
    SessionDetails,
    SessionDetailsIn,
    SessionState,
    SessionStatus,
)
from store import orientation_sessions as store

SESSION_ROLES = {Role.CASEWORKER, Role.SUPERVISOR}
SessionId = Annotated[str, StringConstraints(pattern=r"^OS-[0-9A-F]{16}$")]
MemberId = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]

router = APIRouter(prefix="/api/v1/orientation-sessions", tags=["orientation sessions"],
                   responses={401: ERROR_RESPONSES[401], 403: ERROR_RESPONSES[403]})


def _commands(request: Request) -> SessionCommands:
    app = request.app
    if getattr(app.state, "session_commands", None) is None:
        settings = app.state.settings
        app.state.session_commands = SessionCommands(
            app.state.temporal, settings.temporal_task_queue, timeout=timedelta(seconds=settings.command_timeout_seconds),
            nothing_created_grace_seconds=settings.nothing_created_grace_seconds)
    return app.state.session_commands


Commands = Annotated[SessionCommands, Depends(_commands)]


class FanOutProgress(BaseModel):
    pending: int = Field(description="Attendees whose orientation is still to be recorded on their case.")
    applied: int
    not_applied: int = Field(description="Attendees whose case could not take it (each participant's result says why).")


class ParticipantView(Participant):
    """A participant as the session shows them: the person as their case has them now
    (``current_view``): ``case_id``, ``full_name`` and ``date_of_birth`` are the case's."""

    name_on_invitation: str | None = Field(default=None, description=(
        "The name the session recorded when the person was invited, when their case has corrected it since "
        "(full_name is the case's now); None: the same."))


class SessionView(BaseModel):
    session_id: str
    status: SessionStatus
    details: SessionDetails
    session_date: date = Field(description="The day of the session in its time zone.")
    participants: list[ParticipantView] = Field(description=(
        "Re-invited people first; each under the case that holds them now, with the name and date of birth it "
        "has for them (a split or a correction since the invitation: invited_case_id, name_on_invitation)."))
    removed: list[RemovedParticipant]
    places_left: int
    attended: int
    absent: int
    fan_out: FanOutProgress
    version: int
    created_at: datetime
    created_by: str
    updated_at: datetime
    recorded_at: datetime | None
    cancelled_at: datetime | None
    cancellation_reason: str | None


class SessionSummary(BaseModel):
    session_id: str
    office: str
    status: SessionStatus
    starts_at: datetime
    time_zone: str
    mode: str
    language: str
    destination_country: str
    capacity: int
    facilitator: str
    participants: int
    attended: int
    absent: int
    version: int
    updated_at: datetime


class SessionList(BaseModel):
    items: list[SessionSummary]
    next_offset: int | None = None


class Proposal(BaseModel):
    case_id: str
    member_id: str
    full_name: str
    date_of_birth: date
    reinvited: bool = Field(description="Absent from an earlier session: proposed first.")
    waiting_since: datetime = Field(description="When the member's orientation task opened.")


class ProposalList(BaseModel):
    items: list[Proposal]
    places_left: int


class ParticipantsBody(BaseModel):
    """People to add: each a member of a case, or (``member_id`` absent) every member of the
    case whose orientation is open.  All join, or none and each blocking person is named."""

    model_config = ConfigDict(extra="forbid")
    participants: list[c.Invitee] = Field(min_length=1, max_length=500)


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


class AttendanceBody(BaseModel):
    """The whole session's attendance in one form: every participant once, attended or absent with the reason."""

    model_config = ConfigDict(extra="forbid")
    attendance: list[c.Attendance] = Field(min_length=1, max_length=500, description=(
        "Every participant once. A person whose case has closed since the invitation (withdrawn, ...) "
        "cannot be recorded as attended (409 session_rules, rule case_closed, naming them): record them "
        "absent, or take them off the session first."))


def current_view(p: Participant, now: dict[str, Any] | None) -> ParticipantView:
    """``p`` as their case has them now.

    Which source wins: the case's read model (``case_members``, by member id) for the case that
    holds the person, their name and their date of birth; the session's copy, taken when they
    were invited, only where the read model has no row for them.  The case is where a
    caseworker corrects a name to match the passport (``MemberDataCorrected``) and where a
    family split moves a person (member ids stay with the person), and the session never hears
    of either: its copy is a snapshot, and the name people sign against on the sheet must be the
    one their papers carry.  What the session recorded stays in the view: ``invited_case_id``
    (the case they were invited under) and ``name_on_invitation``."""
    shown = ParticipantView.model_validate(p.model_dump())
    if now is None:
        return shown
    if now["case_id"] != p.case_id:
        shown.follow(now["case_id"])
    if now["full_name"] != p.full_name:
        shown.name_on_invitation = p.full_name
    shown.full_name, shown.date_of_birth = now["full_name"], now["date_of_birth"]
    return shown


def view(state: SessionState, current: dict[str, dict[str, Any]] | None = None) -> SessionView:
    """The session as the API and the UI show it, each person as their case has them now
    (``current``: ``readmodel.current_members``; ``current_view``); their names go in each of their
    cases' audit trails (``record_cases_shown``)."""
    current = current or {}
    participants = [current_view(p, current.get(p.member_id)) for p in state.participants]
    record_cases_shown(list(dict.fromkeys([p.case_id for p in participants]
                                          + [p.invited_case_id for p in participants if p.invited_case_id]
                                          + [r.case_id for r in state.removed])), state.session_id)
    done = [p.result for p in state.participants if p.result is not None]
    return SessionView(
        session_id=state.session_id, status=state.status, details=state.details,
        session_date=state.details.session_date(), participants=participants, removed=state.removed,
        places_left=state.seats_left, attended=state.attended, absent=state.absent,
        fan_out=FanOutProgress(pending=len(state.pending_fan_out), applied=sum(r.applied for r in done),
                               not_applied=sum(not r.applied for r in done)),
        version=state.version, created_at=state.created_at, created_by=state.created_by,
        updated_at=state.updated_at, recorded_at=state.recorded_at, cancelled_at=state.cancelled_at,
        cancellation_reason=state.cancellation_reason)


def _require_role(principal: Principal) -> None:
    policy.require_role(principal, SESSION_ROLES, "run orientation sessions")


async def _view(db: Db, state: SessionState) -> SessionView:
    return view(state, await readmodel.current_members(db, [p.member_id for p in state.participants]))


async def _visible(db: Db, principal: Principal, session_id: str) -> SessionState:
    _require_role(principal)
    found = await store.get_session(db, session_id)
    if found is None or found[0] not in policy.visible_offices(principal):
        raise ApiError(404, "session_not_found", f"no orientation session {session_id}")
    return found[1]


_COMMAND_ERRORS: dict[int | str, dict[str, Any]] = {404: ERROR_RESPONSES[404], 409: ERROR_RESPONSES[409],
                                                    422: ERROR_RESPONSES[422]}


@router.post("", response_model=SessionView, status_code=201,
             responses={409: ERROR_RESPONSES[409], 422: ERROR_RESPONSES[422]},
             summary="Schedule an orientation session (date and time in the office's time zone, place or online, "
                     "language, destination, capacity, facilitator)")
async def schedule_session(body: SessionDetailsIn, request: Request, principal: CurrentPrincipal, db: Db,
                           commands: Commands) -> SessionView:
    _require_role(principal)
    details = body.as_details()  # the facilitator's name checked as typed; the workflow takes SessionDetails
    if details.office not in principal.offices:
        raise ApiError(403, "forbidden", f"you may schedule sessions only for your offices ({', '.join(principal.offices)})",
                       [{"field": "body.office", "reason": "not one of your offices", "allowed": principal.offices}])
    if details.time_zone is None:
        settings = request.app.state.settings
        details = details.model_copy(update={"time_zone": office_time_zone(
            details.office, settings.office_time_zones, settings.default_time_zone)})
    # A start written with another offset than its zone's is hours off what was meant (explore9:
    # 10:00+09:00 in Europe/Istanbul was shown as 04:00 Istanbul time).
    assert details.time_zone is not None
    refused = local_offset_refusal(details.starts_at, details.time_zone, "body.starts_at",
                                       meaning="a session starts at the local time where it is held, written with its "
                                               "time zone's offset")
    if refused is not None:
        raise refused
    session_id = new_session_id(principal.actor)
    async with lent_back(db):  # not held while the workflow is awaited (api.deps)
        await commands.schedule(session_id, details, principal.actor)
    return await _view(db, await _visible(db, principal, session_id))


@router.get("", response_model=SessionList, summary="Orientation sessions of your offices, latest first")
async def list_sessions(
    principal: CurrentPrincipal, db: Db,
    status: SessionStatus | None = None,
    language: Annotated[LanguageCode | None, Query()] = None,
    destination_country: Annotated[Country | None, Query()] = None,
    starts_from: Annotated[AwareDatetime | None, Query(description="Starting at or after this time.")] = None,
    starts_until: Annotated[AwareDatetime | None, Query(description="Starting before this time.")] = None,
    case_id: Annotated[str | None, Query(max_length=64, description="Sessions with a participant of this case.")] = None,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SessionList:
    _require_role(principal)
    rows = await store.list_sessions(db, offices=policy.visible_offices(principal),
                                     status=status.value if status else None, language=language,
                                     destination_country=destination_country, starts_from=starts_from,
                                     starts_until=starts_until, case_id=case_id, limit=limit + 1, offset=offset)
    return SessionList(items=[SessionSummary(**r) for r in rows[:limit]],
                       next_offset=offset + limit if len(rows) > limit else None)


@router.get("/{session_id}", response_model=SessionView, responses={404: ERROR_RESPONSES[404]},
            summary="A session with its participants, their attendance and what their cases answered")
async def get_session(session_id: SessionId, principal: CurrentPrincipal, db: Db) -> SessionView:
    return await _view(db, await _visible(db, principal, session_id))


@router.get("/{session_id}/proposals", response_model=ProposalList, responses={404: ERROR_RESPONSES[404]},
            summary="People the session could take: members of the office's cases whose orientation is open, going "
                    "to the session's destination, in its language; re-invited absentees first; up to the places left")
async def propose(session_id: SessionId, principal: CurrentPrincipal, db: Db) -> ProposalList:
    state = await _visible(db, principal, session_id)
    if state.status != SessionStatus.SCHEDULED:
        return ProposalList(items=[], places_left=0)
    rows = await store.proposals(db, state, max(state.seats_left, 0))
    record_cases_shown(list(dict.fromkeys(r["case_id"] for r in rows)), f"proposed for {session_id}")
    return ProposalList(items=[Proposal(case_id=r["case_id"], member_id=r["member_id"], full_name=r["full_name"],
                                        date_of_birth=r["date_of_birth"], reinvited=r["reinvited"],
                                        waiting_since=r["opened_at"]) for r in rows],
                        places_left=state.seats_left)


async def _send(db: Db, principal: Principal, commands: SessionCommands, session_id: str, command: Any) -> SessionView:
    await _visible(db, principal, session_id)
    async with lent_back(db):
        await commands.send(session_id, command, principal.actor)
    return await _view(db, await _visible(db, principal, session_id))


@router.post("/{session_id}/participants", response_model=SessionView, responses=_COMMAND_ERRORS,
             summary="Add people (members, or whole cases' members whose orientation is open): all join or none, "
                     "each blocking person and rule named (not in orientation, orientation not open, another office, "
                     "on another session, capacity)")
async def add_participants(session_id: SessionId, body: ParticipantsBody, principal: CurrentPrincipal, db: Db,
                           commands: Commands) -> SessionView:
    return await _send(db, principal, commands, session_id, c.AddParticipants(invitees=body.participants))


@router.post("/{session_id}/participants/{member_id}/remove", response_model=SessionView, responses=_COMMAND_ERRORS,
             summary="Take a person off the session, with the reason")
async def remove_participant(session_id: SessionId, member_id: MemberId, body: ReasonBody,
                             principal: CurrentPrincipal, db: Db, commands: Commands) -> SessionView:
    return await _send(db, principal, commands, session_id,
                       c.RemoveParticipant(member_id=member_id, reason=body.reason))


@router.post("/{session_id}/attendance", response_model=SessionView, responses=_COMMAND_ERRORS,
             summary="Record the whole session's attendance (every participant: attended, or absent with the "
                     "reason).  Each attendee's orientation is then recorded on their case, exactly once; absentees' "
                     "cases keep waiting and they are proposed first for the next matching session.  The same "
                     "recording again changes nothing")
async def record_attendance(session_id: SessionId, body: AttendanceBody, principal: CurrentPrincipal, db: Db,
                            commands: Commands) -> SessionView:
    state = await _visible(db, principal, session_id)
    command = c.RecordAttendance(attendance=body.attendance)
    if state.status == SessionStatus.HELD:
        # Recorded already (the workflow may have finished): the same recording changes nothing.
        recorded = {p.member_id: (p.attendance == "attended", p.absence_reason) for p in state.participants}
        if recorded == {a.member_id: (a.attended, a.absence_reason) for a in body.attendance}:
            return await _view(db, state)
        raise ApiError(409, "attendance_recorded", f"the attendance of session {session_id} is recorded already, "
                                                   "differently; it cannot be changed")
    return await _send(db, principal, commands, session_id, command)


@router.post("/{session_id}/cancel", response_model=SessionView, responses=_COMMAND_ERRORS,
             summary="Cancel a scheduled session, with the reason (its people are free for another session)")
async def cancel_session(session_id: SessionId, body: ReasonBody, principal: CurrentPrincipal, db: Db,
                         commands: Commands) -> SessionView:
    state = await _visible(db, principal, session_id)
    if state.status == SessionStatus.CANCELLED:
        return await _view(db, state)
    return await _send(db, principal, commands, session_id, c.CancelSession(reason=body.reason))
