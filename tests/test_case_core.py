"""The pure case core, without Temporal: decide refuses or produces events; state is a fold."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from domain.case import CompleteTask, DecisionContext, ReferCase, decide, evolve, fold
from domain.errors import CommandRejected, RejectionCode
from domain.identity import case_id_for
from domain.model import Actor, Priority, Referral, Stage
from domain.sla import SLA_HOURS
from tests.support.factories import referral
from tests.support.forms import example_form

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def ctx(now: datetime = NOW, who: str = "ayse") -> DecisionContext:
    ids = itertools.count(1)
    return DecisionContext(now=now, actor=Actor(id=who, role="caseworker"), new_event_id=lambda: f"e-{next(ids)}")


def referred(size: int = 2):
    body = Referral.model_validate(referral(size=size))
    events = decide(None, ReferCase(case_id=case_id_for(body.external_referral_id), referral=body), ctx())
    return body, events, fold(events)


def complete_all(state, now: datetime = NOW):
    events = []
    while state.open_tasks:
        task = state.open_tasks[0]
        new = decide(state, CompleteTask(task_id=task.task_id, form=example_form(task.model_dump(), now.date())),
                     ctx(now))
        state = fold(new, start=state)
        events += new
    return state, events


def test_referral_opens_the_referral_stage_with_its_task() -> None:
    _, events, state = referred()
    assert [e.type for e in events] == ["CaseReferred", "StageEntered", "TaskOpened"]
    assert [e.seq for e in events] == [1, 2, 3]
    assert state.stage == Stage.REFERRAL and state.version == 3
    task = state.open_tasks[0]
    assert task.task_type == "verify_referral"
    assert task.due_at == NOW + timedelta(hours=SLA_HOURS[Stage.REFERRAL][state.priority])


def test_the_same_referral_again_decides_nothing_and_a_different_one_conflicts() -> None:
    body, _, state = referred()
    assert decide(state, ReferCase(case_id=state.case_id, referral=body), ctx()) == []
    changed = body.model_copy(update={"priority": Priority.EMERGENCY})
    with pytest.raises(CommandRejected) as err:
        decide(state, ReferCase(case_id=state.case_id, referral=changed), ctx())
    assert err.value.code == RejectionCode.REFERRAL_CONFLICT


def test_per_member_tasks_must_all_be_done_before_the_case_moves() -> None:
    _, _, state = referred(size=3)
    for _ in range(2):  # referral and interview
        task = state.open_tasks[0]
        state = fold(decide(state, CompleteTask(task_id=task.task_id, form=example_form(task.model_dump(), NOW.date())),
                            ctx()), start=state)
    assert state.stage == Stage.HEALTH
    health = state.open_tasks
    assert [t.member_id for t in health] == [m.member_id for m in state.members]
    for task in health[:2]:
        state = fold(decide(state, CompleteTask(task_id=task.task_id, form=example_form(task.model_dump(), NOW.date())),
                            ctx()), start=state)
        assert state.stage == Stage.HEALTH
    last = health[2]
    state = fold(decide(state, CompleteTask(task_id=last.task_id, form=example_form(last.model_dump(), NOW.date())),
                        ctx()), start=state)
    assert state.stage == Stage.ORIENTATION
    assert all(p.health == "cleared" for p in state.progress.values())


def test_full_case_closes_and_state_is_the_fold_of_its_events() -> None:
    _, first, state = referred()
    state, rest = complete_all(state)
    events = first + rest
    assert state.status == "closed" and state.stage == Stage.CLOSED and state.closure_reason == "arrived"
    assert fold(events).model_dump() == state.model_dump()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


def test_state_as_of_a_time_folds_only_what_had_happened() -> None:
    _, first, state = referred()
    later = NOW + timedelta(days=3)
    task = state.open_tasks[0]
    second = decide(state, CompleteTask(task_id=task.task_id, form={"documents_checked": True}), ctx(later))
    history = first + second
    assert fold(history, as_of=NOW + timedelta(days=1)).stage == Stage.REFERRAL
    assert fold(history, as_of=later).stage == Stage.INTERVIEW


def test_evolve_does_not_modify_its_input() -> None:
    _, events, state = referred()
    task = state.open_tasks[0]
    new = decide(state, CompleteTask(task_id=task.task_id, form={"documents_checked": True}), ctx())
    before = state.model_dump()
    evolve(state, new[0])
    assert state.model_dump() == before


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({}, "documents_checked"),
        ({"documents_checked": False}, "documents_checked"),
        ({"documents_checked": True, "extra": 1}, "extra"),
    ],
)
def test_invalid_forms_are_refused_naming_the_field(form: dict, field: str) -> None:
    _, _, state = referred()
    with pytest.raises(CommandRejected) as err:
        decide(state, CompleteTask(task_id=state.open_tasks[0].task_id, form=form), ctx())
    assert err.value.code == RejectionCode.INVALID_FORM
    assert field in {d["field"] for d in err.value.details}


def test_completed_unknown_and_wrong_stage_tasks_are_refused() -> None:
    _, _, state = referred()
    first = state.open_tasks[0]
    state = fold(decide(state, CompleteTask(task_id=first.task_id, form={"documents_checked": True}), ctx()),
                 start=state)
    with pytest.raises(CommandRejected) as again:
        decide(state, CompleteTask(task_id=first.task_id, form={"documents_checked": True}), ctx())
    assert again.value.code == RejectionCode.TASK_NOT_OPEN
    with pytest.raises(CommandRejected) as unknown:
        decide(state, CompleteTask(task_id="nope", form={}), ctx())
    assert unknown.value.code == RejectionCode.TASK_NOT_FOUND


def test_validity_dates_must_follow_the_assessment() -> None:
    _, _, state = referred(size=1)
    for _ in range(2):
        task = state.open_tasks[0]
        state = fold(decide(state, CompleteTask(task_id=task.task_id, form=example_form(task.model_dump(), NOW.date())),
                            ctx()), start=state)
    task = state.open_tasks[0]
    # Assessed on the day of the referral (NOW): not before it (a case rule).
    form = {"assessment_date": "2026-11-23", "outcome": "cleared", "clearance_valid_until": "2026-11-24"}
    ok = decide(state, CompleteTask(task_id=task.task_id, form=form), ctx())
    assert ok[0].type == "HealthAssessmentRecorded"
    with pytest.raises(CommandRejected):
        decide(state, CompleteTask(task_id=task.task_id, form={**form, "clearance_valid_until": "2026-11-22"}), ctx())


def test_case_id_is_stable_and_carries_nothing_personal() -> None:
    assert case_id_for("UNHCR-TUR-2026-004211") == case_id_for("UNHCR-TUR-2026-004211")
    assert case_id_for("UNHCR-TUR-2026-004211") != case_id_for("UNHCR-TUR-2026-004212")
    assert "4211" not in case_id_for("UNHCR-TUR-2026-004211")
