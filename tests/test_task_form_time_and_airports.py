"""A case's task forms: an instant that happened is not after now, and a case's own booking
names known airports in the country it travels to.

* ``checked_at`` (fit to travel) and ``departed_at`` (departure) are refused when after the
  current instant (five minutes allowed for clocks that differ), naming the field and "now" in
  the office's zone: a departure later the same day, or a day and a half ahead with a
  ``-12:00`` offset, was accepted when only its date was compared with today, and a case was
  confirmed arrived and closed before its flight left.  An admission rule (the workflow's
  Update validator, the API's edge, an integration message's intake): a form recorded before
  it replays as decided.
* A case's "Book flight" (``book_movement``, every programme) is refused at the API's edge
  for an unknown IATA code, and for an arrival airport in another country than the case's
  destination (resettlement) or country of return (AVRR), as a group movement's: 422 naming
  the field, why and what is allowed; nothing is recorded.

The pure-core moments are fixed (an Istanbul office, UTC+3), away from the machine's clock;
the stack tests use the clock with margins of hours, so they pass at any hour.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from domain import forms
from domain.case import CompleteTask, DecisionContext, ReferCase, decide, fold
from domain.errors import CommandRejected
from domain.identity import case_id_for
from domain.model import Actor, Referral, Stage
from domain.tasks import TaskType
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.forms import example_form
from tests.support.inbox import send
from tests.support.users import worker_for

ISTANBUL = "Europe/Istanbul"
REFERRED = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 20, 4, 17, tzinfo=UTC)  # 07:17 in Istanbul
MINUS_12 = timezone(timedelta(hours=-12))
PLUS_3 = timezone(timedelta(hours=3))


def ctx(now: datetime = NOW, **rules: Any) -> DecisionContext:
    ids = itertools.count(1)
    return DecisionContext(now=now, actor=Actor(id="emre", role="movement_officer"),
                           new_event_id=lambda: f"e-{next(ids)}", **rules)


def _complete(state: Any, task_type: str, form: dict[str, Any], **rules: Any) -> Any:
    task = next(t for t in state.open_tasks if t.task_type == task_type)
    return fold(decide(state, CompleteTask(task_id=task.task_id, form=form), ctx(**rules)), start=state)


def at_task(wanted: str) -> Any:
    """A family of one of the Istanbul office, worked by the core until ``wanted`` is open: booked
    on a flight two hours after NOW, checked fit ten minutes before NOW."""
    parsed = Referral.model_validate(referral(size=1))
    state = fold(decide(None, ReferCase(case_id=case_id_for(parsed.external_referral_id), referral=parsed,
                                        office_time_zone=ISTANBUL), ctx(REFERRED)))
    own = {TaskType.BOOK_MOVEMENT: {"flight_number": "TK1751", "departure_at": (NOW + timedelta(hours=2)).isoformat(),
                                    "departure_airport": "IST", "arrival_airport": "OSL"},
           TaskType.CHECK_FIT_TO_TRAVEL: {"checked_at": (NOW - timedelta(minutes=10)).isoformat(), "outcome": "fit"}}
    while wanted not in [t.task_type for t in state.open_tasks]:
        task = state.open_tasks[0]
        form = own.get(task.task_type) or example_form(task.model_dump(), NOW.date())
        state = _complete(state, task.task_type, form)
    return state


def _refusal(state: Any, task_type: str, form: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(CommandRejected) as refused:
        _complete(state, task_type, form)
    (detail,) = refused.value.details
    return detail


def test_a_departure_later_the_same_day_is_refused_naming_the_field_and_now_in_istanbul() -> None:
    state = at_task(TaskType.RECORD_DEPARTURE)
    tonight = (NOW + timedelta(hours=13)).astimezone(PLUS_3)  # 20:17 in Istanbul, the same day
    detail = _refusal(state, TaskType.RECORD_DEPARTURE, {"outcome": "departed", "departed_at": tonight.isoformat()})
    assert detail["field"] == "departed_at" and detail["type"] == "in_future"
    assert "after now (2026-11-20 07:17 in Europe/Istanbul)" in detail["reason"]
    assert detail["allowed"] == "2026-11-20T07:22+03:00 or earlier"


def test_a_departure_a_day_and_a_half_ahead_in_minus_12_is_refused() -> None:
    """31 hours ahead, dated the office's today in its own -12:00 offset: the day rule took it."""
    state = at_task(TaskType.RECORD_DEPARTURE)
    ahead = (NOW + timedelta(hours=31)).astimezone(MINUS_12)
    assert ahead.date() == NOW.astimezone(PLUS_3).date()
    detail = _refusal(state, TaskType.RECORD_DEPARTURE, {"outcome": "departed", "departed_at": ahead.isoformat()})
    assert detail["field"] == "departed_at" and "must not be in the future" in detail["reason"]


def test_a_few_minutes_of_clock_skew_are_allowed() -> None:
    state = at_task(TaskType.RECORD_DEPARTURE)
    detail = _refusal(state, TaskType.RECORD_DEPARTURE,
                      {"outcome": "departed", "departed_at": (NOW + timedelta(minutes=6)).isoformat()})
    assert detail["field"] == "departed_at"
    departed = _complete(state, TaskType.RECORD_DEPARTURE,
                         {"outcome": "departed", "departed_at": (NOW + timedelta(minutes=4)).isoformat()})
    assert departed.stage == Stage.ARRIVAL


def test_a_fit_to_travel_check_in_three_hours_is_refused() -> None:
    state = at_task(TaskType.BOOK_MOVEMENT)
    state = _complete(state, TaskType.BOOK_MOVEMENT, {
        "flight_number": "TK1751", "departure_at": (NOW + timedelta(hours=8)).isoformat(),
        "departure_airport": "IST", "arrival_airport": "OSL"})
    later = (NOW + timedelta(hours=3)).astimezone(PLUS_3)
    detail = _refusal(state, TaskType.CHECK_FIT_TO_TRAVEL, {"checked_at": later.isoformat(), "outcome": "fit"})
    assert detail["field"] == "checked_at" and "07:17 in Europe/Istanbul" in detail["reason"]


def test_an_admission_rule_a_recorded_departure_replays_as_decided() -> None:
    """The workflow's handler (admission rules off) decides a recorded form as it was decided:
    under the day rule alone, a departure later that day was taken."""
    state = at_task(TaskType.RECORD_DEPARTURE)
    tonight = (NOW + timedelta(hours=13)).astimezone(PLUS_3)
    replayed = _complete(state, TaskType.RECORD_DEPARTURE, {"outcome": "departed", "departed_at": tonight.isoformat()},
                         admission_rules=False)
    assert replayed.stage == Stage.ARRIVAL and replayed.departed_at == tonight


def test_the_schema_says_the_rules() -> None:
    departed = forms.form_json_schema(forms.RecordDepartureForm)["properties"]["departed_at"]["description"]
    checked = forms.form_json_schema(forms.CheckFitToTravelForm)["properties"]["checked_at"]["description"]
    for description in (departed, checked):
        assert "not after the moment it is entered (up to 5 minutes ahead" in description
    booking = forms.form_json_schema(forms.BookMovementForm)["properties"]
    assert "known airport" in booking["departure_airport"]["description"]
    assert "country of return (AVRR)" in booking["arrival_airport"]["description"]
    assert forms.CASE_RULE in booking["arrival_airport"]["description"]


# --- on the stack: the API's edge, the workflow, an integration message ------------------------


async def _at_booking(driver: CaseDriver, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A case at its movement stage with its other tasks done: the case and its booking task."""
    case = await driver.advance(await driver.refer(body), until=Stage.MOVEMENT)
    while others := [t for t in case["open_tasks"] if t["task_type"] != "book_movement"]:
        case = await driver.complete(others[0], case["office"], case=case)
    return case, next(t for t in case["open_tasks"] if t["task_type"] == "book_movement")


async def _try(driver: CaseDriver, task: dict[str, Any], form: dict[str, Any]) -> httpx.Response:
    headers = await driver.login(worker_for(task, "IST"))
    await driver.client.post(f"/api/v1/tasks/{task['task_id']}/claim", headers=headers)
    return await driver.client.post(f"/api/v1/tasks/{task['task_id']}/complete", json={"form": form},
                                    headers=headers)


async def _version(driver: CaseDriver, case_id: str) -> int:
    r = await driver.client.get(f"/api/v1/cases/{case_id}", headers=await driver.login("fatma"))
    return r.json()["version"]


def _booking(arrival: str, departure: str = "IST", hours: float = 6) -> dict[str, Any]:
    return {"flight_number": "TK1751", "departure_airport": departure, "arrival_airport": arrival,
            "departure_at": (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0).isoformat()}


async def test_a_booking_to_an_unknown_airport_or_another_country_is_refused(driver: CaseDriver) -> None:
    case, book = await _at_booking(driver, referral(size=1))  # bound for Norway
    version = await _version(driver, case["case_id"])
    r = await _try(driver, book, _booking("XXX", departure="ZZZ"))
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_form"
    assert {d["field"]: d["reason"] for d in error["details"]} == {
        "departure_airport": "ZZZ is not a known IATA airport code",
        "arrival_airport": "XXX is not a known IATA airport code"}
    assert all("IATA code" in d["allowed"] for d in error["details"])
    r = await _try(driver, book, _booking("CDG"))
    assert r.status_code == 422, r.text
    (detail,) = r.json()["error"]["details"]
    assert detail["field"] == "arrival_airport"
    assert detail["reason"] == f"CDG is in FR, but case {case['case_id']} is bound for NO"
    assert detail["allowed"] == "an airport in NO"
    assert await _version(driver, case["case_id"]) == version  # nothing recorded
    r = await _try(driver, book, _booking("OSL"))
    assert r.status_code == 200, r.text


async def test_an_avrr_booking_lands_in_the_country_of_return(driver: CaseDriver) -> None:
    body = referral(size=1, programme="avrr", destination_country=None, origin_country="IQ")
    case, book = await _at_booking(driver, body)
    r = await _try(driver, book, _booking("OSL"))
    assert r.status_code == 422, r.text
    (detail,) = r.json()["error"]["details"]
    assert (detail["field"], detail["allowed"]) == ("arrival_airport", "an airport in IQ")
    assert "returns to IQ" in detail["reason"]
    r = await _try(driver, book, _booking("EBL"))
    assert r.status_code == 200, r.text


async def test_a_return_to_a_country_without_an_airport_flies_to_a_neighbours(driver: CaseDriver) -> None:
    """Palestine has no airport of its own in the table: a return is flown to Amman (explore8 #2:
    every airport was refused, and the case could never be booked)."""
    body = referral(size=1, programme="avrr", destination_country=None, origin_country="PS")
    for m in body["members"]:
        m["nationality"] = "PS"
    case, book = await _at_booking(driver, body)
    r = await _try(driver, book, _booking("AMM"))
    assert r.status_code == 200, r.text


async def test_the_example_booking_of_a_case_flies_to_its_destination(driver: CaseDriver) -> None:
    """The demo's and the tests' example form books the case's own country's airport (explore8 #1:
    `make dev` stopped half-way through its demo on 'OSL is in NO, but case ... is bound for CA')."""
    case, book = await _at_booking(driver, referral(size=1, destination_country="CA"))
    done = await driver.complete(book, case["office"], case=case)
    assert done["stage"] == "movement" and done["open_tasks"], done


async def test_a_check_and_a_departure_after_now_are_refused_through_the_api(driver: CaseDriver) -> None:
    case, book = await _at_booking(driver, referral(size=1))
    case = await driver.complete(book, "IST", form=_booking("OSL", hours=3))
    check = next(t for t in case["open_tasks"] if t["task_type"] == "check_fit_to_travel")
    now = datetime.now(UTC).replace(microsecond=0)
    r = await _try(driver, check, {"checked_at": (now + timedelta(hours=3)).astimezone(PLUS_3).isoformat(),
                                   "outcome": "fit"})
    assert r.status_code == 422, r.text
    (detail,) = r.json()["error"]["details"]
    assert detail["field"] == "checked_at" and "in Europe/Istanbul" in detail["reason"]
    case = await driver.complete(check, "IST", form={"checked_at": now.isoformat(), "outcome": "fit"})
    departure = next(t for t in case["open_tasks"] if t["task_type"] == "record_departure")
    for ahead in ((now + timedelta(hours=13)).astimezone(PLUS_3), (now + timedelta(hours=31)).astimezone(MINUS_12)):
        r = await _try(driver, departure, {"outcome": "departed", "departed_at": ahead.isoformat()})
        assert r.status_code == 422, r.text
        (detail,) = r.json()["error"]["details"]
        assert detail["field"] == "departed_at" and "is after now" in detail["reason"], detail
    case = await driver.complete(departure, "IST", form={"outcome": "departed", "departed_at": now.isoformat()})
    assert case["stage"] == "arrival"


async def test_an_integration_departure_in_the_future_is_refused_at_intake(
        http: httpx.AsyncClient, driver: CaseDriver) -> None:
    from tests.test_integrations import _key

    case = await driver.refer(referral(size=1))
    airline = await _key(http, driver, "Airline", ["departure"], ["IST"])
    ahead = (datetime.now(UTC) + timedelta(hours=31)).astimezone(MINUS_12).replace(microsecond=0)
    r = await send(http, airline["api_key"], {"event_type": "departure", "case_id": case["case_id"],
                                              "form": {"outcome": "departed", "departed_at": ahead.isoformat()}})
    assert r.status_code == 422, r.text
    (detail,) = r.json()["error"]["details"]
    assert detail["field"] == "departed_at" and "must not be in the future" in detail["reason"]
