"""A date of birth typed in is a plausible one: not more than 120 years before the day it is
entered (and, as before, not in the future nor before 1900-01-01).

1900-01-01 is what a form gets when nobody knew the date; it used to open a case for a
126-year-old.  The bound moves with the calendar, so it is an ADMISSION rule: the request
models (``domain.referral_request``: the API's referral, the UI's form, an import file, an
integration's message) and a correction's validator (``ctx.admission_rules``) apply it; a
recorded member, a case's state, a replayed history and a correction's recorded decision are
never judged by it (a person entered as 119 stays valid when they turn 121).  A refusal
names the field, why, and the earliest date allowed; the served JSON Schema says the rule.

The unit tests fix the day; the tests through the stack use 1900-01-01 (more than 120 years
before any day this suite runs on) and a date a few days inside the bound, so the hour and
the office's time zone (Istanbul, UTC+3) never decide them.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from api.referral_import_file import CSV_COLUMNS, read_file
from domain.case import CorrectMember, DecisionContext, ReferCase, decide, fold
from domain.errors import CommandRejected
from domain.identity import case_id_for
from domain.model import (
    OLDEST_AGE_YEARS,
    Actor,
    Member,
    MemberIn,
    Referral,
    earliest_birth_entered_on,
    entered_birth_problem,
)
from domain.referral_request import ReferralRequest
from tests.support.browser import signed_in
from tests.support.driver import CaseDriver
from tests.support.factories import member, referral
from tests.support.pages import Page
from tests.support.stack import Stack

DAY = date(2026, 12, 4)
EARLIEST = date(1906, 12, 4)  # 120 years before DAY
ISTANBUL = "Europe/Istanbul"
NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)  # 12:00 in Istanbul, the 4th there too
CASEWORKER = Actor(id="ayse", role="caseworker")


def _ctx(*, admission: bool) -> DecisionContext:
    ids = itertools.count(1)
    return DecisionContext(now=NOW, actor=CASEWORKER, new_event_id=lambda: f"e-{next(ids)}", admission_rules=admission)


def _body_with(dob: str, index: int = 1) -> dict[str, Any]:
    body = referral(size=2)
    body["members"][index]["date_of_birth"] = dob
    return body


def _family_reunification(sponsor_born: str) -> dict[str, Any]:
    return referral(size=1, programme="family_reunification", destination_country="DE",
                    sponsor={"full_name": "Yusuf Haddad", "date_of_birth": sponsor_born,
                             "protection_status": "refugee", "residence_permit": "DE-BER-AT-2025-118402",
                             "city": "Berlin", "contact": "+49 30 1234567"},
                    members=[member("Lina Haddad", "1990-04-02", "spouse")])


# --- the rule, on a fixed day ----------------------------------------------------------------------


def test_the_earliest_date_of_birth_is_120_years_before_the_day() -> None:
    assert OLDEST_AGE_YEARS == 120
    assert earliest_birth_entered_on(DAY) == EARLIEST
    assert earliest_birth_entered_on(date(2028, 2, 29)) == date(1908, 2, 29)
    assert earliest_birth_entered_on(date(2020, 2, 29)) == date(1900, 3, 1)  # 1900 had no 29 February
    assert entered_birth_problem(EARLIEST, DAY) is None
    reason, allowed = entered_birth_problem(EARLIEST - timedelta(days=1), DAY)
    assert "more than 120 years before today (2026-12-04)" in reason and "1906-12-04" in reason
    assert allowed.startswith("a date from 1906-12-04 to 2026-12-04")


@pytest.mark.parametrize("dob", ["1900-01-01", "1906-12-03"])
def test_a_referral_typed_in_refuses_a_person_over_120(dob: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ReferralRequest.model_validate(_body_with(dob), context={"today": DAY})
    [error] = refused.value.errors()
    assert error["loc"] == ("members", 1, "date_of_birth") and error["type"] == "birth_implausible"
    assert "more than 120 years" in error["msg"] and "1906-12-04" in error["msg"]
    assert error["ctx"]["expected"].startswith("a date from 1906-12-04 to 2026-12-04")
    assert ReferralRequest.model_validate(_body_with("1906-12-04"), context={"today": DAY})


def test_the_sponsor_date_of_birth_is_held_to_it_too() -> None:
    with pytest.raises(ValidationError) as refused:
        ReferralRequest.model_validate(_family_reunification("1901-06-01"), context={"today": DAY})
    assert [e["loc"] for e in refused.value.errors()] == [("sponsor", "date_of_birth")]
    assert ReferralRequest.model_validate(_family_reunification("1987-04-20"), context={"today": DAY})


def test_the_older_rules_say_their_own_thing_first() -> None:
    """Before 1900-01-01 and in the future are refused as before (by every model, recorded ones too)."""
    with pytest.raises(ValidationError, match="1900-01-01"):
        ReferralRequest.model_validate(_body_with("1899-12-31"), context={"today": DAY})
    with pytest.raises(ValidationError, match="future"):
        ReferralRequest.model_validate(_body_with("2026-12-05"), context={"today": DAY})


def test_what_is_recorded_is_never_judged_by_it() -> None:
    """The models a workflow receives and replays (``Referral``, ``MemberIn``, ``Member``)
    accept a person entered long ago, whatever day validates them: a stored state stays valid."""
    body = _body_with("1901-05-05")
    assert Referral.model_validate(body, context={"today": DAY}).members[1].date_of_birth == date(1901, 5, 5)
    assert MemberIn.model_validate(body["members"][1], context={"today": DAY})
    assert Member.model_validate({**body["members"][1], "member_id": "C-X-M2"}, context={"today": DAY})
    # a case referred with such a person (as a referral recorded before the rule) decides and folds
    parsed = Referral.model_validate(body)
    case_id = case_id_for(parsed.external_referral_id)
    state = fold(decide(None, ReferCase(case_id=case_id, referral=parsed, office_time_zone=ISTANBUL),
                        _ctx(admission=False)))
    assert state.members[1].date_of_birth == date(1901, 5, 5)


def _referred_state(dob: str = "2009-03-02") -> Any:
    parsed = Referral.model_validate(_body_with(dob))
    case_id = case_id_for(parsed.external_referral_id)
    return fold(decide(None, ReferCase(case_id=case_id, referral=parsed, office_time_zone=ISTANBUL),
                       _ctx(admission=False)))


def test_a_correction_is_judged_at_admission_only() -> None:
    state = _referred_state()
    child = state.members[1].member_id
    wrong = CorrectMember(member_id=child, changes={"date_of_birth": "1900-01-01"}, reason="Typed in.")
    with pytest.raises(CommandRejected) as refused:
        decide(state, wrong, _ctx(admission=True))  # the Update validator
    [detail] = refused.value.details
    assert detail["field"] == "changes.date_of_birth"
    assert "more than 120 years before today (2026-12-04)" in detail["reason"]
    assert detail["allowed"].startswith("a date from 1906-12-04 to 2026-12-04")
    # a correction recorded before the rule replays as it was decided (the handler's decision)
    [corrected] = decide(state, wrong, _ctx(admission=False))
    assert corrected.event.changes == {"date_of_birth": "1900-01-01"}
    # the bound itself is allowed
    assert decide(state, CorrectMember(member_id=child, changes={"date_of_birth": "1906-12-04"}, reason="Certificate."),
                  _ctx(admission=True))


def test_correcting_another_field_does_not_judge_a_recorded_date_of_birth() -> None:
    """A person recorded as born in 1901 (entered when that was within 120 years): their
    name can still be corrected; only a date of birth typed in now is judged."""
    state = _referred_state("1901-05-05")
    person = state.members[1].member_id
    [event] = decide(state, CorrectMember(member_id=person, changes={"full_name": "Omar Haddad"}, reason="Spelling."),
                     _ctx(admission=True))
    assert event.event.changes == {"full_name": "Omar Haddad"}


def test_an_import_file_names_the_line_field_and_earliest_day() -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerow(["UNHCR-TEST-DOB-1", "resettlement", "IST", "normal", "NO", "", "Amina Haddad", "1987-05-12",
                     "female", "SY", "principal", *[""] * 6])
    writer.writerow(["UNHCR-TEST-DOB-1", "", "", "", "", "", "Halil Haddad", "1900-01-01", "male", "SY",
                     "other_relative", *[""] * 6])
    [item] = read_file(out.getvalue().encode(), "csv", DAY)
    [error] = item.errors
    assert (error["line"], error["field"]) == (3, "date_of_birth"), error
    assert "more than 120 years" in error["reason"] and error["allowed"].startswith("a date from 1906-12-04"), error
    entry = _body_with("1900-01-01")
    [item] = read_file(json.dumps([entry]).encode(), "json", DAY)
    assert [e["field"] for e in item.errors] == ["members.1.date_of_birth"], item.errors


# --- through the stack ----------------------------------------------------------------------------


def _today() -> date:
    return datetime.now(UTC).date()


async def _refused(answer: httpx.Response, field: str) -> dict[str, Any]:
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    [detail] = [d for d in error["details"] if d["field"] == field]
    assert "more than 120 years" in detail["reason"], detail
    assert "at most 120 years before the day it is entered" in detail["allowed"], detail
    return detail


async def _no_case_for(http: httpx.AsyncClient, driver: CaseDriver, body: dict[str, Any]) -> None:
    found = await http.get("/api/v1/cases", params={"q": body["external_referral_id"]},
                           headers=await driver.login("fatma"))
    assert found.status_code == 200 and found.json()["items"] == []


async def test_the_api_refuses_a_referral_naming_the_field(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    body = _body_with("1900-01-01")
    await _refused(await http.post("/api/v1/cases", json=body, headers=await driver.login("ayse")),
                   "body.members.1.date_of_birth")
    await _no_case_for(http, driver, body)
    # a few days inside the bound is referred (whatever the hour and the zone)
    body["members"][1]["date_of_birth"] = (earliest_birth_entered_on(_today()) + timedelta(days=3)).isoformat()
    accepted = await http.post("/api/v1/cases", json=body, headers=await driver.login("ayse"))
    assert accepted.status_code in (201, 202), accepted.text


async def test_an_integration_referral_is_refused_and_no_case_opens(http: httpx.AsyncClient,
                                                                   driver: CaseDriver) -> None:
    made = await http.post("/api/v1/admin/integration-keys", headers=await driver.login("admin"),
                           json={"name": "birth date test", "event_types": ["referral"], "offices": ["IST"]})
    assert made.status_code == 201, made.text
    approved = await http.post(f"/api/v1/integrations/keys/{made.json()['key_id']}/approve",
                               headers=await driver.login("fatma"))
    assert approved.status_code in (200, 404), approved.text  # 404: this version has no approvals
    body = _body_with("1900-01-01", index=0)
    answer = await http.post("/api/v1/integrations/messages", json={"event_type": "referral", "referral": body},
                             headers={"X-API-Key": made.json()["api_key"], "Idempotency-Key": "dob-120-1"})
    assert answer.status_code == 422, answer.text
    assert any(d["field"].endswith("members.0.date_of_birth") and "120 years" in d["reason"]
               for d in answer.json()["error"]["details"]), answer.text
    await _no_case_for(http, driver, body)


async def test_a_correction_is_refused_and_changes_nothing(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=2))
    child = case["members"][1]["member_id"]
    ayse, fatma = await driver.login("ayse"), await driver.login("fatma")
    path = f"/api/v1/cases/{case['case_id']}/members/{child}/corrections"
    before = (await http.get(f"/api/v1/cases/{case['case_id']}", headers=fatma)).json()["version"]
    await _refused(await http.post(path, json={"changes": {"date_of_birth": "1900-01-01"}, "reason": "Placeholder."},
                                   headers=ayse), "changes.date_of_birth")
    after = (await http.get(f"/api/v1/cases/{case['case_id']}", headers=fatma)).json()
    assert after["version"] == before
    assert [m["date_of_birth"] for m in after["members"] if m["member_id"] == child] == [
        case["members"][1]["date_of_birth"]]


async def test_the_served_schemas_say_the_rule(http: httpx.AsyncClient) -> None:
    document = (await http.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    member_rule = schemas["MemberIn"]["properties"]["date_of_birth"]["description"]
    assert "not more than 120 years before" in member_rule and "future" in member_rule and "1900-01-01" in member_rule
    assert "not more than 120 years before" in schemas["Sponsor"]["properties"]["date_of_birth"]["description"]
    correction = schemas["CorrectionBody"]["properties"]["changes"]["properties"]["date_of_birth"]
    assert correction["format"] == "date" and "not more than 120 years before" in correction["description"]


async def test_the_ui_form_shows_the_refusal_next_to_the_field(stack: Stack, http: httpx.AsyncClient,
                                                               driver: CaseDriver) -> None:
    body = referral(size=1)
    async with signed_in(stack, "ayse") as ayse:
        form = Page((await ayse.get("/ui/refer")).text)
        answer = await ayse.post("/ui/refer", data={
            "csrf_token": form.csrf, "programme": "resettlement", "office": "IST", "priority": "normal",
            "destination_country": "NO",
            "external_referral_id": body["external_referral_id"], "members-0-full_name": "Amina Haddad",
            "members-0-date_of_birth": "1900-01-01", "members-0-sex": "female", "members-0-nationality": "SY",
            "members-0-relationship": "principal"})
        assert answer.status_code == 422, answer.text
        error = Page(answer.text).field_error("members-0-date_of_birth")
        assert "more than 120 years" in error, error
    await _no_case_for(http, driver, body)


def test_a_date_of_birth_is_written_as_a_date() -> None:
    """explore10 #10: "1990-01-01T00:00:00" was taken as a date and 19900101 read as seconds
    since 1970 ("Datetimes provided to dates should have zero time")."""
    from pydantic import ValidationError

    from domain.referral_request import ReferralRequest
    from tests.support.factories import referral

    for given in ("1990-01-01T00:00:00", 19900101, "01/02/1990"):
        body = referral(size=1)
        body["members"][0]["date_of_birth"] = given
        with pytest.raises(ValidationError) as refused:
            ReferralRequest.model_validate(body)
        [error] = refused.value.errors()
        assert error["loc"] == ("members", 0, "date_of_birth") and "YYYY-MM-DD" in error["msg"], error
    body = referral(size=1)
    body["members"][0]["date_of_birth"] = "1990-01-01"
    assert str(ReferralRequest.model_validate(body).members[0].date_of_birth) == "1990-01-01"
