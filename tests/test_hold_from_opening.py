"""A resume gives each open task back the part of the hold it lived through.

A hold pauses a case's SLA clocks; the resume moves each open task's due date by the paused
time.  A task opened during the hold (an orientation session's attendance recorded on a held
case opens its visa tasks) was paused only since it opened: moving it by the whole hold gave
it more time than any task ever has.  Behind ``hold-from-opening-v1`` (asked only by a resume
that finds such a task); a resume without the rule keeps moving every task by the whole hold.
"""

from __future__ import annotations

from datetime import timedelta

from domain.case import CompleteTask, ResumeCase, decide, fold
from domain.model import CaseStatus
from tests.test_facts_reach_held_cases import SESSION, _ctx, _held, _walk_to


def _opened_during_the_hold():
    state, now = _walk_to("record_orientation")
    held = _held(state, now)
    later = now + timedelta(hours=3)  # the session's attendance is recorded three hours into the hold
    form = {"session_date": now.date().isoformat(), "language": "ar", "notes": "Orientation session OS-TEST"}
    after = held
    for task in [t for t in held.open_tasks if t.task_type == "record_orientation"]:
        after = fold(decide(after, CompleteTask(task_id=task.task_id, form=form, group=SESSION), _ctx(later)),
                     start=after)
    opened = [t for t in after.open_tasks if t.opened_at == later]
    assert opened and after.status == CaseStatus.ON_HOLD
    return after, now, later, opened


def test_a_task_opened_during_the_hold_is_moved_by_the_time_since_it_opened() -> None:
    held, since, opened_at, opened = _opened_during_the_hold()
    resumed_at = since + timedelta(hours=10)
    asked: list[bool] = []

    def rule() -> bool:
        asked.append(True)
        return True

    events = decide(held, ResumeCase(reason="Cleared."), _ctx(resumed_at, "fatma", hold_from_opening=rule))
    assert asked == [True] and events[0].event.from_opening is True
    resumed = fold(events, start=held)
    for task in opened:
        assert resumed.tasks[task.task_id].due_at == task.due_at + (resumed_at - opened_at)  # 7 h, not 10


def test_before_the_rule_every_task_moves_by_the_whole_hold_and_a_plain_resume_does_not_ask() -> None:
    held, since, _, opened = _opened_during_the_hold()
    resumed_at = since + timedelta(hours=10)
    resumed = fold(decide(held, ResumeCase(reason="Cleared."), _ctx(resumed_at, "fatma", hold_from_opening=False)),
                   start=held)
    for task in opened:
        assert resumed.tasks[task.task_id].due_at == task.due_at + timedelta(hours=10)

    # A hold during which nothing opened: the rule is not asked (no marker for such cases).
    state, now = _walk_to("record_orientation")
    plain = _held(state, now)
    asked: list[bool] = []
    events = decide(plain, ResumeCase(reason="Cleared."),
                    _ctx(now + timedelta(hours=4), "fatma", hold_from_opening=lambda: asked.append(True) or True))
    assert asked == [] and events[0].event.from_opening is False
    after = fold(events, start=plain)
    for task in plain.open_tasks:
        assert after.tasks[task.task_id].due_at == task.due_at + timedelta(hours=4)
