"""decide: a command and the session's state (and, for commands that need them, the facts of
the cases concerned, from their workflows) -> the events that follow, or a rejection naming
each blocking person and rule.  evolve / fold: events -> state.

Pure: ``now`` and the facts are given.  A command that changes nothing (the same attendance
recorded again, a participant removed twice, the same people added again) decides no events:
that is what makes retries and a repeated recording harmless.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from domain.model import Actor, CaseStatus
from domain.offices import DEFAULT_TIME_ZONE, time_zone
from domain.sessions import commands as c
from domain.sessions import model as m
from domain.sessions.rules import invitee_problems


class SessionRejected(Exception):
    """Why a session command was refused: a code of ``SESSION_CODES``, a message, details."""

    def __init__(self, code: str, message: str, problems: list[m.Problem] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = [p.model_dump(mode="json") for p in problems or []]


# Session rejection code -> HTTP status.
SESSION_CODES: dict[str, int] = {
    "session_not_found": 404,
    "session_exists": 409,
    "session_not_open": 409,  # attendance recorded or cancelled: no more changes of participants
    "session_not_started": 409,
    "attendance_recorded": 409,  # recorded already, differently
    "capacity": 409,
    "session_rules": 409,  # details: one entry per blocking person and rule
    "case_not_found": 404,
    "participant_not_found": 404,
    "invalid_command": 422,
    "unstorable_input": 422,
}


def _refuse(problems: list[m.Problem], what: str) -> SessionRejected:
    only = {p.rule for p in problems}
    # A case that does not exist (or is another office's: the same answer) is a 404 of its own.
    code = "case_not_found" if only == {"case_not_found"} else "session_rules"
    names = "; ".join(p.message for p in problems[:20])
    more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
    return SessionRejected(code, f"{what}: {names}{more}", problems)


Flag = bool | Callable[[], bool]


def _asked(flag: Flag) -> Callable[[], bool]:
    """A rule's flag asked at most once, and only when the rule would decide otherwise."""
    answer: list[bool] = []

    def ask() -> bool:
        if not answer:
            answer.append(flag() if callable(flag) else flag)
        return answer[0]
    return ask


def decide(state: m.SessionState | None, command: Any, now: datetime, actor: Actor,
           facts: list[m.SessionCaseFacts] | None = None, *, admission: bool = False,
           closed_cases_refused: Flag = True, follow_splits: Flag = True) -> list[Any]:
    """``admission``: the Update validator's decision, which also applies the admission rules.
    ``closed_cases_refused``: an attendance that records as attended a person whose case has
    closed since the invitation is refused, naming them (``_closed_attendees``); a callable is
    asked only then (the workflow's ``workflow.patched``: sessions decided before replay as they ran).
    ``follow_splits``: the session follows a person a family split moved to another case since
    the invitation (``facts`` list the case that holds them now: the facts activity follows each
    case's ``split_into``).  Their attendance is recorded under, and sent to, the case that holds
    them (``_holders``); and an invitation of them under their new case, while they are on the
    session under the old one, is refused naming them (``on_this_session``: nobody twice).  A
    callable is asked only when a person has moved."""
    if isinstance(command, c.ScheduleSession):
        if state is not None:
            if state.details == command.details:
                return []  # the same scheduling again
            raise SessionRejected("session_exists", f"session {state.session_id} already exists with other details")
        if admission and command.details.starts_at < now - m.LONGEST_PAST_START:
            raise SessionRejected("invalid_command", (
                f"starts_at: {command.details.starts_at.isoformat()} is more than {m.LONGEST_PAST_START.days} days "
                f"in the past (now {now.isoformat(timespec='minutes')}): schedule a session held within the last "
                f"{m.LONGEST_PAST_START.days} days or a future one"),
                [m.Problem(case_id="*", rule="starts_at", message=f"more than {m.LONGEST_PAST_START.days} days ago")])
        return [m.SessionScheduled(at=now, actor=actor, details=command.details)]
    if state is None:
        raise SessionRejected("session_not_found", "no such session")
    if isinstance(command, c.RecordFanOut):
        return [m.OrientationReached(at=now, actor=actor, result=r) for r in command.results]
    if isinstance(command, c.RecordAttendance):
        return _record_attendance(state, command, now, actor, facts, closed_cases_refused, follow_splits)
    if isinstance(command, c.CancelSession):
        if state.status == m.SessionStatus.CANCELLED:
            return []
        if state.status != m.SessionStatus.SCHEDULED:
            raise SessionRejected("session_not_open", f"session {state.session_id} was held: its attendance is "
                                                      "recorded and cannot be cancelled")
        return [m.SessionCancelled(at=now, actor=actor, reason=command.reason)]
    if isinstance(command, c.RemoveParticipant):
        if state.participant(command.member_id) is None:
            if any(r.member_id == command.member_id for r in state.removed):
                return []  # removed already
            raise SessionRejected("participant_not_found", f"{command.member_id} is not a participant")
        _require_open(state)
        p = state.participant(command.member_id)
        assert p is not None
        return [m.ParticipantRemoved(at=now, actor=actor, case_id=p.case_id, member_id=p.member_id,
                                     reason=command.reason)]
    if isinstance(command, c.AddParticipants):
        _require_open(state)
        if facts is None:  # the validator: the handler decides with the cases' facts
            return [m.ParticipantsAdded(at=now, actor=actor, participants=[])]
        return _add(state, command, now, actor, facts, follow_splits)
    raise SessionRejected("invalid_command", f"unknown command {type(command).__name__}")


def _require_open(state: m.SessionState) -> None:
    if state.status != m.SessionStatus.SCHEDULED:
        raise SessionRejected("session_not_open", f"session {state.session_id} is {state.status.value}: its "
                                                  "participants can no longer change")


def new_case_ids(state: m.SessionState, command: c.AddParticipants) -> list[str]:
    """The cases of the command's invitees, each once, in order."""
    return list(dict.fromkeys(i.case_id for i in command.invitees))


def _holders(facts: list[m.SessionCaseFacts] | None) -> dict[str, m.SessionCaseFacts]:
    """member id -> the facts of the case that lists them now.  A split takes the people who
    move off the case they leave, so one case lists each person; the facts activity adds the
    cases split off those asked for."""
    return {mm.member_id: f for f in facts or [] if f.found for mm in f.members}


def _on_this_session(p: m.Participant, f: m.SessionCaseFacts, member: m.MemberFacts) -> m.Problem:
    return m.Problem(case_id=f.case_id, rule="on_this_session", member_id=member.member_id,
                     member_name=member.full_name,
                     message=f"{member.full_name} ({member.member_id}) of case {f.case_id} is on this session "
                             f"already, invited under case {p.case_id} (the family was split since): nobody is "
                             f"listed twice; the session records their attendance on case {f.case_id}")


def _add(state: m.SessionState, command: c.AddParticipants, now: datetime, actor: Actor,
         facts: list[m.SessionCaseFacts], follow_splits: Flag = True) -> list[Any]:
    by_case = {f.case_id: f for f in facts}
    problems: list[m.Problem] = []
    joining: dict[str, m.Participant] = {}
    follow = _asked(follow_splits)
    for invitee in command.invitees:
        f = by_case[invitee.case_id]
        if invitee.member_id is not None and (p := state.participant(invitee.member_id)) is not None:
            member = f.member(invitee.member_id)
            if (p.case_id != f.case_id and member is not None and f.found and f.office == state.details.office
                    and follow()):
                problems.append(_on_this_session(p, f, member))
            continue  # on the session already (a retry)
        found, members = invitee_problems(state, f, invitee)
        problems += found + _referred_after(state, f, [mm.member_id for mm in members])
        for member in members:
            if member.task_id is None:
                continue
            if (p := state.participant(member.member_id)) is not None:
                if p.case_id != f.case_id and follow():
                    problems.append(_on_this_session(p, f, member))
                continue
            joining.setdefault(member.member_id, m.Participant(
                case_id=f.case_id, member_id=member.member_id, full_name=member.full_name,
                date_of_birth=member.date_of_birth, reinvited=member.absent_before, added_at=now, added_by=actor.id))
    if problems:
        raise _refuse(problems, "these people cannot join the session")
    if not joining:
        return []  # everyone is on the session already
    if len(joining) > state.seats_left:
        places, people = _count(state.seats_left, "place", "places"), _count(len(joining), "person", "people")
        raise SessionRejected("capacity", f"the session has {places} left of {state.details.capacity}; "
                                          f"{people} would join",
                              [m.Problem(case_id="*", rule="capacity", message=f"{people} for {places}")])
    # Re-invited people first, then in the order asked.
    ordered = sorted(joining.values(), key=lambda p: not p.reinvited)
    return [m.ParticipantsAdded(at=now, actor=actor, participants=ordered)]


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _listed_twice(state: m.SessionState, command: c.RecordAttendance) -> SessionRejected | None:
    """The people the attendance lists more than once, named (a form sent with a row twice)."""
    counts = Counter(a.member_id for a in command.attendance)
    repeated = [member_id for member_id, n in counts.items() if n > 1]
    if not repeated:
        return None
    problems = []
    for member_id in repeated:
        p = state.participant(member_id)
        name = f"{p.full_name} ({member_id})" if p is not None else member_id
        problems.append(m.Problem(case_id=p.case_id if p is not None else "*", rule="listed_twice",
                                  member_id=member_id, member_name=p.full_name if p is not None else None,
                                  message=f"{name} is listed more than once"))
    return SessionRejected("invalid_command", "the attendance lists every participant once: "
                                              + "; ".join(p.message for p in problems), problems)


def _record_attendance(state: m.SessionState, command: c.RecordAttendance, now: datetime, actor: Actor,
                       facts: list[m.SessionCaseFacts] | None,
                       closed_cases_refused: Flag = True, follow_splits: Flag = True) -> list[Any]:
    given = {a.member_id: a for a in command.attendance}
    if (twice := _listed_twice(state, command)) is not None:
        raise twice
    if state.status == m.SessionStatus.HELD:
        recorded = {p.member_id: (p.attendance == "attended", p.absence_reason) for p in state.participants}
        asked = {k: (a.attended, a.absence_reason) for k, a in given.items()}
        if recorded == asked:
            return []  # the same recording again: nothing changes
        raise SessionRejected("attendance_recorded", f"the attendance of session {state.session_id} is recorded "
                                                     "already, differently; it cannot be changed")
    if state.status == m.SessionStatus.CANCELLED:
        raise SessionRejected("session_not_open", f"session {state.session_id} is cancelled")
    if not state.participants:
        raise SessionRejected("invalid_command", "the session has no participants")
    if state.details.starts_at > now:
        raise SessionRejected("session_not_started", f"the session starts at {state.details.starts_at.isoformat()}: "
                                                     "attendance is recorded once it has been held")
    unknown = sorted(set(given) - {p.member_id for p in state.participants})
    missing = [p for p in state.participants if p.member_id not in given]
    if unknown or missing:
        problems = [m.Problem(case_id="*", rule="not_a_participant", member_id=u, message=f"{u} is not a participant")
                    for u in unknown]
        problems += [m.Problem(case_id=p.case_id, rule="attendance_missing", member_id=p.member_id,
                               member_name=p.full_name, message=f"no attendance given for {p.full_name}")
                     for p in missing]
        e = _refuse(problems, "every participant's attendance is recorded at once, and only theirs")
        raise SessionRejected("invalid_command", e.message, problems)
    late = [problem for f in facts or [] for problem in _referred_after(
        state, f, [p.member_id for p in state.participants if p.case_id == f.case_id])]
    if late:
        raise _refuse(late, "attendance cannot be recorded for people whose case was referred after the session")
    # Each person under the case that holds them now, when a split moved them since the invitation.
    holders = _holders(facts)
    moved = {p.member_id: holders[p.member_id].case_id for p in state.participants
             if p.member_id in holders and holders[p.member_id].case_id != p.case_id}
    if not (moved and _asked(follow_splits)()):
        moved = {}

    def case_of(p: m.Participant) -> str:
        return moved.get(p.member_id, p.case_id)
    closed = _closed_attendees(state, facts or [], {k for k, a in given.items() if a.attended}, case_of)
    if closed and (closed_cases_refused() if callable(closed_cases_refused) else closed_cases_refused):
        raise _refuse(closed, "attendance cannot be recorded as attended for people whose case is closed (it "
                              "would reach no case): record them absent, or take them off the session")
    tasks: dict[str, str] = {}
    for f in facts or []:
        for member in f.members:
            if member.task_id is not None:
                tasks[member.member_id] = member.task_id
    return [m.AttendanceRecorded(at=now, actor=actor, entries=[
        m.AttendanceEntry(case_id=case_of(p), member_id=p.member_id, attended=given[p.member_id].attended,
                          absence_reason=given[p.member_id].absence_reason, task_id=tasks.get(p.member_id))
        for p in state.participants])]


def _closed_attendees(state: m.SessionState, facts: list[m.SessionCaseFacts], attended: set[str],
                      case_of: Callable[[m.Participant], str] = lambda p: p.case_id) -> list[m.Problem]:
    """The people recorded as attended whose case (``case_of``: the one that holds them now)
    has closed (withdrawn, ...) since they were invited: their case records nothing more, so the
    session would count an orientation that no case holds."""
    closed = {f.case_id for f in facts if f.found and f.status == CaseStatus.CLOSED}
    return [m.Problem(case_id=case_of(p), rule="case_closed", member_id=p.member_id, member_name=p.full_name,
                      message=f"{p.full_name}: case {case_of(p)} is closed")
            for p in state.participants if case_of(p) in closed and p.member_id in attended]


def _referred_after(state: m.SessionState, facts: m.SessionCaseFacts, member_ids: list[str]) -> list[m.Problem]:
    """The members of a case referred after the session had ended: none of them was there (a
    session dated years back would count their orientation then).  Facts recorded before the
    rule carry no referral moment and pass, so sessions replay as decided."""
    details = state.details
    ended = details.starts_at + timedelta(minutes=details.duration_minutes)
    if facts.referred_at is None or facts.referred_at <= ended:
        return []
    zone = time_zone(details.time_zone or DEFAULT_TIME_ZONE)
    referred = facts.referred_at.astimezone(zone)
    names = {mm.member_id: mm.full_name for mm in facts.members}
    names.update({p.member_id: p.full_name for p in state.participants})
    return [m.Problem(case_id=facts.case_id, rule="referred_after_session", member_id=member_id,
                      member_name=names.get(member_id),
                      message=f"{names.get(member_id, member_id)} (case {facts.case_id}, referred "
                              f"{referred:%Y-%m-%d %H:%M}) cannot have attended the session of "
                              f"{details.starts_at.astimezone(zone):%Y-%m-%d %H:%M}, which ended before")
            for member_id in member_ids]


def evolve(state: m.SessionState | None, event: Any, session_id: str) -> m.SessionState:
    if isinstance(event, m.SessionScheduled):
        return m.SessionState(session_id=session_id, details=event.details, created_at=event.at,
                              created_by=event.actor.id, updated_at=event.at, version=1)
    assert state is not None
    s = state.model_copy(deep=True)
    s.version += 1
    s.updated_at = event.at
    if isinstance(event, m.ParticipantsAdded):
        s.participants += event.participants
        added = {p.member_id for p in event.participants}
        s.removed = [r for r in s.removed if r.member_id not in added]
    elif isinstance(event, m.ParticipantRemoved):
        p = s.participant(event.member_id)
        s.participants = [x for x in s.participants if x.member_id != event.member_id]
        s.removed.append(m.RemovedParticipant(case_id=event.case_id, member_id=event.member_id,
                                              full_name=p.full_name if p else event.member_id, removed_at=event.at,
                                              removed_by=event.actor.id, reason=event.reason))
    elif isinstance(event, m.AttendanceRecorded):
        s.status, s.recorded_at, s.recorded_by = m.SessionStatus.HELD, event.at, event.actor
        for entry in event.entries:
            p = s.participant(entry.member_id)
            if p is not None:
                p.follow(entry.case_id)  # the case that holds them now (a split since the invitation)
                p.attendance = "attended" if entry.attended else "absent"
                p.absence_reason = entry.absence_reason
                p.task_id = entry.task_id
    elif isinstance(event, m.SessionCancelled):
        s.status, s.cancelled_at, s.cancellation_reason = m.SessionStatus.CANCELLED, event.at, event.reason
    elif isinstance(event, m.OrientationReached):
        p = s.participant(event.result.member_id)
        if p is not None:
            p.follow(event.result.case_id)  # where the fan-out found them (a split after the recording)
            p.result = event.result
    return s


def fold(events: list[Any], start: m.SessionState | None, session_id: str) -> m.SessionState:
    state = start
    for event in events:
        state = evolve(state, event, session_id)
    assert state is not None
    return state
