"""Days of a case's own work are not before its referral, and the days a clock opens something
on start in the office's time zone; decided by the pure core.

* An interview, a health assessment, an orientation session, a monitoring visit... (the forms'
  ``HappenedSinceReferral`` fields) dated before the day the case was referred, in its office's
  time zone, is refused naming the field and that day: an admission rule (the workflow's
  Update validators), so forms recorded before it replay as decided.  A visa's or a travel
  document's issue date, or an authority's decision, may be older than the case.
* An AVRR monitoring visit opens, and a child of a family reunification turns 18, at midnight
  in the office's time zone (``office_day_starts``, patch ``office-day-starts-v1``); cases
  decided before the rule keep the UTC day.

The moments are fixed (an Istanbul office, UTC+3), so the tests do not depend on the hour
they run at.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from domain import forms
from domain.case import CompleteTask, DecisionContext, ReferCase, Tick, decide, fold
from domain.engine.clocks import next_deadline
from domain.engine.draft import Draft
from domain.errors import CommandRejected
from domain.identity import case_id_for
from domain.model import Actor, Referral, Stage
from domain.programmes.avrr import flow as avrr_flow
from domain.programmes.avrr.forms import TravelDocumentIssuedForm
from domain.programmes.avrr.state import data as avrr_data
from domain.programmes.family_reunification.state import birthday
from domain.programmes.resettlement.forms import (
    ConductInterviewForm,
    InterviewAcceptedForm,
    RecordOrientationForm,
    RecordVisaIssuedForm,
)
from domain.tasks import TaskType
from tests.support.driver import CaseDriver
from tests.support.factories import member, referral
from tests.support.histories import replays_and_is_recorded

ISTANBUL = "Europe/Istanbul"
# 01:30 in Istanbul on 1 December is 22:30 UTC on 30 November: the case was referred on the 1st.
REFERRED = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
CASEWORKER = Actor(id="ayse", role="caseworker")


def ctx(now: datetime = NOW, **rules: Any) -> DecisionContext:
    ids = itertools.count(1)
    return DecisionContext(now=now, actor=CASEWORKER, new_event_id=lambda: f"e-{next(ids)}", **rules)


def refer(body: dict[str, Any], at: datetime = REFERRED) -> Any:
    parsed = Referral.model_validate(body)
    command = ReferCase(case_id=case_id_for(parsed.external_referral_id), referral=parsed, office_time_zone=ISTANBUL)
    return fold(decide(None, command, ctx(at)))


def complete(state: Any, task_type: str, form: dict[str, Any], **rules: Any) -> Any:
    task = next(t for t in state.open_tasks if t.task_type == task_type)
    return fold(decide(state, CompleteTask(task_id=task.task_id, form=form), ctx(**rules)), start=state)


def at_interview() -> Any:
    return complete(refer(referral(size=1)), TaskType.VERIFY_REFERRAL, {"documents_checked": True})


# --- days of the case's own work ------------------------------------------------------------------


def test_an_interview_typed_two_years_early_is_refused_naming_the_field_and_the_referral_day() -> None:
    state = at_interview()
    with pytest.raises(CommandRejected) as refused:
        complete(state, TaskType.CONDUCT_INTERVIEW, {"interview_date": "2024-12-02", "outcome": "accepted"})
    (detail,) = refused.value.details
    assert detail["field"] == "interview_date" and detail["type"] == "case_rule"
    assert "before the case was referred (2026-12-01 in Europe/Istanbul)" in detail["reason"]
    assert "allowed are 2026-12-01 to 2026-12-03" in detail["reason"]
    assert "interview_date" in refused.value.message
    # An admission rule: an interview recorded before it replays as decided.
    replayed = complete(state, TaskType.CONDUCT_INTERVIEW, {"interview_date": "2024-12-02", "outcome": "accepted"},
                        admission_rules=False)
    assert replayed.stage == "health"


def test_the_referral_day_is_the_office_s_day_not_utc_s() -> None:
    state = at_interview()
    # 30 November is the referral's day in UTC, not in Istanbul, where the case was referred.
    with pytest.raises(CommandRejected) as refused:
        complete(state, TaskType.CONDUCT_INTERVIEW, {"interview_date": "2026-11-30", "outcome": "accepted"})
    assert refused.value.details[0]["field"] == "interview_date"
    on_the_day = complete(state, TaskType.CONDUCT_INTERVIEW, {"interview_date": "2026-12-01", "outcome": "accepted"})
    assert on_the_day.stage == "health"


def test_a_health_assessment_before_the_referral_is_refused() -> None:
    state = complete(at_interview(), TaskType.CONDUCT_INTERVIEW, {"interview_date": "2026-12-01", "outcome": "accepted"})
    form = {"assessment_date": "2025-12-02", "outcome": "cleared", "clearance_valid_until": "2027-05-20",
            "tb_classification": "none", "follow_up_needed": False}
    with pytest.raises(CommandRejected) as refused:
        complete(state, TaskType.ASSESS_HEALTH, form)
    assert [d["field"] for d in refused.value.details] == ["assessment_date"]


def test_which_days_are_bound_by_the_referral_and_the_schema_says_so() -> None:
    assert forms.since_referral_fields(InterviewAcceptedForm) == ("interview_date",)
    assert forms.since_referral_fields(RecordOrientationForm) == ("session_date",)
    # A visa or a travel document may have been issued before the case was referred.
    assert forms.since_referral_fields(RecordVisaIssuedForm) == ()
    assert forms.since_referral_fields(TravelDocumentIssuedForm) == ()
    schema = forms.form_json_schema(ConductInterviewForm)
    assert "nor before the day the case was referred" in schema["properties"]["interview_date"]["description"]
    assert forms.CASE_RULE in schema["properties"]["interview_date"]["description"]
    visa = forms.form_json_schema(RecordVisaIssuedForm)["properties"]["issued_on"]["description"]
    assert "referred" not in visa


# --- days a clock opens something on ----------------------------------------------------------------

SPONSOR = {"full_name": "Yusuf Haddad", "protection_status": "subsidiary_protection",
           "residence_permit": "DE-BER-AT-2025-118402", "city": "Berlin", "contact": "+49 30 1234567"}
EIGHTEENTH = date(2026, 12, 8)


def family_with_a_son_turning_18() -> Any:
    son = member("Omar Haddad", birthday(EIGHTEENTH, -18).isoformat(), "child", sex="male")
    wife = member("Lina Haddad", "1990-04-02", "spouse")
    return refer(referral(programme="family_reunification", destination_country="DE", sponsor=SPONSOR,
                          members=[wife, son]), at=NOW)


def test_a_child_turns_18_at_midnight_in_the_office_under_office_day_starts() -> None:
    state = family_with_a_son_turning_18()
    istanbul_midnight = datetime(2026, 12, 7, 21, 0, tzinfo=UTC)  # 00:00 on the 8th in Istanbul
    assert next_deadline(state, True, True) == istanbul_midnight
    assert next_deadline(state, True, False) == datetime(2026, 12, 8, 0, 0, tzinfo=UTC)  # decided before the rule
    half_past = istanbul_midnight + timedelta(minutes=30)
    flagged = decide(state, Tick(), ctx(half_past))
    turned = [r.event for r in flagged if r.event.type == "MinorTurnedEighteen"]
    assert [(e.birthday, e.member_id) for e in turned] == [(EIGHTEENTH, state.members[1].member_id)]
    assert "review_age_out" in [t.task_type for t in fold(flagged, start=state).open_tasks]
    # A case decided before the rule flags the son at midnight UTC, as it did.
    assert not [r for r in decide(state, Tick(), ctx(half_past, office_day_starts=False))
                if r.event.type == "MinorTurnedEighteen"]


def returned_migrant(arrived_on: date, **rules: Any) -> list[Any]:
    """The monitoring visits an AVRR case of the Istanbul office schedules on its arrival."""
    body = referral(size=1, programme="avrr", destination_country=None, origin_country="IQ")
    body["members"][0] = member("Karwan Aziz", "1991-02-17", "principal", sex="male", nationality="IQ")
    state = refer(body, at=NOW)
    state.arrived_on = arrived_on
    draft = Draft(state, ctx(**rules), state.case_id)
    avrr_flow._schedule_monitoring(draft)
    return avrr_data(draft.s).monitoring


def test_a_monitoring_visit_opens_at_midnight_in_the_office_under_office_day_starts() -> None:
    visits = returned_migrant(date(2026, 12, 3))
    # Three months after 3 December: 3 March, from 00:00 in Istanbul (21:00 UTC the day before).
    assert visits[0].opens_at == datetime(2027, 3, 2, 21, 0, tzinfo=UTC)
    before = returned_migrant(date(2026, 12, 3), office_day_starts=False)
    assert before[0].opens_at == datetime(2027, 3, 3, 0, 0, tzinfo=UTC)
    assert [v.months_after_arrival for v in visits] == [v.months_after_arrival for v in before]


# --- in the workflow: the rule behind its patch, and a recorded history ----------------------------


async def test_a_family_with_a_child_asks_office_day_starts_and_replays(stack: Any, driver: Any) -> None:
    """A family of the Istanbul office with a child: its age-out clock asks the patch
    ``office-day-starts-v1`` when it is armed; the history replays.  Recorded for the replay
    suite with ``ITINERA_RECORD_HISTORIES=1`` (tests/test_replay.py)."""
    import json
    import os
    from pathlib import Path

    from temporalio.worker import Replayer

    from temporal_client import data_converter
    from tests.support.stack import stack_settings
    from tests.test_branches import _patches
    from tests.test_family_reunification import family
    from worker import WORKFLOWS, workflow_runner
    from workflows.case_workflow import OFFICE_DAY_STARTS_PATCH

    case = await driver.refer(family())
    assert case["office_time_zone"] == ISTANBUL
    case = await driver.complete(case["open_tasks"][0], case["office"], case=case)
    handle = stack.temporal.get_workflow_handle(case["case_id"])
    assert OFFICE_DAY_STARTS_PATCH in await _patches(handle)
    await replays_and_is_recorded(handle, "family_reunification_office_day_starts.json")


async def test_a_departure_before_the_case_was_referred_is_refused(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    """explore11: a departure dated before the case existed was recorded; the moments of a
    case's journey are not dated before the day it was referred either."""
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.MOVEMENT)
    soon = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    case = await driver.complete(next(t for t in case["open_tasks"] if t["task_type"] == "book_movement"), "IST",
                                 form={"flight_number": "TK1751", "departure_at": soon.isoformat(),
                                       "departure_airport": "IST", "arrival_airport": "OSL"})
    check = next(t for t in case["open_tasks"] if t["task_type"] == "check_fit_to_travel")
    before = (datetime.fromisoformat(case["key_dates"]["referred_at"]) - timedelta(days=2)).isoformat()
    headers = await driver.login("selin")
    await http.post(f"/api/v1/tasks/{check['task_id']}/claim", headers=headers)
    refused = await http.post(f"/api/v1/tasks/{check['task_id']}/complete", headers=headers,
                              json={"form": {"checked_at": before, "outcome": "fit"}})
    assert refused.status_code == 422, refused.text
    [detail] = refused.json()["error"]["details"]
    assert detail["field"] == "checked_at" and "must not be dated before the day the case was referred" in detail["reason"], detail
