"""Rules of a task completion that need the case and hold in every programme.

The four-eyes rule is an *admission* rule: it only refuses, never shapes the events of an
accepted command, so the workflow applies it in its Update validators (``admission_rules``)
and a case recorded before the rule existed still replays.  The review rule (which decisions
a supervisor may take) shapes what happens and applies always.  Programme rules follow
(``ProgrammeDefinition.check``).
"""

from __future__ import annotations

from typing import Any

from domain import forms
from domain.engine.context import DecisionContext
from domain.engine.draft import invalid, reject
from domain.engine.escalations import check_resolution
from domain.errors import RejectionCode
from domain.offices import local_date
from domain.programmes.registry import profile_of
from domain.state import CaseState, TaskState
from domain.tasks import EngineTask

# Task types whose completion releases what another person decided: (task type, form decision
# or None for any) -> what the person may not do.
_RELEASES = "release the medical hold you recorded"
_RESUBMITS = "approve the resubmission of a decision you recorded"


def check_completion(state: CaseState, task: TaskState, form: Any, ctx: DecisionContext) -> None:
    """Everything a completion must satisfy beyond its form: engine rules, then the programme's."""
    if ctx.admission_rules:
        check_four_eyes(state, task, form, ctx)  # admission rule: validators only
        check_resolution(state, task, form, ctx)  # admission rule too
        check_since_referral(state, task, form, ctx)  # admission rule too
    if task.task_type == EngineTask.REVIEW_OUTCOME:
        allowed = profile_of(state).review_decisions(state)
        if form.decision not in allowed:
            raise invalid(task.task_type, "decision", f"'{form.decision}' is not possible here; allowed: {', '.join(allowed)}")
    profile_of(state).check(state, task, form, ctx)


def check_since_referral(state: CaseState, task: TaskState, form: Any, ctx: DecisionContext) -> None:
    """A day of the case's own work (an interview, a health assessment, an orientation session,
    a monitoring visit: the form's ``HappenedSinceReferral`` fields) is not before the day the
    case was referred, in its office's time zone: a caseworker who types 2024 for 2026 is told
    so, with the field and the referral day.  A document's issue date or an authority's decision
    may be older than the case and is not bound.  An admission rule (validators only): forms
    recorded before it replay as decided.  A case split off another was "referred" at the split,
    while its family's work is older: no bound there (as for a withdrawal of consent)."""
    if state.split_from is not None:
        return
    referred_on = local_date(state.referred_at, state.office_time_zone)
    for name in forms.since_referral_fields(type(form)):
        day = getattr(form, name)
        if day is not None and day < referred_on:
            raise invalid(task.task_type, name,
                          f"must not be before the case was referred ({referred_on.isoformat()} in "
                          f"{state.office_time_zone}): allowed are {referred_on.isoformat()} to "
                          f"{ctx.today(state.office_time_zone).isoformat()}")
    # A moment of its journey (a fit-to-travel check, a departure) is not dated before the day
    # the case was referred either (explore11: a departure typed days before the case existed
    # was recorded).  Judged by the day in the office's zone, as the days above: the example
    # forms of a day that is not today date their moments at its first minutes.
    for name in forms.since_referral_fields(type(form), forms.SinceReferralInstant):
        moment = getattr(form, name)
        if moment is not None and local_date(moment, state.office_time_zone) < referred_on:
            raise invalid(task.task_type, name,
                          f"must not be dated before the day the case was referred ({referred_on.isoformat()} "
                          f"in {state.office_time_zone})")


def opened_by(state: CaseState, task: TaskState) -> TaskState | None:
    """The completed task whose outcome opened ``task`` (the last one done before it opened)."""
    done = [t for t in state.tasks.values() if t.status == "completed" and t.completed_at is not None
            and t.completed_at <= task.opened_at and (task.member_id is None or t.member_id == task.member_id)]
    if task.task_type == EngineTask.REVIEW_OUTCOME:
        done = profile_of(state).review_openers(state, task, done)
    return max(done, key=lambda t: (t.completed_at, t.task_id), default=None)


def check_four_eyes(state: CaseState, task: TaskState, form: Any, ctx: DecisionContext) -> None:
    """Who put a member on medical hold may not release it; who recorded a rejection or
    refusal may not approve the case's resubmission."""
    spec = profile_of(state).spec(task.task_type)
    releases_hold = spec.releases_hold
    resubmits = task.task_type == EngineTask.REVIEW_OUTCOME and getattr(form, "decision", None) == "resubmit"
    if not (releases_hold or resubmits):
        return
    opener = opened_by(state, task)
    if opener is not None and opener.completed_by == ctx.actor.id:
        what = _RELEASES if releases_hold else _RESUBMITS
        raise reject(RejectionCode.FOUR_EYES,
                     f"four-eyes rule: {ctx.actor.id} may not {what} (task {opener.task_id}); another person must")
