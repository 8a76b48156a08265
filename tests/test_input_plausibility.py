"""Input that passes every shape rule but cannot be right, refused where it is entered.

* A day a case plans (an embassy appointment, a follow-up interview) lies at most two years
  after the day it is entered: 2199-12-31 is a typo.  The bound moves with the calendar, so
  it is an ADMISSION rule (``domain.forms.admission_rule``): a form recorded before it, and
  the workflow handler's decision, are never judged by it.
* Resettlement and family reunification move people to a third country: a referral naming
  the referring office's host country (``ITINERA_OFFICE_COUNTRIES``: IST and IZM are in TR)
  as ``destination_country`` is refused when it is sent (``api.commands``), never a recorded one.
* A person's name has at least one letter: U+2800 BRAILLE PATTERN BLANK (a symbol, So)
  renders as nothing; emoji and joiners beside letters are kept.
* AVRR's vulnerability screening says ``unaccompanied_minor`` only when a member is under 18
  on the screening day (a rule checked against the case, at admission only).
* A webhook subscription's ``description`` is a ``Line``: no direction overrides.
* A case's history refuses ``since`` after ``until`` (422 naming both), as the reports do.

Each refusal names the field, why, and what is allowed; the served JSON Schema says the rule.
The unit tests fix the day; the tests through the stack use days far inside or outside the
bounds, so the hour and the office's time zone (Istanbul, UTC+3) never decide them.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from api.commands import CaseCommands
from api.errors import ApiError
from api.routes.webhooks import SubscriptionRequest
from domain.case import DecisionContext, ReferCase, decide, fold
from domain.forms import form_json_schema, latest_planned_day, parse_form
from domain.identity import case_id_for
from domain.model import Actor, Referral
from domain.offices import OFFICE_COUNTRIES, check_office_countries, host_country_problem, local_date
from domain.person_names import person_name_problem
from domain.programmes.avrr.admission import check_a_minor as _check_a_minor, check_no_minor_alone as _check_no_minor_alone
from domain.programmes.avrr.forms import ScreenVulnerabilityForm
from domain.programmes.family_reunification.forms import BookEmbassyAppointmentForm
from domain.programmes.resettlement.forms import ConductInterviewForm
from domain.errors import CommandRejected
from domain.referral_request import ReferralRequest
from settings import Settings
from tests.support.browser import signed_in
from tests.support.driver import CaseDriver
from tests.support.factories import member, referral
from tests.support.pages import Page
from tests.support.stack import Stack
from tests.test_family_reunification import family

DAY = date(2026, 12, 4)
ISTANBUL = "Europe/Istanbul"
NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def _appointment(at: str) -> dict[str, Any]:
    return {"appointment_at": at, "place": "German Embassy Beirut", "reference": "DE-BEY-FAP-2026-3318"}


def _deferred(follow_up: str) -> dict[str, Any]:
    return {"interview_date": DAY.isoformat(), "outcome": "deferred", "follow_up_date": follow_up}


# --- a) a planned day: at most two years after the day it is entered ----------------------------


def test_the_latest_planned_day_is_two_years_on() -> None:
    assert latest_planned_day(DAY) == date(2028, 12, 4)
    assert latest_planned_day(date(2028, 2, 29)) == date(2030, 3, 1)


def test_an_appointment_in_2199_is_refused_naming_the_field_and_the_latest_day() -> None:
    with pytest.raises(ValidationError) as refused:
        parse_form(BookEmbassyAppointmentForm, _appointment("2199-12-31T23:59:00-12:00"), today=DAY)
    [error] = refused.value.errors()
    assert error["loc"] == ("appointment_at",) and error["type"] == "date_too_far"
    assert "more than two years after today (2026-12-04)" in error["msg"] and "2028-12-04" in error["msg"]
    assert error["ctx"]["expected"] == "a day from today to 2028-12-04 (at most two years ahead)"
    # the last day is allowed, in any offset; the day after is not
    assert parse_form(BookEmbassyAppointmentForm, _appointment("2028-12-04T23:30:00-05:00"), today=DAY)
    with pytest.raises(ValidationError, match="appointment_at"):
        parse_form(BookEmbassyAppointmentForm, _appointment("2028-12-05T00:10:00+03:00"), today=DAY)


def test_a_follow_up_interview_is_held_to_it_too() -> None:
    assert parse_form(ConductInterviewForm, _deferred("2028-12-04"), today=DAY).follow_up_date == date(2028, 12, 4)
    with pytest.raises(ValidationError) as refused:
        parse_form(ConductInterviewForm, _deferred("2199-01-01"), today=DAY)
    assert [e["loc"] for e in refused.value.errors()] == [("follow_up_date",)]


def test_a_recorded_form_is_never_judged_by_it() -> None:
    """The workflow handler's decision (``admission=False``) replays what was recorded."""
    form = parse_form(BookEmbassyAppointmentForm, _appointment("2199-12-31T23:59:00-12:00"), today=DAY, admission=False)
    assert form.appointment_at.year == 2199
    assert parse_form(ConductInterviewForm, _deferred("2199-01-01"), today=DAY, admission=False)


def test_the_form_schemas_say_the_bound() -> None:
    for form, field in ((BookEmbassyAppointmentForm, "appointment_at"), (ConductInterviewForm, "follow_up_date")):
        description = form_json_schema(form)["properties"][field]["description"]
        assert "at most two years after that day" in description, (field, description)


# --- b) no destination in the referring office's host country --------------------------------


def _to(destination: str | None, programme: str = "resettlement", office: str = "IST") -> dict[str, Any]:
    if programme == "family_reunification":
        return family(office=office, destination_country=destination)
    return referral(office=office, destination_country=destination)


def test_the_host_country_is_refused_as_destination() -> None:
    assert OFFICE_COUNTRIES == {"IST": "TR", "IZM": "TR"} and Settings().office_countries == OFFICE_COUNTRIES
    reason, allowed = host_country_problem("IST", "TR")  # type: ignore[misc]
    assert "TR is the host country of office IST" in reason and "another country" in reason
    assert allowed == "any country other than TR"
    # AVRR: the country of return may not be the one the person is in either
    assert host_country_problem("IZM", "TR")[1] == "any country other than TR"  # type: ignore[index]
    assert host_country_problem("IST", "NO") is None
    assert host_country_problem("IST", None) is None
    assert host_country_problem("BEY", "TR") is None  # an office with no country set
    assert host_country_problem("BEY", "LB", {"BEY": "LB"}) is not None


def test_the_setting_is_checked() -> None:
    assert check_office_countries({"BEY": "LB"}) == {"BEY": "LB"}
    with pytest.raises(ValueError, match="office BEY"):
        check_office_countries({"BEY": "Lebanon"})


async def test_commands_refuse_it_before_any_workflow_is_asked() -> None:
    """Every way a referral comes in (API, UI, import, integration inbox) passes ``CaseCommands``;
    the check needs no Temporal (no client is used)."""
    commands = CaseCommands(None, "unused")  # type: ignore[arg-type]
    actor = Actor(id="ayse", role="caseworker")
    for body in (_to("TR"), _to("TR", "family_reunification")):
        with pytest.raises(ApiError) as refused:
            await commands.refer(Referral.model_validate(body), actor)
        assert refused.value.status == 422
        [detail] = refused.value.details
        assert detail["field"] == "destination_country" and "host country of office IST" in detail["reason"]
        assert detail["allowed"] == "any country other than TR"
    with pytest.raises(ApiError):
        await commands.accept_referral(Referral.model_validate(_to("TR")), actor)
    # AVRR: a return from Türkiye to Türkiye
    back_home = referral(programme="avrr", destination_country=None, origin_country="TR")
    with pytest.raises(ApiError) as refused:
        await commands.refer(Referral.model_validate(back_home), actor)
    [detail] = refused.value.details
    assert detail["field"] == "origin_country" and "host country of office IST" in detail["reason"]


def test_a_recorded_referral_to_the_host_country_still_folds() -> None:
    parsed = Referral.model_validate(_to("TR"))
    ids = itertools.count(1)
    ctx = DecisionContext(now=NOW, actor=Actor(id="ayse", role="caseworker"), new_event_id=lambda: f"e-{next(ids)}",
                          admission_rules=False)
    state = fold(decide(None, ReferCase(case_id=case_id_for(parsed.external_referral_id), referral=parsed,
                                        office_time_zone=ISTANBUL), ctx))
    assert state.destination_country == "TR"


def test_the_referral_schema_says_it() -> None:
    description = ReferralRequest.model_json_schema()["properties"]["destination_country"]["description"]
    assert "Not the host country of the referring office" in description and "third country" in description
    description = ReferralRequest.model_json_schema()["properties"]["origin_country"]["description"]
    assert "Not the host country of the referring office" in description


# --- c) a name has a letter -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["\u2800", "\u2800\u2800 \u2800", "\U0001F600", "1234", "- ."])
def test_a_name_without_a_letter_is_refused(name: str) -> None:
    problem = person_name_problem(name)
    assert problem is not None and "has no letter" in problem, problem
    body = referral(size=1)
    body["members"][0]["full_name"] = name
    with pytest.raises(ValidationError) as refused:
        ReferralRequest.model_validate(body)
    [error] = refused.value.errors()
    assert error["loc"] == ("members", 0, "full_name") and "at least one letter" in error["ctx"]["expected"]


@pytest.mark.parametrize("name", ["Amina \U0001F469\u200D\U0001F467 Haddad", "محمدی\u200cنژاد", "李小龙", "O'Neil-Ba",
                                  "Nguyễn Văn A"])
def test_names_with_letters_are_kept(name: str) -> None:
    assert person_name_problem(name) is None


def test_a_recorded_name_is_never_judged_by_it() -> None:
    body = referral(size=1)
    body["members"][0]["full_name"] = "\u2800"
    assert Referral.model_validate(body).members[0].full_name == "\u2800"


# --- d) an unaccompanied minor is under 18 on the screening day --------------------------------


def _avrr_state(*born: str) -> Any:
    body = referral(size=1, programme="avrr", destination_country=None, origin_country="IQ")
    body["members"] = [member(f"Person {i}", dob, "principal" if i == 0 else "child", nationality="IQ")
                       for i, dob in enumerate(born)]
    parsed = Referral.model_validate(body)
    ids = itertools.count(1)
    ctx = DecisionContext(now=NOW, actor=Actor(id="ayse", role="caseworker"), new_event_id=lambda: f"e-{next(ids)}")
    return fold(decide(None, ReferCase(case_id=case_id_for(parsed.external_referral_id), referral=parsed,
                                       office_time_zone=ISTANBUL), ctx))


def test_no_member_under_18_is_no_unaccompanied_minor() -> None:
    with pytest.raises(CommandRejected) as refused:
        _check_a_minor(_avrr_state("1990-01-01"), DAY)
    [detail] = refused.value.details
    assert detail["field"] == "unaccompanied_minor" and "Person 0 (36)" in detail["reason"]
    assert "under 18" in detail["allowed"]
    # turning 18 on the screening day is 18; the day before it is 17
    with pytest.raises(CommandRejected):
        _check_a_minor(_avrr_state("2008-12-04"), DAY)
    _check_a_minor(_avrr_state("2008-12-05"), DAY)
    _check_a_minor(_avrr_state("1990-01-01", "2012-06-01"), DAY)


def test_a_case_of_minors_only_is_an_unaccompanied_minor() -> None:
    """explore9 F18: a 16-year-old returning alone was screened 'not an unaccompanied minor' and
    booked with no escort; the dates of birth the case holds outweigh the tick."""
    with pytest.raises(CommandRejected) as refused:
        _check_no_minor_alone(_avrr_state("2010-06-06"), DAY)
    [detail] = refused.value.details
    assert detail["field"] == "unaccompanied_minor" and "Person 0 (16)" in detail["reason"]
    assert detail["allowed"].startswith("true (with escort_required true)")
    with pytest.raises(CommandRejected):
        _check_no_minor_alone(_avrr_state("2010-06-06", "2012-01-01"), DAY)  # siblings, no adult
    _check_no_minor_alone(_avrr_state("1990-01-01", "2012-06-01"), DAY)  # a parent returns with the child
    _check_no_minor_alone(_avrr_state("2008-12-04"), DAY)  # 18 on the screening day


def test_the_screening_form_says_it() -> None:
    description = form_json_schema(ScreenVulnerabilityForm)["properties"]["unaccompanied_minor"]["description"]
    assert "under 18 on screened_on" in description and "checked against the case" in description
    assert "whenever every member is under 18" in description


# --- e) a webhook's description is one line without direction controls -------------------------


def test_a_webhook_description_refuses_a_direction_override() -> None:
    body = {"url": "https://partner.example/hooks", "event_types": ["case.arrived"], "offices": ["IST"]}
    with pytest.raises(ValidationError) as refused:
        SubscriptionRequest.model_validate({**body, "description": "exe.\u202etxt"})
    [error] = refused.value.errors()
    assert error["loc"] == ("description",) and "RIGHT-TO-LEFT OVERRIDE" in error["msg"]
    assert SubscriptionRequest.model_validate({**body, "description": "Partner feed (عربي)"})
    schema = SubscriptionRequest.model_json_schema()["properties"]["description"]
    assert "direction overrides" in schema["description"]


# --- through the stack ------------------------------------------------------------------------


def _day(n: int = 0) -> str:
    return (local_date(datetime.now(UTC), ISTANBUL) + timedelta(days=n)).isoformat()


async def _no_case_for(http: httpx.AsyncClient, driver: CaseDriver, body: dict[str, Any]) -> None:
    found = await http.get("/api/v1/cases", params={"q": body["external_referral_id"]},
                           headers=await driver.login("fatma"))
    assert found.status_code == 200 and found.json()["items"] == []


def _tasks(case: dict[str, Any], task_type: str) -> list[dict[str, Any]]:
    return [t for t in case["open_tasks"] if t["task_type"] == task_type]


async def _post(http: httpx.AsyncClient, driver: CaseDriver, task: dict[str, Any], form: dict[str, Any]) -> httpx.Response:
    headers = await driver.login("ayse")
    (await http.post(f"/api/v1/tasks/{task['task_id']}/claim", headers=headers)).raise_for_status()
    return await http.post(f"/api/v1/tasks/{task['task_id']}/complete", json={"form": form}, headers=headers)


async def test_the_api_refuses_a_referral_to_the_host_country(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    for body in (_to("TR"), _to("TR", "family_reunification")):
        answer = await http.post("/api/v1/cases", json=body, headers=await driver.login("ayse"))
        assert answer.status_code == 422, answer.text
        [detail] = answer.json()["error"]["details"]
        assert detail["field"] == "destination_country" and "host country" in detail["reason"], detail
        assert detail["allowed"] == "any country other than TR"
        await _no_case_for(http, driver, body)


def _ui_fields(body: dict[str, Any]) -> dict[str, str]:
    """The referral form's fields of a referral body (one row per member)."""
    fields = {k: body[k] for k in ("programme", "office", "priority", "destination_country", "external_referral_id")}
    for i, person in enumerate(body["members"]):
        fields |= {f"members-{i}-{k}": v for k, v in person.items()}
    return fields


async def test_the_ui_form_shows_it_next_to_the_field(stack: Stack, http: httpx.AsyncClient,
                                                      driver: CaseDriver) -> None:
    body = _to("TR")
    async with signed_in(stack, "ayse") as ayse:
        form = Page((await ayse.get("/ui/refer")).text)
        answer = await ayse.post("/ui/refer", data={"csrf_token": form.csrf, **_ui_fields(body)})
        assert answer.status_code == 422, answer.text
        error = Page(answer.text).field_error("destination_country")
        assert "host country" in error, error
    await _no_case_for(http, driver, body)


async def test_the_api_refuses_a_blank_name(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    body = referral(size=1)
    body["members"][0]["full_name"] = "\u2800"
    answer = await http.post("/api/v1/cases", json=body, headers=await driver.login("ayse"))
    assert answer.status_code == 422, answer.text
    [detail] = answer.json()["error"]["details"]
    assert detail["field"] == "body.members.0.full_name" and "no letter" in detail["reason"], detail
    await _no_case_for(http, driver, body)


async def test_an_appointment_centuries_ahead_is_refused_and_changes_nothing(http: httpx.AsyncClient,
                                                                          driver: CaseDriver) -> None:
    case = await driver.refer(family())
    for task in _tasks(case, "assess_relationship"):
        case = await driver.complete(task, "IST")
    for task in _tasks(case, "record_documents"):
        case = await driver.complete(task, "IST", form={"received_on": _day(), "passport": True,
                                                        "civil_documents": True, "proof_of_relationship": True})
    [book] = _tasks(case, "book_embassy_appointment")
    refused = await _post(http, driver, book, _appointment("2199-12-31T23:59:00-12:00"))
    assert refused.status_code == 422, refused.text
    [detail] = refused.json()["error"]["details"]
    assert detail["field"] == "appointment_at" and "more than two years after today" in detail["reason"], detail
    assert "at most two years ahead" in detail["allowed"]
    events = (await http.get(f"/api/v1/cases/{case['case_id']}/events", headers=await driver.login("fatma"))).json()
    assert "EmbassyAppointmentBooked" not in [e["type"] for e in events]
    in_a_month = (datetime.now(UTC) + timedelta(days=30)).isoformat(timespec="seconds")
    booked = await driver.complete(book, "IST", form=_appointment(in_a_month), claim=False)
    assert booked["programme_data"]["appointment"]["outcome"] == "booked"


async def test_a_screening_of_adults_as_an_unaccompanied_minor_is_refused(http: httpx.AsyncClient,
                                                                        driver: CaseDriver) -> None:
    from domain.model import Stage

    body = referral(size=1, programme="avrr", destination_country=None, origin_country="IQ")
    body["members"][0] = member("Karwan Aziz", "1990-02-17", "principal", sex="male", nationality="IQ")
    case = await driver.advance(await driver.refer(body), until=Stage.INTERVIEW)
    case = await driver.complete(_tasks(case, "assess_eligibility")[0], "IST")
    [screening] = _tasks(case, "screen_vulnerability")
    refused = await _post(http, driver, screening, {"screened_on": _day(), "unaccompanied_minor": True,
                                                   "escort_required": True})
    assert refused.status_code == 422, refused.text
    [detail] = refused.json()["error"]["details"]
    assert detail["field"] == "unaccompanied_minor" and "Karwan Aziz" in detail["reason"], detail
    case = await driver.complete(screening, "IST", form={"screened_on": _day()}, claim=False)
    assert case["priority"] == "normal"


async def test_a_minor_returning_alone_is_screened_as_unaccompanied(http: httpx.AsyncClient,
                                                                    driver: CaseDriver) -> None:
    from domain.model import Stage

    body = referral(size=1, programme="avrr", destination_country=None, origin_country="AF")
    sixteen = (datetime.now(UTC).date() - timedelta(days=16 * 365 + 30)).isoformat()
    body["members"][0] = member("Jawad Rahimi", sixteen, "principal", sex="male", nationality="AF")
    case = await driver.advance(await driver.refer(body), until=Stage.INTERVIEW)
    case = await driver.complete(_tasks(case, "assess_eligibility")[0], "IST")
    [screening] = _tasks(case, "screen_vulnerability")
    refused = await _post(http, driver, screening, {"screened_on": _day(), "unaccompanied_minor": False,
                                                   "escort_required": False})
    assert refused.status_code == 422, refused.text
    [detail] = refused.json()["error"]["details"]
    assert detail["field"] == "unaccompanied_minor" and "Jawad Rahimi (16)" in detail["reason"], detail
    case = await driver.complete(screening, "IST", form={"screened_on": _day(), "unaccompanied_minor": True,
                                                         "escort_required": True}, claim=False)
    assert case["programme_data"]["escort_required"] is True


async def test_a_webhook_description_with_an_override_is_refused(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    answer = await http.post("/api/v1/webhooks/subscriptions", headers=await driver.login("fatma"), json={
        "url": "https://partner.example/hooks", "event_types": ["case.stage_changed"], "offices": ["IST"],
        "description": "Partner \u202eefil"})
    assert answer.status_code == 422, answer.text
    [detail] = answer.json()["error"]["details"]
    assert detail["field"] == "body.description" and "RIGHT-TO-LEFT OVERRIDE" in detail["reason"], detail


async def test_an_inverted_history_range_is_refused_naming_both(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=1))
    path, fatma = f"/api/v1/cases/{case['case_id']}/history", await driver.login("fatma")
    refused = await http.get(path, headers=fatma, params={"since": "2026-12-04T04:26:00Z",
                                                          "until": "2026-12-04T04:20:00Z"})
    assert refused.status_code == 422, refused.text
    details = refused.json()["error"]["details"]
    assert [d["field"] for d in details] == ["query.since", "query.until"], details
    assert "after until" in details[0]["reason"] and details[0]["allowed"] == "a time at or before until"
    same = "2026-12-04T04:20:00+00:00"
    assert (await http.get(path, headers=fatma, params={"since": same, "until": same})).status_code == 200
    everything = await http.get(path, headers=fatma, params={"since": "2000-01-01T00:00:00Z",
                                                             "until": "2199-01-01T00:00:00Z"})
    assert everything.status_code == 200 and everything.json()["items"], everything.text


async def test_an_import_row_to_the_host_country_is_invalid_naming_the_column(http: httpx.AsyncClient,
                                                                             driver: CaseDriver) -> None:
    from tests.test_referral_import import _all_rows, _csv, _finished, _upload

    headers = await driver.login("fatma")
    home, abroad = _to("TR"), _to("NO")
    job = await _upload(http, headers, _csv([home, abroad]))
    await _finished(http, headers, job["import_id"])
    rows = {r["external_referral_id"]: r for r in await _all_rows(http, headers, job["import_id"])}
    assert rows[abroad["external_referral_id"]]["outcome"] == "created"
    refused = rows[home["external_referral_id"]]
    assert refused["outcome"] == "invalid", refused
    [error] = refused["errors"]
    assert error["field"] == "destination_country" and "host country of office IST" in error["reason"], error
    assert error["allowed"] == "any country other than TR"
    await _no_case_for(http, driver, home)
