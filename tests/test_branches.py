"""Outcomes that branch, each through the HTTP API, each leaving its event in the history."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from domain.engine.flow import end_of
from domain.model import Stage
from tests.support.clocks import ClockCase
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from workflows.case_workflow import REVIEW_RULES_PATCH


def _day(n: int = 0) -> str:
    return (datetime.now(UTC).date() + timedelta(days=n)).isoformat()


def _task(case: dict[str, Any], task_type: str) -> dict[str, Any]:
    return next(t for t in case["open_tasks"] if t["task_type"] == task_type)


async def _events(http: httpx.AsyncClient, driver: CaseDriver, case_id: str) -> list[dict[str, Any]]:
    return (await http.get(f"/api/v1/cases/{case_id}/events", headers=await driver.login("fatma"))).json()


async def test_deferred_interview_opens_a_follow_up_due_on_its_date(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.INTERVIEW)
    first = _task(case, "conduct_interview")
    case = await driver.complete(first, "IST", form={"interview_date": _day(), "outcome": "deferred",
                                                     "follow_up_date": _day(14), "notes": "Awaiting documents."})
    follow_up = _task(case, "conduct_interview")
    assert follow_up["task_id"] != first["task_id"] and case["stage"] == "interview"
    # The end of the follow-up day in the case's office: midnight in Istanbul (21:00 UTC).
    assert datetime.fromisoformat(follow_up["due_at"]) == end_of(date.fromisoformat(_day(14)), "Europe/Istanbul")
    case = await driver.complete(follow_up, "IST", form={"interview_date": _day(), "outcome": "accepted"})
    assert case["stage"] == "health"
    outcomes = [e["data"]["outcome"] for e in await _events(http, driver, case["case_id"])
                if e["type"] == "InterviewCompleted"]
    assert outcomes == ["deferred", "accepted"]


async def test_deferral_without_a_date_names_the_field(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.INTERVIEW)
    r = await http.post(f"/api/v1/tasks/{_task(case, 'conduct_interview')['task_id']}/complete",
                        json={"form": {"interview_date": _day(), "outcome": "deferred"}},
                        headers=await driver.login("ayse"))
    assert r.status_code == 422
    assert [d["field"] for d in r.json()["error"]["details"]] == ["follow_up_date"]


async def test_rejected_case_is_resubmitted_to_another_country_with_history_kept(http: httpx.AsyncClient,
                                                                                driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.INTERVIEW)
    case = await driver.complete(_task(case, "conduct_interview"), "IST", form={
        "interview_date": _day(), "outcome": "rejected", "rejection_reason": "Not within the quota criteria."})
    review = _task(case, "review_outcome")
    assert review["role"] == "supervisor" and case["stage"] == "interview"

    # Resubmitting to the same country is refused, naming the field.
    same = await http.post(f"/api/v1/tasks/{review['task_id']}/complete", headers=await driver.login("fatma"),
                           json={"form": {"decision": "resubmit", "destination_country": "NO", "reason": "Again."}})
    assert same.status_code == 422 and same.json()["error"]["details"][0]["field"] == "destination_country"
    reassess = await http.post(f"/api/v1/tasks/{review['task_id']}/complete", headers=await driver.login("fatma"),
                               json={"form": {"decision": "reassess", "reason": "Try again."}})
    assert reassess.status_code == 422 and "resubmit, close" in reassess.json()["error"]["message"]
    # A third country, as for a referral (explore9 F23): not the office's host country, not the
    # country the refugees are nationals of.
    nationality = case["members"][0]["nationality"]
    for country, why in (("TR", "host country of office IST"), (nationality, "is a national of")):
        refused = await http.post(f"/api/v1/tasks/{review['task_id']}/complete", headers=await driver.login("fatma"),
                                  json={"form": {"decision": "resubmit", "destination_country": country,
                                                 "reason": "Elsewhere."}})
        assert refused.status_code == 422, refused.text
        [detail] = refused.json()["error"]["details"]
        assert detail["field"] == "destination_country" and why in detail["reason"], detail

    case = await driver.complete(review, "IST", form={"decision": "resubmit", "destination_country": "SE",
                                                      "reason": "Sweden accepts this profile."})
    assert case["stage"] == "referral" and case["destination_country"] == "SE"
    assert [t["task_type"] for t in case["open_tasks"]] == ["verify_referral"]
    types = [e["type"] for e in await _events(http, driver, case["case_id"])]
    assert types.count("CaseReferred") == 1 and "CaseResubmitted" in types
    assert types.index("InterviewCompleted") < types.index("CaseResubmitted")  # history kept, in order
    case = await driver.advance(case)
    assert case["status"] == "closed" and case["closure_reason"] == "arrived"


async def test_a_review_is_not_decided_without_a_reason(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    """explore11: "   " closed a case with an empty recorded reason (Field(min_length=1) on Notes
    never held); the schema says so too."""
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.INTERVIEW)
    case = await driver.complete(_task(case, "conduct_interview"), "IST", form={
        "interview_date": _day(), "outcome": "rejected", "rejection_reason": "Exclusion clause applies."})
    review = _task(case, "review_outcome")
    headers = await driver.login("fatma")
    blank = await http.post(f"/api/v1/tasks/{review['task_id']}/complete", headers=headers,
                            json={"form": {"decision": "close", "reason": "   "}})
    assert blank.status_code == 422 and blank.json()["error"]["details"][0]["field"] == "reason", blank.text
    detail = (await http.get(f"/api/v1/tasks/{review['task_id']}", headers=headers)).json()
    assert '"minLength": 1' in json.dumps(detail["form_schema"]) and detail["status"] == "open"


async def test_rejected_case_can_be_closed_as_not_accepted(driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.INTERVIEW)
    case = await driver.complete(_task(case, "conduct_interview"), "IST", form={
        "interview_date": _day(), "outcome": "rejected", "rejection_reason": "Exclusion clause applies."})
    case = await driver.complete(_task(case, "review_outcome"), "IST",
                                 form={"decision": "close", "reason": "No other option."})
    assert (case["status"], case["closure_reason"], case["open_tasks"]) == ("closed", "not_accepted", [])


async def test_medical_hold_then_reassessment_then_the_case_moves(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=2)), until=Stage.HEALTH)
    first, second = [t for t in case["open_tasks"] if t["task_type"] == "assess_health"]
    case = await driver.complete(first, "IST", form={"assessment_date": _day(), "outcome": "treatment_required",
                                                     "tb_classification": "class_b1", "notes": "TB treatment."})
    case = await driver.complete(second, "IST")
    assert case["stage"] == "health"  # one member on medical hold keeps the case here
    held = next(m for m in case["members"] if m["member_id"] == first["member_id"])
    assert held["health_status"] == "treatment_required"
    treatment = _task(case, "record_treatment")
    assert treatment["member_id"] == first["member_id"] and treatment["role"] == "medical_officer"
    case = await driver.complete(treatment, "IST")
    reassessment = _task(case, "assess_health")
    assert reassessment["member_id"] == first["member_id"]
    case = await driver.complete(reassessment, "IST")
    assert case["stage"] == "orientation"
    assert all(m["health_status"] == "cleared" for m in case["members"])


async def test_member_not_cleared_goes_to_the_supervisor(driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.HEALTH)
    case = await driver.complete(_task(case, "assess_health"), "IST",
                                 form={"assessment_date": _day(), "outcome": "not_cleared", "notes": "Unfit."})
    review = _task(case, "review_outcome")
    case = await driver.complete(review, "IST", form={"decision": "reassess", "reason": "Second opinion."})
    case = await driver.complete(_task(case, "assess_health"), "IST",
                                 form={"assessment_date": _day(), "outcome": "not_cleared"})
    case = await driver.complete(_task(case, "review_outcome"), "IST",
                                 form={"decision": "close", "reason": "Final: active TB class A."})
    assert (case["status"], case["closure_reason"]) == ("closed", "medically_not_cleared")
    # The supervisor's reason for a medical outcome is a health detail: a caseworker and a
    # movement officer see that it was reviewed and decided, not why (events, history, UI).
    for user in ("ayse", "emre"):
        headers = await driver.login(user)
        events = (await driver.client.get(f"/api/v1/cases/{case['case_id']}/events", headers=headers)).json()
        reviews = [e for e in events if e["type"] == "OutcomeReviewed"]
        assert [r["data"].get("decision") for r in reviews] == ["reassess", "close"]
        assert all("reason" not in r["data"] for r in reviews), reviews
        history = (await driver.client.get(f"/api/v1/cases/{case['case_id']}/history", headers=headers)).text
        assert "TB class A" not in history and "Second opinion" not in history
    fatma = await driver.login("fatma")
    events = (await driver.client.get(f"/api/v1/cases/{case['case_id']}/events", headers=fatma)).json()
    assert "TB class A" in [e for e in events if e["type"] == "OutcomeReviewed"][-1]["data"]["reason"]


async def test_visa_refused_then_closed(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=2)), until=Stage.VISA)
    first = case["open_tasks"][0]
    case = await driver.complete(first, "IST", form={"outcome": "refused", "decided_on": _day(),
                                                     "refusal_reason": "Security screening."})
    assert [t["task_type"] for t in case["open_tasks"]] == ["review_outcome"]  # the other visa task is cancelled
    case = await driver.complete(case["open_tasks"][0], "IST", form={"decision": "close", "reason": "Refused."})
    assert (case["status"], case["closure_reason"]) == ("closed", "visa_refused")
    assert "VisaRefused" in [e["type"] for e in await _events(http, driver, case["case_id"])]


async def test_no_show_and_postponement_open_a_rebooking(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.MOVEMENT)
    for outcome in ("no_show", "postponed"):
        case = await driver.complete(_task(case, "book_movement"), "IST")
        assert case["key_dates"]["departure_at"] is not None
        case = await driver.complete(_task(case, "check_fit_to_travel"), "IST")
        case = await driver.complete(_task(case, "record_departure"), "IST",
                                     form={"outcome": outcome, "reason": "Did not travel."})
        assert [t["task_type"] for t in case["open_tasks"]] == ["book_movement"]
        assert case["key_dates"]["departure_at"] is None
    types = [e["type"] for e in await _events(http, driver, case["case_id"])]
    assert "MovementNoShow" in types and "MovementPostponed" in types
    case = await driver.advance(case)
    assert case["closure_reason"] == "arrived"


async def test_fit_to_travel_checks_lie_within_72_hours_before_the_flight(http: httpx.AsyncClient,
                                                                        driver: CaseDriver) -> None:
    """(A check that has gone stale because the flight left later is refused at departure: a
    core test, tests/test_core_properties.py, since it needs days to pass.)"""
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.MOVEMENT)
    booked_for = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    case = await driver.complete(_task(case, "book_movement"), "IST", form={
        "flight_number": "TK1751", "departure_at": booked_for.isoformat(), "departure_airport": "IST",
        "arrival_airport": "OSL"})
    check = _task(case, "check_fit_to_travel")
    too_early = await http.post(f"/api/v1/tasks/{check['task_id']}/complete", headers=await driver.login("selin"),
                                json={"form": {"checked_at": (booked_for - timedelta(hours=73)).isoformat(),
                                               "outcome": "fit"}})
    assert too_early.status_code == 422
    assert too_early.json()["error"]["details"][0]["field"] == "checked_at"
    # Within the 72 hours, and not dated before the case was referred (moments ago).
    checked = datetime.now(UTC).replace(microsecond=0)
    case = await driver.complete(check, "IST", form={"checked_at": checked.isoformat(), "outcome": "fit"})
    assert [t["task_type"] for t in case["open_tasks"]] == ["record_departure"]


async def test_a_flight_that_has_already_left_cannot_be_booked(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.MOVEMENT)
    task = _task(case, "book_movement")
    left = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    r = await http.post(f"/api/v1/tasks/{task['task_id']}/complete", headers=await driver.login("emre"), json={
        "form": {"flight_number": "TK1751", "departure_at": left.isoformat(), "departure_airport": "IST",
                 "arrival_airport": "OSL"}})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "departure_at"
    assert "already left" in r.json()["error"]["message"]


async def test_not_fit_to_travel_sends_the_member_to_treatment_and_the_case_to_rebooking(driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.MOVEMENT)
    case = await driver.complete(_task(case, "book_movement"), "IST")
    case = await driver.complete(_task(case, "check_fit_to_travel"), "IST",
                                 form={"checked_at": f"{_day()}T00:00:00+00:00", "outcome": "not_fit"})
    assert case["stage"] == "health" and [t["task_type"] for t in case["open_tasks"]] == ["record_treatment"]
    case = await driver.advance(case, until=Stage.MOVEMENT)
    assert [t["task_type"] for t in case["open_tasks"]] == ["book_movement"]  # orientation and visa still count


async def test_arrival_is_confirmed_with_date_and_place(driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.ARRIVAL)
    case = await driver.complete(_task(case, "confirm_arrival"), "IST",
                                 form={"arrived_on": _day(), "place": "Bergen", "receiving_partner": "Bergen kommune"})
    assert case["status"] == "closed" and case["key_dates"]["arrived_on"] == _day()


async def test_four_eyes_on_medical_hold_release_and_resubmission(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.HEALTH)
    case = await driver.complete(_task(case, "assess_health"), "IST", form={
        "assessment_date": _day(), "outcome": "treatment_required", "notes": "Treatment first."})
    treatment = _task(case, "record_treatment")
    same = await http.post(f"/api/v1/tasks/{treatment['task_id']}/complete", headers=await driver.login("selin"),
                           json={"form": {"completed_on": _day()}})
    assert same.status_code == 403 and same.json()["error"]["code"] == "four_eyes"
    # Nor is it claimed for her (explore9 F2): parked with her, it was kept from every colleague.
    claim = await http.post(f"/api/v1/tasks/{treatment['task_id']}/claim", headers=await driver.login("selin"))
    assert claim.status_code == 403 and claim.json()["error"]["code"] == "four_eyes", claim.text
    assert "another medical officer must claim and complete it" in claim.json()["error"]["message"]
    case = await driver.complete(treatment, "IST")  # by another medical officer, who may claim it
    assert _task(case, "assess_health")

    rejected = await driver.advance(await driver.refer(referral(size=1)), until=Stage.INTERVIEW)
    interview = _task(rejected, "conduct_interview")
    r = await http.post(f"/api/v1/tasks/{interview['task_id']}/complete", headers=await driver.login("fatma"),
                        json={"form": {"interview_date": _day(), "outcome": "rejected", "rejection_reason": "x"}})
    review = _task(r.json(), "review_outcome")
    own = await http.post(f"/api/v1/tasks/{review['task_id']}/complete", headers=await driver.login("fatma"),
                          json={"form": {"decision": "resubmit", "destination_country": "SE", "reason": "y"}})
    assert own.status_code == 403 and own.json()["error"]["code"] == "four_eyes"
    close = await http.post(f"/api/v1/tasks/{review['task_id']}/complete", headers=await driver.login("fatma"),
                            json={"form": {"decision": "close", "reason": "No option."}})
    assert close.status_code == 200 and close.json()["closure_reason"] == "not_accepted"


# --- the review rules (DecisionContext.review_rules, patch "review-rules-v1") ---------------------


async def _patches(handle: Any) -> set[str]:
    """The patch ids whose markers a case's workflow history holds."""
    history = await handle.fetch_history()
    markers = [e.marker_recorded_event_attributes for e in history.events
               if e.HasField("marker_recorded_event_attributes")]
    return {json.loads(m.details["patch-data"].payloads[0].data)["id"] for m in markers if m.marker_name == "core_patch"}


async def test_two_members_not_cleared_get_one_supervisor_review(stack: Any, driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=2)), until=Stage.HEALTH)
    for task in [t for t in case["open_tasks"] if t["task_type"] == "assess_health"]:
        case = await driver.complete(task, "IST", form={"assessment_date": _day(), "outcome": "not_cleared",
                                                        "notes": "Unfit to travel."})
    assert [t["task_type"] for t in case["open_tasks"]] == ["review_outcome"]  # one review decides for both
    case = await driver.complete(_task(case, "review_outcome"), "IST",
                                 form={"decision": "reassess", "reason": "Second opinion for both."})
    reassessments = [t for t in case["open_tasks"] if t["task_type"] == "assess_health"]
    assert sorted(t["member_id"] for t in reassessments) == sorted(m["member_id"] for m in case["members"])
    assert len(case["open_tasks"]) == 2
    # The workflow runs the fixed rule under its patch, asked by this decision only.
    assert REVIEW_RULES_PATCH in await _patches(stack.temporal.get_workflow_handle(case["case_id"]))


async def test_a_plain_refusal_costs_no_patch_marker(stack: Any, driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.VISA)
    case = await driver.complete(_task(case, "record_visa"), "IST", form={
        "outcome": "refused", "decided_on": _day(), "refusal_reason": "Security screening."})
    case = await driver.complete(_task(case, "review_outcome"), "IST", form={"decision": "close", "reason": "Refused."})
    assert case["closure_reason"] == "visa_refused"
    patches = await _patches(stack.temporal.get_workflow_handle(case["case_id"]))
    assert REVIEW_RULES_PATCH not in patches and patches  # the case's other patches are there


async def _clock_case(clock: Any, stack: Any, size: int) -> ClockCase:
    return await ClockCase.refer(clock, stack.pool, size=size)


async def test_a_refused_visa_waits_for_the_supervisor_after_a_clearance_expiry(clock: Any, stack: Any) -> None:
    """On the time-skipping server: the visa is refused, the medical clearance expires (back to
    health, the review cancelled), the member is cleared again: the case returns to the visa
    stage and its review, never to movement with the visa refused."""
    case = await _clock_case(clock, stack, size=1)
    today = lambda: case.env.get_current_time()  # noqa: E731
    await case.work_until("visa", forms={"assess_health": lambda now: {
        "assessment_date": now.date().isoformat(), "outcome": "cleared",
        "clearance_valid_until": (now + timedelta(days=10)).date().isoformat()}})
    visa = next(t for t in await case.open_tasks() if t["task_type"] == "record_visa")
    await case.complete(visa, {"outcome": "refused", "decided_on": (await today()).date().isoformat(),
                               "refusal_reason": "Security screening."})

    async def back_in_health() -> bool:
        return (await case.row())["stage"] == "health"

    await case.skip(timedelta(days=12), back_in_health)
    assessment = next(t for t in await case.open_tasks() if t["task_type"] == "assess_health")
    now = await today()
    await case.complete(assessment, {"assessment_date": now.date().isoformat(), "outcome": "cleared",
                                     "clearance_valid_until": (now + timedelta(days=200)).date().isoformat()})
    assert (await case.row())["stage"] == "visa"
    in_flow = [t["task_type"] for t in await case.open_tasks() if t["task_type"] != "resolve_escalation"]
    assert in_flow == ["review_outcome"]
    review = next(t for t in await case.open_tasks() if t["task_type"] == "review_outcome")
    await case.complete(review, {"decision": "close", "reason": "The visa stays refused."})
    row = await case.row()
    assert (row["status"], row["closure_reason"]) == ("closed", "visa_refused")
    async with case.pool.acquire() as conn:
        opened = {r["task_type"] for r in await conn.fetch("SELECT task_type FROM tasks WHERE case_id = $1",
                                                           case.case_id)}
    assert "book_movement" not in opened  # the case never went to movement
    assert REVIEW_RULES_PATCH in await _patches(case.handle)


async def test_a_refusal_cancels_the_escalations_of_the_visa_tasks_it_cancels(clock: Any, stack: Any) -> None:
    """On the time-skipping server: both visa tasks go overdue (two escalations), one visa is
    refused: the other visa task and its escalation are cancelled, the supervisor's inbox holds
    the review and nothing for a cancelled task."""
    case = await _clock_case(clock, stack, size=2)
    await case.work_until("visa")

    async def two_escalations() -> bool:
        return sum(t["task_type"] == "resolve_escalation" for t in await case.open_tasks()) == 2

    await case.skip(timedelta(days=61), two_escalations)
    visa = next(t for t in await case.open_tasks() if t["task_type"] == "record_visa")
    today = (await case.env.get_current_time()).date().isoformat()
    await case.complete(visa, {"outcome": "refused", "decided_on": today, "refusal_reason": "Security screening."})
    assert [t["task_type"] for t in await case.open_tasks()] == ["review_outcome"]
