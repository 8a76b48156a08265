"""Who may join a session: each rule names the case, the member and why."""

from __future__ import annotations

from domain.model import CaseStatus, Stage
from domain.sessions.commands import Invitee
from domain.sessions.model import MemberFacts, Problem, SessionCaseFacts, SessionState


def invitee_problems(state: SessionState, facts: SessionCaseFacts, invitee: Invitee) -> tuple[list[Problem], list[MemberFacts]]:
    """The problems of one invitee, and the members it brings (its member, or every member of
    the case whose orientation task is open)."""
    case_id = facts.case_id
    if not facts.found or facts.office != state.details.office:
        # Another office's case is answered as an unknown one: its existence is not revealed.
        return [Problem(case_id=case_id, rule="case_not_found", message=f"no case {case_id}")], []
    if facts.status == CaseStatus.CLOSED:
        return [Problem(case_id=case_id, rule="case_closed", message=f"case {case_id} is closed")], []
    if facts.on_hold:
        return [Problem(case_id=case_id, rule="case_on_hold",
                        message=f"case {case_id} is on hold: a supervisor resumes it first")], []
    if facts.stage != Stage.ORIENTATION:
        return [Problem(case_id=case_id, rule="not_in_orientation",
                        message=f"case {case_id} is in the {facts.stage.value} stage, not orientation")], []
    if invitee.member_id is None:
        members = [m for m in facts.members if m.task_id is not None]
        if not members:
            return [Problem(case_id=case_id, rule="orientation_not_open",
                            message=f"case {case_id} has no member whose orientation is open")], []
    else:
        member = facts.member(invitee.member_id)
        if member is None:
            return [Problem(case_id=case_id, rule="member_not_found", member_id=invitee.member_id,
                            message=f"case {case_id} has no member {invitee.member_id}")], []
        members = [member]
    problems = []
    for m in members:
        if m.task_id is None:
            why = ("has attended orientation already" if m.orientation == "attended"
                   else "is not required to attend (the age rule) or has no open orientation task")
            problems.append(Problem(case_id=case_id, rule="orientation_not_open", member_id=m.member_id,
                                    member_name=m.full_name, message=f"{m.full_name} {why}"))
        elif m.other_session_id is not None:
            problems.append(Problem(case_id=case_id, rule="on_other_session", member_id=m.member_id,
                                    member_name=m.full_name,
                                    message=f"{m.full_name} is invited to session {m.other_session_id}"))
    return problems, members
