"""What a decision may know of the world, and the one way to build it.

The workflow decides twice per command (the Update validator, then the handler under its
lock); both build their context with ``decision_context`` from the same ``RuleFlags``, so
they judge by the same rules.  The flags are known from the workflow's ``__init__`` on
(also right after continue-as-new), never learnt from a first handler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from domain.model import Actor
from domain.offices import local_date


@dataclass(frozen=True)
class DecisionContext:
    """What ``decide`` may know of the world: the time, who acts, and fresh event ids."""

    now: datetime
    actor: Actor
    new_event_id: Callable[[], str]
    # Rules that arrived after cases were already running: a workflow turns them on with
    # `workflow.patched`, so a case replays with the rules it ran under.
    fit_to_travel_checks: bool = True
    # Review rules: one supervisor review per decision point (a second negative outcome while
    # one is open joins it); a refused visa or travel document (or exit permission) keeps
    # the case in its stage, with a review open, until the supervisor decides, even after a
    # detour back to health; and a refusal cancels the escalations of the tasks it cancels.
    # A bool, or a callable asked only when a decision depends on the rules (the workflow's
    # `workflow.patched`, whose marker is then paid for only by the cases that need it).
    review_rules: bool | Callable[[], bool] = True
    # A task whose own due rule puts it in the past, or within the hour, when it opens (a
    # fit-to-travel check opened for a flight less than six hours away) is due a grace after
    # it opens instead, never after what it is for (the departure): not overdue at once.
    # Asked (patched) only when such a due would otherwise be unreachable.
    reachable_dues: bool | Callable[[], bool] = True
    # A deadline given as a date (a resolved escalation's new due date, a follow-up interview)
    # ends with that day in the case's office time zone, not in UTC.  Asked (patched) only for
    # a case whose office is not in UTC.
    office_day_ends: bool | Callable[[], bool] = True
    # A day a clock opens something on (a monitoring visit after a return, a child's 18th birthday)
    # starts at midnight in the case's office time zone, not in UTC.  Asked (patched) only for
    # a case whose office is not in UTC.
    office_day_starts: bool | Callable[[], bool] = True
    # A fact a group workflow records on a case (a movement's departure, no-show, cancellation
    # or arrival; an orientation session's attendance: ``CompleteTask.group``) is recorded on a
    # case on hold too, which stays on hold: the hold pauses the case's work and clocks, it does
    # not undo what happened.  Asked (patched) only by such a completion on a held case.
    facts_on_hold: bool | Callable[[], bool] = True
    # A resume moves each open task's due date by the part of the hold the task lived through:
    # a task opened during the hold (by a group's fact, a clock) by the time since it opened,
    # not by the whole hold.  Asked (patched) only when a task opened during the hold.
    hold_from_opening: bool | Callable[[], bool] = True
    # A split moves a supervisor review with its cause: a review opened for what members'
    # own outcomes were (a visa or travel document refused, a member not cleared, a relationship
    # not eligible) is cancelled in the original when every such member moved (the original
    # goes on by itself), and is not carried to the new case when none of them moved.  Asked
    # (patched) only by a split that this changes.
    split_review_follows: bool | Callable[[], bool] = True
    # A corrected date of birth re-decides the stage's per-person work: a task the stage no
    # longer asks of that person (an orientation for a child now under the age rule) is
    # cancelled and the case moves on.  Asked (patched) only by a correction it changes.
    correction_reprunes: bool | Callable[[], bool] = True
    # Admission rules only refuse a command and never shape the events of an accepted one
    # (the four-eyes rule, a booking in the past).  The workflow applies them in its Update
    # validators, which run for every new command but not on replay, so adding one never
    # breaks a running case.
    admission_rules: bool = True

    def today(self, zone: str) -> date:
        """The day it is now in the case's office (``CaseState.office_time_zone``)."""
        return local_date(self.now, zone)


def in_force(rule: bool | Callable[[], bool]) -> bool:
    """A rule flag of the ``DecisionContext``: asked (and, in a workflow, patched) only here."""
    return rule() if callable(rule) else rule


@dataclass(frozen=True)
class RuleFlags:
    """The rules a case workflow runs under, fixed when the workflow object is built."""

    fit_to_travel_checks: bool = True
    review_rules: bool | Callable[[], bool] = True
    reachable_dues: bool | Callable[[], bool] = True
    office_day_ends: bool | Callable[[], bool] = True
    office_day_starts: bool | Callable[[], bool] = True
    facts_on_hold: bool | Callable[[], bool] = True
    hold_from_opening: bool | Callable[[], bool] = True
    split_review_follows: bool | Callable[[], bool] = True
    correction_reprunes: bool | Callable[[], bool] = True


def decision_context(now: datetime, actor: Actor, flags: RuleFlags, *, new_event_id: Callable[[], str],
                     admission: bool) -> DecisionContext:
    """The context of a validator (``admission=True``: admission rules apply, placeholder ids)
    or of a handler (``admission=False``: the decision that is recorded)."""
    return DecisionContext(now=now, actor=actor, new_event_id=new_event_id,
                           fit_to_travel_checks=flags.fit_to_travel_checks, review_rules=flags.review_rules,
                           reachable_dues=flags.reachable_dues, office_day_ends=flags.office_day_ends,
                           office_day_starts=flags.office_day_starts, facts_on_hold=flags.facts_on_hold,
                           hold_from_opening=flags.hold_from_opening,
                           split_review_follows=flags.split_review_follows,
                           correction_reprunes=flags.correction_reprunes, admission_rules=admission)
