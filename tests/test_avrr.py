"""AVRR cases through the HTTP API: from counselling and informed consent to reintegration,
with the branches (not eligible, refused documents, vulnerability), consent withdrawal at
any stage, and both programmes side by side in the same lists and inboxes."""

from __future__ import annotations

import calendar
import itertools
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from api import readmodel
from domain.programmes.avrr.state import AvrrProgress
from domain.case import DecisionContext, ReferCase, decide, fold
from domain.offices import local_date
from domain.identity import case_id_for
from domain.model import Actor, Referral, Stage
from domain.sla import SLA_HOURS
from store.projection import rebuild_case_projection
from tests.support.driver import CaseDriver
from tests.support.factories import member, referral


def avrr_referral(size: int = 1, **overrides: Any) -> dict[str, Any]:
    body = referral(size=size, **{"programme": "avrr", "destination_country": None, "origin_country": "IQ",
                                  **overrides})
    body["members"][0] = member("Karwan Aziz", "1991-02-17", "principal", sex="male", nationality="IQ")
    for m in body["members"][1:]:
        m["nationality"] = "IQ"
    return body


def _months_ahead(months: int) -> str:
    today = datetime.now(UTC).date()
    year, month = today.year + (today.month - 1 + months) // 12, (today.month - 1 + months) % 12 + 1
    return date(year, month, min(today.day, calendar.monthrange(year, month)[1])).isoformat()


def _day(n: int = 0) -> str:
    return (datetime.now(UTC).date() + timedelta(days=n)).isoformat()


def _office_day() -> str:
    """Today in the demo offices (Istanbul): a withdrawal of consent is not dated before the
    day the case was referred there, which after 21:00 UTC is tomorrow's UTC date."""
    return local_date(datetime.now(UTC), "Europe/Istanbul").isoformat()


def _task(case: dict[str, Any], task_type: str) -> dict[str, Any]:
    return next(t for t in case["open_tasks"] if t["task_type"] == task_type)


def _types(case: dict[str, Any]) -> list[str]:
    return [t["task_type"] for t in case["open_tasks"]]


async def _events(http: httpx.AsyncClient, driver: CaseDriver, case_id: str) -> list[dict[str, Any]]:
    return (await http.get(f"/api/v1/cases/{case_id}/events", headers=await driver.login("fatma"))).json()


async def _complete(http: httpx.AsyncClient, driver: CaseDriver, user: str, task: dict[str, Any],
                    form: dict[str, Any]) -> httpx.Response:
    return await http.post(f"/api/v1/tasks/{task['task_id']}/complete", json={"form": form},
                           headers=await driver.login(user))


async def test_a_full_avrr_case_end_to_end_through_the_api(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    created = await http.post("/api/v1/cases", json=avrr_referral(size=2), headers=await driver.login("ayse"))
    assert created.status_code == 201, created.text
    case = created.json()
    assert (case["programme"], case["origin_country"], case["destination_country"]) == ("avrr", "IQ", None)
    assert (case["stage"], case["stage_label"]) == ("referral", "Application and consent")
    assert case["avrr"]["consent_status"] == "pending" and case["avrr"]["escort_required"] is False
    assert _types(case) == ["record_counselling"]

    # Referral / application: counselling, then informed consent (which may not predate it).
    case = await driver.complete(_task(case, "record_counselling"), "IST", form={
        "session_date": _day(), "language": "ku", "options_explained": True})
    consent = _task(case, "record_consent")
    early = await _complete(http, driver, "ayse", consent, {
        "given_by": "Karwan Aziz", "given_on": _day(-1), "language": "ku", "signed_form_reference": "AVRR-IST-0142"})
    assert early.status_code == 422 and early.json()["error"]["details"][0]["field"] == "given_on"
    case = await driver.complete(consent, "IST", form={
        "given_by": "Karwan Aziz", "given_on": _day(), "language": "ku", "signed_form_reference": "AVRR-IST-0142"})
    assert (case["stage"], case["stage_label"]) == ("interview", "Eligibility and vulnerability")
    assert case["avrr"]["consent_status"] == "given" and case["avrr"]["consent_given_on"] == _day()

    # Interview: eligible; the screening finds medical needs: urgent, with an escort.
    case = await driver.complete(_task(case, "assess_eligibility"), "IST",
                                 form={"assessed_on": _day(), "outcome": "eligible"})
    assert case["avrr"]["eligibility"] == "eligible" and case["priority"] == "normal"
    case = await driver.complete(_task(case, "screen_vulnerability"), "IST", form={
        "screened_on": _day(), "medical_needs": True, "escort_required": True, "notes": "Needs dialysis."})
    assert case["priority"] == "urgent" and case["avrr"]["escort_required"] is True
    assert (case["stage"], case["stage_label"]) == ("health", "Fit to travel")
    fit = [t for t in case["open_tasks"] if t["task_type"] == "assess_fit_to_travel"]
    assert len(fit) == 2 and {t["role"] for t in fit} == {"medical_officer"}
    for task in fit:  # opened after the raise: due by the urgent SLA
        opened, due = datetime.fromisoformat(task["opened_at"]), datetime.fromisoformat(task["due_at"])
        assert due - opened == timedelta(hours=SLA_HOURS[Stage.HEALTH]["urgent"])
    for task in fit:
        case = await driver.complete(task, "IST")

    # Orientation: pre-departure counselling on reintegration support.
    assert (case["stage"], case["stage_label"], _types(case)) == (
        "orientation", "Pre-departure counselling", ["record_predeparture_counselling"])
    case = await driver.complete(case["open_tasks"][0], "IST")

    # Visa -> travel documents per member, then the exit permission.
    assert (case["stage"], case["stage_label"]) == ("visa", "Travel documents")
    assert _types(case) == ["record_travel_document"] * 2
    for task in list(case["open_tasks"]):
        case = await driver.complete(task, "IST")
    assert all(m["visa_status"] == "issued" for m in case["members"])
    case = await driver.complete(_task(case, "record_exit_permission"), "IST")
    assert case["avrr"]["exit_permission"] == "granted"

    # Movement: the escort first, then the booking, fit-to-travel checks, consent reconfirmed, departure.
    assert (case["stage"], case["stage_label"], _types(case)) == ("movement", "Return travel", ["arrange_escort"])
    case = await driver.complete(case["open_tasks"][0], "IST", form={
        "escort_type": "medical", "escort_name": "Dr. Elif Arslan", "organisation": "IOM Türkiye"})
    case = await driver.complete(_task(case, "book_movement"), "IST")
    for task in [t for t in case["open_tasks"] if t["task_type"] == "check_fit_to_travel"]:
        case = await driver.complete(task, "IST")
    reconfirm = _task(case, "reconfirm_consent")
    assert reconfirm["role"] == "caseworker" and reconfirm["due_at"] == case["key_dates"]["departure_at"]
    case = await driver.complete(reconfirm, "IST")
    assert case["avrr"]["consent_status"] == "reconfirmed"
    case = await driver.complete(_task(case, "record_departure"), "IST")

    # Arrival: reception at origin, confirmed by the receiving office, which must be named.
    assert (case["stage"], case["stage_label"]) == ("arrival", "Reception at origin")
    confirm = _task(case, "confirm_arrival")
    unnamed = await _complete(http, driver, "ayse", confirm, {"arrived_on": _day(), "place": "Erbil"})
    assert unnamed.status_code == 422 and unnamed.json()["error"]["details"][0]["field"] == "receiving_partner"
    case = await driver.complete(confirm, "IST", form={"arrived_on": _day(), "place": "Erbil",
                                                       "receiving_partner": "IOM Iraq, Erbil"})

    # Reintegration: the plan, each item's delivery, monitoring scheduled from the arrival.
    assert (case["stage"], case["stage_label"], _types(case)) == (
        "reintegration", "Reintegration", ["record_reintegration_plan"])
    visits = case["avrr"]["monitoring_visits"]
    assert [v["months_after_arrival"] for v in visits] == [3, 6, 12]
    # each opens at midnight of its day in the office's zone (Istanbul), not in UTC
    opens = [datetime.fromisoformat(v["opens_at"]).astimezone(ZoneInfo("Europe/Istanbul")) for v in visits]
    assert [o.date().isoformat() for o in opens] == [_months_ahead(n) for n in (3, 6, 12)]
    assert all(o.time() == time(0) for o in opens) and all(v["visited_on"] is None for v in visits)
    case = await driver.complete(case["open_tasks"][0], "IST", form={
        "agreed_on": _day(), "partner": "IOM Iraq, Erbil", "items": [
            {"kind": "economic", "description": "Small business grant: grocery shop", "amount": "2000.00",
             "currency": "USD"},
            {"kind": "psychosocial", "description": "Six counselling sessions"}]})
    plan = case["avrr"]["reintegration_plan"]
    assert [(i["item_number"], i["kind"], i["amount"], i["delivered_on"]) for i in plan] == [
        (1, "economic", "2000.00", None), (2, "psychosocial", None, None)]
    delivery = _task(case, "record_assistance_delivery")
    unknown = await _complete(http, driver, "ayse", delivery, {"item_number": 3, "delivered_on": _day()})
    assert unknown.status_code == 422 and "items 1 to 2" in unknown.json()["error"]["message"]
    case = await driver.complete(delivery, "IST", form={"item_number": 2, "delivered_on": _day()})
    again = await _complete(http, driver, "ayse", _task(case, "record_assistance_delivery"),
                            {"item_number": 2, "delivered_on": _day()})
    assert again.status_code == 422 and "undelivered: 1" in again.json()["error"]["message"]
    case = await driver.complete(_task(case, "record_assistance_delivery"), "IST",
                                 form={"item_number": 1, "delivered_on": _day()})
    assert all(i["delivered_on"] == _day() for i in case["avrr"]["reintegration_plan"])

    # The plan is delivered: the supervisor closes the case.
    close = _task(case, "close_reintegration")
    assert close["role"] == "supervisor"
    denied = await _complete(http, driver, "ayse", close, {"decision": "close", "reason": "Done."})
    assert denied.status_code == 403
    case = await driver.complete(close, "IST", form={"decision": "close", "reason": "Plan delivered."})
    assert (case["status"], case["closure_reason"], case["open_tasks"]) == ("closed", "reintegration_completed", [])

    types = [e["type"] for e in await _events(http, driver, case["case_id"])]
    for earlier, later in [("CounsellingRecorded", "ConsentRecorded"), ("ConsentRecorded", "EligibilityAssessed"),
                           ("VulnerabilityScreened", "PriorityRaised"), ("PriorityRaised", "FitToTravelAssessed"),
                           ("TravelDocumentIssued", "ExitPermissionGranted"), ("EscortArranged", "MovementBooked"),
                           ("FitToTravelChecked", "ConsentReconfirmed"), ("ConsentReconfirmed", "CaseDeparted"),
                           ("ArrivalConfirmed", "MonitoringVisitsScheduled"),
                           ("ReintegrationPlanRecorded", "AssistanceDelivered"),
                           ("AssistanceDelivered", "ReintegrationClosureDecided")]:
        assert types.index(earlier) < types.index(later), (earlier, later)
    assert types[-1] == "CaseClosed" and types.count("AssistanceDelivered") == 2


async def _at_reintegration(driver: CaseDriver) -> dict[str, Any]:
    return await driver.advance(await driver.refer(avrr_referral(size=1)), until=Stage.REINTEGRATION)


@pytest.mark.parametrize("stage", [Stage.REFERRAL, Stage.VISA, Stage.REINTEGRATION])
async def test_consent_withdrawn_stops_the_case_at_once_at_any_stage(http: httpx.AsyncClient, driver: CaseDriver,
                                                                      stage: Stage) -> None:
    case = await driver.advance(await driver.refer(avrr_referral(size=2)), until=stage)
    assert case["stage"] == stage and case["open_tasks"]
    if stage == Stage.VISA:  # on hold too: a withdrawal of consent does not wait for a supervisor
        held = await http.post(f"/api/v1/cases/{case['case_id']}/hold", json={"reason": "Consulate closed."},
                               headers=await driver.login("fatma"))
        assert held.json()["status"] == "on_hold"
    body = {"withdrawn_by": "Karwan Aziz", "withdrawn_on": _office_day(), "language": "ku",
            "reason": "Found work in Istanbul; wants to stay."}
    r = await http.post(f"/api/v1/cases/{case['case_id']}/consent-withdrawal", json=body,
                        headers=await driver.login("ayse"))
    assert r.status_code == 200, r.text
    closed = r.json()
    assert (closed["status"], closed["closure_reason"], closed["open_tasks"]) == ("closed", "consent_withdrawn", [])
    assert closed["avrr"]["consent_status"] == "withdrawn"
    events = await _events(http, driver, case["case_id"])
    withdrawn = next(e for e in events if e["type"] == "ConsentWithdrawn")
    assert withdrawn["data"] == body and withdrawn["actor"]["id"] == "ayse"
    assert {e["type"] for e in events[withdrawn["seq"]:-1]} == {"TaskCancelled"}  # the open work, cancelled
    assert events[-1]["type"] == "CaseClosed" and events[-1]["data"] == {"reason": "consent_withdrawn",
                                                                         "stage": stage.value}
    again = await http.post(f"/api/v1/cases/{case['case_id']}/consent-withdrawal", json=body,
                            headers=await driver.login("ayse"))
    assert again.status_code == 409 and again.json()["error"]["code"] == "case_closed"


async def test_consent_withdrawal_is_for_avrr_cases_and_caseworkers(http: httpx.AsyncClient,
                                                                    driver: CaseDriver) -> None:
    body = {"withdrawn_by": "Amina Haddad", "withdrawn_on": _office_day(), "language": "ar",
            "reason": "Changed her mind."}
    resettlement = await driver.refer(referral(size=1))
    r = await http.post(f"/api/v1/cases/{resettlement['case_id']}/consent-withdrawal", json=body,
                        headers=await driver.login("ayse"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "wrong_programme"
    assert "/withdraw" in r.json()["error"]["message"]

    case = await driver.refer(avrr_referral())
    path = f"/api/v1/cases/{case['case_id']}/consent-withdrawal"
    medical = await http.post(path, json=body, headers=await driver.login("selin"))
    assert medical.status_code == 403
    future = await http.post(path, json={**body, "withdrawn_on": _day(2)}, headers=await driver.login("ayse"))
    assert future.status_code == 422 and future.json()["error"]["details"][0]["field"] == "withdrawn_on"
    other_office = await http.post(path, json=body, headers=await driver.login("mehmet"))
    assert other_office.status_code == 404
    still = (await http.get(f"/api/v1/cases/{case['case_id']}", headers=await driver.login("ayse"))).json()
    assert still["status"] == "active" and still["avrr"]["consent_status"] == "pending"


async def test_an_avrr_referral_names_the_country_of_origin_not_a_destination(http: httpx.AsyncClient,
                                                                               driver: CaseDriver) -> None:
    headers = await driver.login("ayse")
    no_origin = await http.post("/api/v1/cases", json=avrr_referral(origin_country=None), headers=headers)
    assert no_origin.status_code == 422 and "origin_country is required" in no_origin.json()["error"]["message"]
    with_destination = await http.post("/api/v1/cases", json=avrr_referral(destination_country="NO"), headers=headers)
    assert with_destination.status_code == 422 and "destination_country" in with_destination.json()["error"]["message"]


async def test_both_programmes_share_lists_inboxes_and_filters_with_their_own_stage_labels(
        http: httpx.AsyncClient, driver: CaseDriver) -> None:
    avrr = await driver.advance(await driver.refer(avrr_referral()), until=Stage.VISA)
    resettlement = await driver.advance(await driver.refer(referral(size=1)), until=Stage.VISA)
    headers = await driver.login("ayse")
    listed = (await http.get("/api/v1/cases", params={"stage": "visa", "limit": 200}, headers=headers)).json()["items"]
    labels = {c["case_id"]: (c["programme"], c["stage_label"]) for c in listed}
    assert labels[avrr["case_id"]] == ("avrr", "Travel documents")
    assert labels[resettlement["case_id"]] == ("resettlement", "Visa")
    only_avrr = (await http.get("/api/v1/cases", params={"programme": "avrr", "limit": 200},
                                headers=headers)).json()["items"]
    assert avrr["case_id"] in {c["case_id"] for c in only_avrr} and {c["programme"] for c in only_avrr} == {"avrr"}

    inbox = (await http.get("/api/v1/tasks", params={"stage": "visa", "limit": 200}, headers=headers)).json()["items"]
    mine = {t["case_id"]: t for t in inbox if t["case_id"] in (avrr["case_id"], resettlement["case_id"])}
    assert (mine[avrr["case_id"]]["task_type"], mine[avrr["case_id"]]["stage_label"]) == (
        "record_travel_document", "Travel documents")
    assert (mine[resettlement["case_id"]]["task_type"], mine[resettlement["case_id"]]["stage_label"]) == (
        "record_visa", "Visa")
    detail = (await http.get(f"/api/v1/tasks/{mine[avrr['case_id']]['task_id']}", headers=headers)).json()
    assert detail["programme"] == "avrr" and "issuing_consulate" in detail["form_schema"]["properties"]
    assert (await http.get(f"/api/v1/cases/{resettlement['case_id']}", headers=headers)).json()["avrr"] is None


async def test_not_eligible_goes_to_the_supervisor_who_may_reassess_or_close(http: httpx.AsyncClient,
                                                                             driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(avrr_referral()), until=Stage.INTERVIEW)
    case = await driver.complete(_task(case, "assess_eligibility"), "IST", form={
        "assessed_on": _day(), "outcome": "not_eligible", "not_eligible_reason": "Holds a residence permit."})
    assert _types(case) == ["review_outcome"]
    review = _task(case, "review_outcome")
    resubmit = await _complete(http, driver, "fatma", review, {"decision": "resubmit", "destination_country": "SE",
                                                               "reason": "Elsewhere."})
    assert resubmit.status_code == 422 and "reassess, close" in resubmit.json()["error"]["message"]
    case = await driver.complete(review, "IST", form={"decision": "reassess", "reason": "Permit has expired."})
    case = await driver.complete(_task(case, "assess_eligibility"), "IST", form={
        "assessed_on": _day(), "outcome": "not_eligible", "not_eligible_reason": "Permit renewed."})
    case = await driver.complete(_task(case, "review_outcome"), "IST", form={"decision": "close", "reason": "Final."})
    assert (case["status"], case["closure_reason"]) == ("closed", "not_eligible")


async def test_refused_travel_document_and_exit_permission_branch_as_in_resettlement(http: httpx.AsyncClient,
                                                                                   driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(avrr_referral(size=2)), until=Stage.VISA)
    first, second = case["open_tasks"]
    case = await driver.complete(first, "IST", form={"outcome": "refused", "decided_on": _day(),
                                                     "refusal_reason": "Nationality not confirmed."})
    assert _types(case) == ["review_outcome"]  # the other member's document task is cancelled
    case = await driver.complete(case["open_tasks"][0], "IST", form={"decision": "reapply",
                                                                     "reason": "Birth certificate found."})
    assert _types(case) == ["record_travel_document"] * 2  # the refused one, and the cancelled one again
    for task in list(case["open_tasks"]):
        case = await driver.complete(task, "IST")
    case = await driver.complete(_task(case, "record_exit_permission"), "IST", form={
        "outcome": "refused", "authority": "Istanbul Provincial Directorate of Migration Management",
        "decided_on": _day(), "refusal_reason": "Pending court case."})
    assert case["avrr"]["exit_permission"] == "refused" and _types(case) == ["review_outcome"]
    case = await driver.complete(case["open_tasks"][0], "IST", form={"decision": "close", "reason": "Cannot leave."})
    assert (case["status"], case["closure_reason"]) == ("closed", "exit_permission_refused")
    types = [e["type"] for e in await _events(http, driver, case["case_id"])]
    assert "TravelDocumentRefused" in types and "ExitPermissionRefused" in types


async def test_an_unaccompanied_minor_is_an_emergency_and_always_escorted(http: httpx.AsyncClient,
                                                                          driver: CaseDriver) -> None:
    body = avrr_referral()
    body["members"][0] = member("Ali Rezaei", "2010-05-01", "principal", sex="male", nationality="IQ")
    case = await driver.advance(await driver.refer(body), until=Stage.INTERVIEW)
    case = await driver.complete(_task(case, "assess_eligibility"), "IST")
    screening = _task(case, "screen_vulnerability")
    unescorted = await _complete(http, driver, "ayse", screening, {"screened_on": _day(), "unaccompanied_minor": True})
    assert unescorted.status_code == 422
    assert unescorted.json()["error"]["details"][0]["field"] == "escort_required"
    case = await driver.complete(screening, "IST", form={"screened_on": _day(), "unaccompanied_minor": True,
                                                         "escort_required": True})
    assert (case["priority"], case["avrr"]["escort_required"]) == ("emergency", True)
    raised = next(e for e in await _events(http, driver, case["case_id"]) if e["type"] == "PriorityRaised")
    assert raised["data"]["previous_priority"] == "normal" and "unaccompanied_minor" in raised["data"]["reason"]
    case = await driver.advance(case, until=Stage.MOVEMENT)
    assert _types(case) == ["arrange_escort"]  # no booking before the escort is arranged


async def test_a_no_show_asks_for_consent_again_for_the_new_flight(http: httpx.AsyncClient,
                                                                   driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(avrr_referral()), until=Stage.MOVEMENT)
    case = await driver.complete(_task(case, "book_movement"), "IST")
    case = await driver.complete(_task(case, "check_fit_to_travel"), "IST")
    case = await driver.complete(_task(case, "reconfirm_consent"), "IST")
    assert case["avrr"]["consent_status"] == "reconfirmed"
    case = await driver.complete(_task(case, "record_departure"), "IST",
                                 form={"outcome": "no_show", "reason": "Did not come to the airport."})
    assert _types(case) == ["book_movement"] and case["avrr"]["consent_status"] == "given"
    case = await driver.complete(_task(case, "book_movement"), "IST")
    case = await driver.complete(_task(case, "check_fit_to_travel"), "IST")
    reconfirm = _task(case, "reconfirm_consent")  # (the example flight has left already: overdue at once)
    assert reconfirm["due_at"] == case["key_dates"]["departure_at"]
    assert {t for t in _types(case)} <= {"reconfirm_consent", "resolve_escalation"}


async def test_the_avrr_read_model_rebuilds_from_events_alone(stack, driver: CaseDriver) -> None:
    case = await _at_reintegration(driver)
    case = await driver.complete(_task(case, "record_reintegration_plan"), "IST")
    case = await driver.complete(_task(case, "record_assistance_delivery"), "IST", case=case)
    async with stack.pool.acquire() as conn:
        before = await readmodel.get_case(conn, case["case_id"])
        await rebuild_case_projection(conn, case["case_id"])
        after = await readmodel.get_case(conn, case["case_id"])
    assert before is not None and before.avrr is not None
    assert [i.delivered_on is not None for i in before.avrr.reintegration_plan] == [True, False]
    assert len(before.avrr.monitoring_visits) == 3
    assert after == before


def test_a_resettlement_case_records_exactly_what_it_did_before_avrr() -> None:
    """The shared core grew AVRR without changing a resettlement case's events or task ids."""
    ids = itertools.count(1)
    ctx = DecisionContext(now=datetime(2026, 11, 23, 9, tzinfo=UTC), actor=Actor(id="ayse", role="caseworker"),
                          new_event_id=lambda: f"e-{next(ids)}")
    body = Referral.model_validate(referral(size=1))
    events = decide(None, ReferCase(case_id=case_id_for(body.external_referral_id), referral=body), ctx)
    referred = events[0].event.model_dump(mode="json")
    assert list(referred) == ["type", "case_id", "programme", "office", "priority", "destination_country",
                              "origin_country", "external_referral_id", "members", "referral_fingerprint",
                              "arrival_confirmation_days"]
    state = fold(events)
    assert state is not None and not isinstance(state.programme_data, AvrrProgress)
    assert [t.task_id for t in state.open_tasks] == [f"{state.case_id}-T01"]

    avrr = Referral.model_validate(avrr_referral())
    avrr_events = decide(None, ReferCase(case_id=case_id_for(avrr.external_referral_id), referral=avrr,
                                         monitoring_months=[2, 4]), ctx)
    assert avrr_events[0].event.model_dump(mode="json")["monitoring_months"] == [2, 4]
    assert fold(avrr_events).programme_data.monitoring_months == [2, 4]  # type: ignore[union-attr]


async def test_a_reintegration_plan_in_a_code_that_is_not_money_is_refused_and_changes_nothing(
        http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await _at_reintegration(driver)
    plan = _task(case, "record_reintegration_plan")
    before = len(await _events(http, driver, case["case_id"]))
    for code in ("XXX", "XTS", "XAU", "ABC"):
        r = await _complete(http, driver, "ayse", plan, {"agreed_on": _day(), "items": [
            {"kind": "psychosocial", "description": "Six counselling sessions"},
            {"kind": "economic", "description": "Small business grant", "amount": "2000.00", "currency": code}]})
        assert r.status_code == 422, r.text
        detail = r.json()["error"]["details"][0]
        assert detail["field"].endswith("items.1.currency") and code in detail["reason"], detail
    assert len(await _events(http, driver, case["case_id"])) == before
    schema = (await http.get(f"/api/v1/tasks/{plan['task_id']}", headers=await driver.login("ayse"))).json()
    currency = schema["form_schema"]["$defs"]["ReintegrationItem"]["properties"]["currency"]["anyOf"][0]
    assert "USD" in currency["enum"] and "XXX" not in currency["enum"]
    case = await driver.complete(plan, "IST", form={"agreed_on": _day(), "items": [
        {"kind": "economic", "description": "Small business grant", "amount": "2000.00", "currency": "IQD"}]})
    assert case["avrr"]["reintegration_plan"][0]["currency"] == "IQD"
