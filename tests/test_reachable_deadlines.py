"""Deadlines a person can meet, in the office's day (explore3 findings 6, 7 and 8), decided by
the pure core:

* a fit-to-travel check opened for a flight less than six hours away is due an hour after it
  opens (never after the flight), not opened overdue with an escalation per member;
* a date given as a deadline (a resolved escalation's new due date) ends with that day in the
  case's office time zone, not in UTC; the resolution must say what was done and may not move
  the due date beyond sense;
* a withdrawal of consent is not dated before the case's referral.

Each new rule that shapes events is behind a rule flag of the ``DecisionContext`` (the
workflow's ``workflow.patched``): with the flag off, the core decides as cases recorded
before it did.  The refusals are admission rules: off in the handler's decision.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from domain.case import CompleteTask, DecisionContext, ReferCase, Tick, decide, fold
from domain.engine.flow import DUE_GRACE, end_of
from domain.errors import CommandRejected
from domain.identity import case_id_for
from domain.model import Actor, Referral
from tests.support.factories import referral
from tests.support.forms import example_form
from tests.support.histories import replays_and_is_recorded

ISTANBUL = "Europe/Istanbul"
NOW = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)  # 19:00 in Istanbul


def ctx(now: datetime = NOW, who: str = "emre", role: str = "movement_officer", **rules: Any) -> DecisionContext:
    ids = itertools.count(1)
    return DecisionContext(now=now, actor=Actor(id=who, role=role), new_event_id=lambda: f"e-{next(ids)}", **rules)


def referred(programme: str = "resettlement", size: int = 2, now: datetime = NOW - timedelta(days=20)) -> Any:
    body = Referral.model_validate(referral(office="IST", size=size, **({"programme": programme}
                                                                        if programme != "resettlement" else {})))
    command = ReferCase(case_id=case_id_for(body.external_referral_id), referral=body, office_time_zone=ISTANBUL)
    return fold(decide(None, command, ctx(now)))


def complete(state: Any, task: Any, form: dict[str, Any], now: datetime = NOW, **rules: Any) -> Any:
    return fold(decide(state, CompleteTask(task_id=task.task_id, form=form), ctx(now, **rules)), start=state)


def work_until(state: Any, task_type: str, now: datetime = NOW) -> Any:
    """Complete every open task with its example form until a ``task_type`` task is open."""
    for _ in range(60):
        if any(t.task_type == task_type for t in state.open_tasks):
            return state
        task = state.open_tasks[0]
        form = example_form({**task.model_dump(), "programme": str(state.programme)}, now.date())
        state = complete(state, task, form, now)
    raise AssertionError(f"no {task_type} task opened")


def booked(departure: datetime, **rules: Any) -> Any:
    state = work_until(referred(), "book_movement")
    book = next(t for t in state.open_tasks if t.task_type == "book_movement")
    return complete(state, book, {"flight_number": "KL1960", "departure_at": departure.isoformat(),
                                  "departure_airport": "IST", "arrival_airport": "AMS"}, **rules)


def checks(state: Any) -> list[Any]:
    return [t for t in state.open_tasks if t.task_type == "check_fit_to_travel"]


# --- finding 6: a fit-to-travel check is not opened overdue ----------------------------------


def test_a_check_for_a_flight_two_hours_away_is_due_an_hour_after_it_opens_and_does_not_escalate() -> None:
    state = booked(NOW + timedelta(hours=2))
    opened = checks(state)
    assert len(opened) == 2
    assert {t.due_at for t in opened} == {NOW + DUE_GRACE}
    # The clock at the moment of opening finds nothing overdue: no escalation per member.
    after = fold(decide(state, Tick(), ctx(NOW + timedelta(minutes=1))), start=state)
    assert not [t for t in after.open_tasks if t.task_type == "resolve_escalation"]
    assert not any(t.overdue for t in after.open_tasks)


def test_a_check_for_a_flight_half_an_hour_away_is_due_at_the_departure_not_after_it() -> None:
    departure = NOW + timedelta(minutes=30)
    assert {t.due_at for t in checks(booked(departure))} == {departure}


def test_a_check_with_time_to_spare_keeps_six_hours_before_the_flight() -> None:
    departure = NOW + timedelta(hours=30)
    assert {t.due_at for t in checks(booked(departure))} == {departure - timedelta(hours=6)}


def test_a_case_decided_before_the_rule_opens_its_checks_as_it_did() -> None:
    departure = NOW + timedelta(hours=2)
    assert {t.due_at for t in checks(booked(departure, reachable_dues=False))} == {departure - timedelta(hours=6)}


def test_the_rule_is_asked_only_when_a_due_would_be_unreachable() -> None:
    asked: list[bool] = []

    def flag() -> bool:
        asked.append(True)
        return True

    booked(NOW + timedelta(hours=30), reachable_dues=flag)
    assert not asked  # a case that never needs the rule pays no patch marker
    booked(NOW + timedelta(hours=2), reachable_dues=flag)
    assert asked


# --- finding 8: a date deadline ends with the office's day ------------------------------------


def test_end_of_a_day_in_istanbul_is_its_midnight_there() -> None:
    assert end_of(date(2026, 12, 5), ISTANBUL) == datetime(2026, 12, 5, 21, 0, tzinfo=UTC)
    assert end_of(date(2026, 12, 5)) == datetime(2026, 12, 6, 0, 0, tzinfo=UTC)


def escalated() -> tuple[Any, Any, Any]:
    """A case whose verification went overdue: (state, the overdue task, its escalation)."""
    state = referred(now=NOW - timedelta(days=10))
    state = fold(decide(state, Tick(), ctx(NOW)), start=state)
    escalation = next(t for t in state.open_tasks if t.task_type == "resolve_escalation")
    return state, state.tasks[escalation.escalated_task_id], escalation


def supervisor(**rules: Any) -> dict[str, Any]:
    return {"who": "fatma", "role": "supervisor", **rules}


def test_a_new_due_date_ends_at_midnight_in_the_cases_office() -> None:
    state, overdue, escalation = escalated()
    after = complete(state, escalation, {"action_taken": "Called the family.", "new_due_date": "2026-12-05"},
                     **supervisor())
    assert after.tasks[overdue.task_id].due_at == datetime(2026, 12, 5, 21, 0, tzinfo=UTC)  # 6 Dec 00:00 Istanbul


def test_a_case_decided_before_the_rule_keeps_the_utc_day() -> None:
    state, overdue, escalation = escalated()
    after = complete(state, escalation, {"action_taken": "Called the family.", "new_due_date": "2026-12-05"},
                     **supervisor(office_day_ends=False))
    assert after.tasks[overdue.task_id].due_at == datetime(2026, 12, 6, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("said", ["", "  ", "x", "ok"])
def test_a_resolution_must_say_what_was_done(said: str) -> None:
    state, _, escalation = escalated()
    with pytest.raises(CommandRejected) as refused:
        complete(state, escalation, {"action_taken": said}, **supervisor())
    assert refused.value.details[0]["field"] == "action_taken"
    assert "at least 3 characters" in refused.value.details[0]["reason"]
    # An admission rule: a resolution recorded before it replays as decided.
    complete(state, escalation, {"action_taken": said}, **supervisor(admission_rules=False))


def test_a_new_due_date_beyond_ninety_days_is_refused() -> None:
    state, _, escalation = escalated()
    with pytest.raises(CommandRejected) as refused:
        complete(state, escalation, {"action_taken": "Called the family.", "new_due_date": "2199-12-31"},
                 **supervisor())
    assert refused.value.details[0]["field"] == "new_due_date"
    assert "at most 90 days after today (2026-12-03)" in refused.value.details[0]["reason"]
    complete(state, escalation, {"action_taken": "Called the family.",
                                 "new_due_date": (date(2026, 12, 3) + timedelta(days=90)).isoformat()}, **supervisor())


def test_a_fit_check_may_not_be_given_a_day_after_its_flight() -> None:
    state = booked(NOW + timedelta(hours=2), reachable_dues=False)  # opened overdue, as before the rule
    state = fold(decide(state, Tick(), ctx(NOW + timedelta(minutes=1))), start=state)
    escalation = next(t for t in state.open_tasks if t.task_type == "resolve_escalation")
    with pytest.raises(CommandRejected) as refused:
        complete(state, escalation, {"action_taken": "Asked the clinic.", "new_due_date": "2026-12-04"},
                 **supervisor())
    assert refused.value.details[0]["field"] == "new_due_date"
    assert "not after 2026-12-03" in refused.value.details[0]["reason"]


def test_a_fit_check_given_the_day_of_its_flight_is_due_at_the_departure() -> None:
    departure = NOW + timedelta(hours=2)
    state = booked(departure, reachable_dues=False)  # opened overdue, as before the rule
    state = fold(decide(state, Tick(), ctx(NOW + timedelta(minutes=1))), start=state)
    escalation = next(t for t in state.open_tasks if t.task_type == "resolve_escalation")
    form = {"action_taken": "Asked the clinic.", "new_due_date": "2026-12-03"}
    after = complete(state, escalation, form, **supervisor())
    assert after.tasks[escalation.escalated_task_id].due_at == departure  # not midnight after the flight
    before_the_rule = complete(state, escalation, form, **supervisor(reachable_dues=False))
    assert before_the_rule.tasks[escalation.escalated_task_id].due_at == end_of(date(2026, 12, 3), ISTANBUL)
    # Once the flight has left, no new due date helps: rebook.
    with pytest.raises(CommandRejected) as refused:
        complete(state, escalation, form, departure + timedelta(minutes=5), **supervisor())
    assert refused.value.details[0]["field"] == "new_due_date" and "has passed" in refused.value.details[0]["reason"]


def test_the_served_schema_says_the_rules() -> None:
    from domain.forms import ResolveEscalationForm, form_json_schema
    schema = form_json_schema(ResolveEscalationForm)["properties"]
    assert schema["action_taken"]["minLength"] == 3 and "pattern" in schema["action_taken"]
    assert "90 days" in schema["new_due_date"]["description"]
    assert "office time zone" in schema["new_due_date"]["description"]


# --- finding 8: validities end with the office's day too ---------------------------------------


def test_a_clearance_expires_at_the_end_of_its_last_day_in_istanbul() -> None:
    from domain.case import next_deadline

    state = work_until(referred(), "record_visa")
    valid_until = next(p.clearance_valid_until for p in state.progress.values())
    expires = end_of(valid_until, ISTANBUL)
    assert expires == datetime.combine(valid_until, datetime.min.time(), tzinfo=UTC) + timedelta(hours=21)
    assert expires in state_deadlines(state, True) and end_of(valid_until) in state_deadlines(state, False)
    just_after = expires + timedelta(minutes=1)
    ticked = decide(state, Tick(), ctx(just_after))
    assert "MedicalClearanceExpired" in [e.type for e in ticked]
    # Decided before the rule: the clearance was valid until midnight UTC, three hours later.
    assert "MedicalClearanceExpired" not in [e.type for e in decide(state, Tick(), ctx(just_after,
                                                                                     office_day_ends=False))]
    assert next_deadline(state) is not None


def state_deadlines(state: Any, office_day_ends: bool) -> list[datetime]:
    from domain.programmes.registry import profile_of
    return profile_of(state).deadlines(state, office_day_ends)


# --- in the workflow: both rules behind their patches, and a recorded history ------------------


async def test_a_case_flying_in_two_hours_runs_both_rules_under_their_patches_and_replays(
        stack: Any, driver: Any) -> None:
    """A resettlement case of the Istanbul office booked on a flight two hours away: its checks
    open due an hour later (patch ``reachable-dues-v1``), its clearances and visas expire at
    midnight in Istanbul (``office-day-ends-v1``, asked by the clock).  Its history is recorded
    for the replay suite with ``ITINERA_RECORD_HISTORIES=1`` (tests/test_replay.py)."""
    import json
    import os
    from pathlib import Path

    from temporalio.worker import Replayer

    from temporal_client import data_converter
    from tests.support.stack import stack_settings
    from tests.test_branches import _patches
    from worker import WORKFLOWS, workflow_runner
    from workflows.case_workflow import OFFICE_DAY_ENDS_PATCH, REACHABLE_DUES_PATCH

    now = datetime.now(UTC)
    forms = {"book_movement": {"flight_number": "KL1960", "departure_at": (now + timedelta(hours=2)).isoformat(),
                               "departure_airport": "IST", "arrival_airport": "OSL"},
             "check_fit_to_travel": {"checked_at": now.isoformat(), "outcome": "fit"},
             "record_departure": {"outcome": "departed", "departed_at": (now + timedelta(minutes=2)).isoformat()}}
    case = await driver.advance(await driver.refer(referral(size=2)), forms=forms)
    assert case["status"] == "closed"
    handle = stack.temporal.get_workflow_handle(case["case_id"])
    await handle.result()
    assert {REACHABLE_DUES_PATCH, OFFICE_DAY_ENDS_PATCH} <= await _patches(handle)
    events = [e["type"] for e in (await driver.client.get(f"/api/v1/cases/{case['case_id']}/events",
                                                             headers=await driver.login("fatma"))).json()]
    assert "TaskOverdue" not in events
    await replays_and_is_recorded(handle, "resettlement_reachable_dues_office_days.json")
