"""Dates in the office's time (issue 12): offices have a time zone; "today" and "not in the
future" are judged in it; date-times are shown in it in the UI and carry their offset in
the API.

Three layers: the pure zone functions (``domain.offices``) and how the UI formats a known
instant; the case core judging "today" in the case's zone (``decide`` at 21:18 UTC, which
is 00:18 of the next day in Istanbul); and the running stack (the case view states its
office's zone, every date-time the API answers carries its offset, the UI shows Istanbul
times and reads a typed time as the office's).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import ValidationError

from api.ui.formatting import age, display_value, fmt_date, fmt_datetime, iso, utc_offset
from api.ui.rendering import templates
from api.ui.schema_form import UTC_OFFSETS, FormField
from domain.offices import (
    DEFAULT_TIME_ZONE,
    OFFICE_TIME_ZONES,
    check_office_time_zones,
    check_time_zone,
    local_date,
    local_time,
    office_time_zone,
    zone_label,
)
from domain.records import ReferCaseRequest
from settings import Settings
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.browser import signed_in
from tests.support.stack import Stack

ISTANBUL = "Europe/Istanbul"
# 21:18 UTC on 2 December is 00:18 on 3 December in Istanbul (UTC+03:00 all year).
LATE_EVENING_UTC = datetime(2026, 12, 2, 21, 18, tzinfo=UTC)
ISTANBUL_TODAY = date(2026, 12, 3)


# --- the zone functions --------------------------------------------------------------------


def test_today_is_the_offices_date_not_utcs() -> None:
    assert local_date(LATE_EVENING_UTC, ISTANBUL) == ISTANBUL_TODAY
    assert local_date(LATE_EVENING_UTC, "UTC") == date(2026, 12, 2)
    assert local_date(datetime(2026, 12, 2, 20, 59, tzinfo=UTC), ISTANBUL) == date(2026, 12, 2)
    # The moment's own offset does not matter, only the instant.
    assert local_date(LATE_EVENING_UTC.astimezone(ZoneInfo("America/New_York")), ISTANBUL) == ISTANBUL_TODAY


def test_local_time_is_the_same_instant_with_the_offices_offset() -> None:
    local = local_time(LATE_EVENING_UTC, ISTANBUL)
    assert local == LATE_EVENING_UTC
    assert local.isoformat() == "2026-12-03T00:18:00+03:00"


def test_a_moment_without_an_offset_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="offset"):
        local_date(datetime(2026, 12, 2, 21, 18), ISTANBUL)
    with pytest.raises(ValueError, match="offset"):
        local_time(datetime(2026, 12, 2, 21, 18), ISTANBUL)


@pytest.mark.parametrize("name", ["Europe/Istanbul", "UTC", "Asia/Amman", "America/Argentina/Buenos_Aires"])
def test_iana_zone_names_are_accepted(name: str) -> None:
    assert check_time_zone(name) == name


@pytest.mark.parametrize("name", ["", " UTC", "Europe", "Europe/Istambul", "../etc/passwd", "/etc/localtime",
                                  "Europe/Istanbul\x00", "x" * 100, "+03:00"])
def test_other_zone_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        check_time_zone(name)


def test_the_demo_offices_are_in_istanbul_and_others_fall_back_to_the_default() -> None:
    assert OFFICE_TIME_ZONES == {"IST": ISTANBUL, "IZM": ISTANBUL}
    assert office_time_zone("IST") == office_time_zone("IZM") == ISTANBUL
    assert office_time_zone("AMM") == DEFAULT_TIME_ZONE == "UTC"
    assert office_time_zone("AMM", {"AMM": "Asia/Amman"}) == "Asia/Amman"
    assert office_time_zone("IST", {}, default="Asia/Amman") == "Asia/Amman"
    with pytest.raises(ValueError, match="office IZM"):
        check_office_time_zones({"IST": ISTANBUL, "IZM": "Europe/Izmir"})


def test_zone_labels_read_as_people_name_them() -> None:
    assert zone_label(ISTANBUL) == "Istanbul"
    assert zone_label("America/Argentina/Buenos_Aires") == "Buenos Aires"
    assert zone_label("UTC") == "UTC"


def test_zone_data_is_there_without_the_systems_own() -> None:
    """A bare machine (a slim container, Windows) has no /usr/share/zoneinfo: the ``tzdata``
    dependency serves the zones then.  PYTHONTZPATH="" hides the system's data."""
    code = ("from datetime import datetime, UTC; from domain.offices import local_date; "
            "print(local_date(datetime(2026, 12, 2, 21, 18, tzinfo=UTC), 'Europe/Istanbul'))")
    env = {**os.environ, "PYTHONTZPATH": ""}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2026-12-03"


# --- settings and the referral request -----------------------------------------------------


def test_office_zones_come_from_the_settings_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().office_time_zones == OFFICE_TIME_ZONES and Settings().default_time_zone == "UTC"
    monkeypatch.setenv("ITINERA_OFFICE_TIME_ZONES", json.dumps({"IST": ISTANBUL, "AMM": "Asia/Amman"}))
    monkeypatch.setenv("ITINERA_DEFAULT_TIME_ZONE", "Europe/Berlin")
    settings = Settings()
    assert settings.time_zone_of("AMM") == "Asia/Amman"
    assert settings.time_zone_of("IST") == ISTANBUL
    assert settings.time_zone_of("IZM") == "Europe/Berlin"  # not listed: the default


@pytest.mark.parametrize(("variable", "value"), [("ITINERA_OFFICE_TIME_ZONES", '{"IST": "Europe/Istambul"}'),
                                                 ("ITINERA_OFFICE_TIME_ZONES", '["Europe/Istanbul"]'),
                                                 ("ITINERA_DEFAULT_TIME_ZONE", "Mars/Olympus")])
def test_an_unknown_zone_in_the_settings_stops_the_process_at_start(monkeypatch: pytest.MonkeyPatch,
                                                                    variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        Settings()


def test_the_referral_request_carries_a_known_zone_and_defaults_to_utc() -> None:
    body = {"referral": referral(), "actor": {"kind": "user", "id": "ayse", "role": "caseworker"}}
    assert ReferCaseRequest.model_validate(body).office_time_zone == "UTC"  # requests sent before zones
    assert ReferCaseRequest.model_validate({**body, "office_time_zone": ISTANBUL}).office_time_zone == ISTANBUL
    with pytest.raises(ValidationError):
        ReferCaseRequest.model_validate({**body, "office_time_zone": "Istanbul"})


# --- how the UI writes a known instant -----------------------------------------------------

# 06:15 UTC on 3 December is 09:15 in Istanbul.
KNOWN = datetime(2026, 12, 3, 6, 15, tzinfo=UTC)


def test_a_known_utc_instant_reads_as_istanbul_time() -> None:
    assert fmt_datetime(KNOWN, ISTANBUL) == "3 Dec 2026, 09:15 (Istanbul)"
    assert fmt_datetime("2026-12-03T06:15:00Z", ISTANBUL) == "3 Dec 2026, 09:15 (Istanbul)"
    assert fmt_datetime(KNOWN) == fmt_datetime(KNOWN, "UTC") == "3 Dec 2026, 06:15 UTC"
    assert iso(KNOWN, ISTANBUL) == "2026-12-03T09:15:00+03:00"
    assert fmt_date(LATE_EVENING_UTC, ISTANBUL) == "3 Dec 2026" and fmt_date(LATE_EVENING_UTC) == "2 Dec 2026"
    assert display_value("2026-12-02T21:18:00+00:00", ISTANBUL) == "3 Dec 2026, 00:18 (Istanbul)"
    assert display_value("2026-12-03", ISTANBUL) == "3 Dec 2026"  # a date is a date in every zone
    assert utc_offset(ISTANBUL) == "+03:00" and utc_offset("UTC") == "+00:00"
    # A birthday is reached on the office's date.
    assert age(date(2000, 12, 3), ISTANBUL, on=local_date(LATE_EVENING_UTC, ISTANBUL)) == 26


def test_a_typed_time_at_the_calendars_end_is_shown_not_a_failure() -> None:
    """Free text that looks like a time (a note) is shown as one; +03:00 past 9999 cannot be."""
    assert fmt_datetime("9999-12-31T23:30:00+00:00", ISTANBUL) == "31 Dec 9999, 23:30 UTC"
    assert fmt_datetime("9999-12-31T23:30:00-05:00", ISTANBUL) == "31 Dec 9999, 23:30 UTC-05:00"


def test_the_when_macro_shows_the_office_time_and_keeps_the_offset_and_utc() -> None:
    macros = templates.env.get_template("_macros.html").make_module({"csrf_token": "x"})
    html = str(macros.when(KNOWN, zone=ISTANBUL))
    assert '<time datetime="2026-12-03T09:15:00+03:00"' in html
    assert 'title="3 Dec 2026, 06:15 UTC"' in html
    assert ">3 Dec 2026, 09:15 (Istanbul)</time>" in html
    assert "data-local" not in html  # no script rewrites it into the browser's zone
    assert "3 Dec 2026, 06:15 UTC</time>" in str(macros.when(KNOWN))


def test_a_date_time_field_offers_the_offices_offset_first() -> None:
    """A booking's departure is typed with an offset: the office's is chosen unless the
    caseworker chose another (the browser's own offset no longer wins)."""
    macros = templates.env.get_template("_macros.html").make_module(
        {"csrf_token": "x", "utc_offsets": UTC_OFFSETS, "office_offset": utc_offset(ISTANBUL)})
    departure = FormField(name="departure_at", label="Departure", kind="datetime", required=True)

    def chosen(values: dict[str, str]) -> list[str]:
        html = str(macros.field(departure, SimpleNamespace(values=values, errors={})))
        return re.findall(r'<option value="([^"]*)" selected>', html)

    assert chosen({}) == ["+03:00"]
    assert chosen({departure.tz_name: "+01:00"}) == ["+01:00"]


# --- the case core: "today" in the case's zone ---------------------------------------------
# These need the core's wiring (ReferCase.office_time_zone, decide judging "today" with
# domain.offices.local_date, a booking in the past refused): the lead's part of issue 12.


def _core():
    from domain.case import CompleteTask, DecisionContext, ReferCase, decide, fold
    from domain.identity import case_id_for
    from domain.model import Actor, Referral
    return CompleteTask, DecisionContext, ReferCase, decide, fold, case_id_for, Actor, Referral


def _ctx(now: datetime) -> Any:
    _, DecisionContext, *_, Actor, _ = _core()
    ids = itertools.count(1)
    return DecisionContext(now=now, actor=Actor(id="ayse", role="caseworker"), new_event_id=lambda: f"e-{next(ids)}")


def _referred(now: datetime, zone: str | None = ISTANBUL) -> Any:
    _, _, ReferCase, decide, fold, case_id_for, _, Referral = _core()
    body = Referral.model_validate(referral(office="IST", size=1))
    zoned = {} if zone is None else {"office_time_zone": zone}
    command = ReferCase(case_id=case_id_for(body.external_referral_id), referral=body, **zoned)
    state = fold(decide(None, command, _ctx(now)))
    if zone is not None:
        assert state.office_time_zone == zone
    return state


def _complete(state: Any, form: dict[str, Any], now: datetime) -> Any:
    CompleteTask, _, _, decide, fold, *_ = _core()
    return fold(decide(state, CompleteTask(task_id=state.open_tasks[0].task_id, form=form), _ctx(now)), start=state)


def _interview(state: Any, now: datetime) -> Any:
    state = _complete(state, {"documents_checked": True}, now)
    assert state.open_tasks[0].task_type == "conduct_interview"
    return state


def test_a_date_entered_at_0018_istanbul_time_is_today_not_the_future() -> None:
    state = _interview(_referred(LATE_EVENING_UTC - timedelta(hours=1)), LATE_EVENING_UTC)
    after = _complete(state, {"interview_date": ISTANBUL_TODAY.isoformat(), "outcome": "accepted"}, LATE_EVENING_UTC)
    assert after.stage == "health"


def test_a_baby_born_today_in_istanbul_is_referred_at_0018_not_refused_as_born_in_the_future() -> None:
    """The API's edge checks a referral before it knows the office: its "today" is the latest of
    UTC's and every office's, never stricter than the office's own day."""
    from api.office_time import edge_today_anywhere
    from domain.model import EDGE_TODAY
    from domain.referral_request import ReferralRequest

    today = edge_today_anywhere(LATE_EVENING_UTC)
    assert today == ISTANBUL_TODAY == LATE_EVENING_UTC.date() + timedelta(days=1)
    body = {"programme": "resettlement", "office": "IST", "destination_country": "NO",
            "external_referral_id": "EDGE-BORN-TODAY",
            "members": [{"full_name": "Leyla Haddad", "date_of_birth": "1990-03-01", "sex": "female",
                         "nationality": "SY", "relationship": "principal"},
                        {"full_name": "Nur Haddad", "date_of_birth": ISTANBUL_TODAY.isoformat(), "sex": "female",
                         "nationality": "SY", "relationship": "child"}]}
    token = EDGE_TODAY.set(today)
    try:
        assert ReferralRequest.model_validate(body).members[1].date_of_birth == ISTANBUL_TODAY
        body["members"][1]["date_of_birth"] = (ISTANBUL_TODAY + timedelta(days=1)).isoformat()
        with pytest.raises(ValidationError, match="future"):
            ReferralRequest.model_validate(body)
    finally:
        EDGE_TODAY.reset(token)


def test_the_day_after_the_offices_today_is_still_the_future() -> None:
    from domain.errors import CommandRejected, RejectionCode
    state = _interview(_referred(LATE_EVENING_UTC - timedelta(hours=1)), LATE_EVENING_UTC)
    with pytest.raises(CommandRejected) as refused:
        _complete(state, {"interview_date": (ISTANBUL_TODAY + timedelta(days=1)).isoformat(), "outcome": "accepted"},
                  LATE_EVENING_UTC)
    assert refused.value.code == RejectionCode.INVALID_FORM
    assert "interview_date" in {d["field"] for d in refused.value.details}
    assert ISTANBUL_TODAY.isoformat() in refused.value.message + json.dumps(refused.value.details)


def test_a_case_referred_before_offices_had_zones_keeps_judging_in_utc() -> None:
    from domain.errors import CommandRejected
    state = _referred(LATE_EVENING_UTC - timedelta(hours=1), zone=None)
    assert state.office_time_zone == "UTC"
    state = _interview(state, LATE_EVENING_UTC)
    with pytest.raises(CommandRejected):
        _complete(state, {"interview_date": ISTANBUL_TODAY.isoformat(), "outcome": "accepted"}, LATE_EVENING_UTC)


def _at_booking(now: datetime) -> Any:
    """A one-person Istanbul case taken to its movement booking on the office's today."""
    from domain.tasks import TASK_SPECS  # noqa: F401  (the core's task types, whatever module holds them)
    today = local_date(now, ISTANBUL).isoformat()
    later = (local_date(now, ISTANBUL) + timedelta(days=180)).isoformat()
    forms = {
        "verify_referral": {"documents_checked": True},
        "conduct_interview": {"interview_date": today, "outcome": "accepted"},
        "assess_health": {"assessment_date": today, "outcome": "cleared", "clearance_valid_until": later,
                          "tb_classification": "none"},
        "record_orientation": {"session_date": today, "language": "ar"},
        "record_visa": {"outcome": "issued", "visa_number": "V-123456", "issued_on": today, "valid_until": later},
    }
    state = _referred(now - timedelta(hours=1))
    while state.open_tasks and state.open_tasks[0].task_type != "book_movement":
        state = _complete(state, forms[state.open_tasks[0].task_type], now)
    assert state.open_tasks and state.open_tasks[0].task_type == "book_movement", state.stage
    return state


def _booking(departure: datetime) -> dict[str, Any]:
    return {"flight_number": "TK1751", "departure_at": departure.isoformat(), "departure_airport": "IST",
            "arrival_airport": "OSL"}


def test_a_flight_booked_in_the_past_is_refused_with_a_clear_error() -> None:
    from domain.errors import CommandRejected, RejectionCode
    state = _at_booking(LATE_EVENING_UTC)
    # 23:40 Istanbul time on 2 December: the office's today is already 3 December, 00:18.
    departed_already = datetime(2026, 12, 2, 23, 40, tzinfo=ZoneInfo(ISTANBUL))
    with pytest.raises(CommandRejected) as refused:
        _complete(state, _booking(departed_already), LATE_EVENING_UTC)
    assert refused.value.code == RejectionCode.INVALID_FORM
    fields = {d["field"]: d["reason"] for d in refused.value.details}
    assert "departure_at" in fields and "past" in fields["departure_at"], refused.value.details


def test_a_flight_later_the_same_night_is_booked() -> None:
    state = _at_booking(LATE_EVENING_UTC)
    later_tonight = datetime(2026, 12, 3, 2, 30, tzinfo=ZoneInfo(ISTANBUL))
    after = _complete(state, _booking(later_tonight), LATE_EVENING_UTC)
    assert after.open_tasks[0].task_type != "book_movement"


# --- the running stack ---------------------------------------------------------------------

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_OFFSET = re.compile(r"(Z|[+-]\d{2}:\d{2})$")


def _date_times(value: Any, path: str = "") -> list[tuple[str, str]]:
    """Every (path, value) of a JSON document whose value is a date-time string."""
    if isinstance(value, dict):
        return [found for k, v in value.items() for found in _date_times(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [found for i, v in enumerate(value) for found in _date_times(v, f"{path}[{i}]")]
    return [(path, value)] if isinstance(value, str) and _DATETIME.match(value) else []


def _shown(moment: str, zone: str = ISTANBUL) -> str:
    local = datetime.fromisoformat(moment).astimezone(ZoneInfo(zone))
    return f"{local.day} {local:%b %Y, %H:%M} ({zone_label(zone)})"


async def test_the_case_view_states_its_offices_zone_and_every_time_carries_its_offset(
        stack: Stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(referral(office="IZM", size=2), username="mehmet")
    assert case["office_time_zone"] == ISTANBUL
    headers = await driver.login("ali")
    answers = {
        "case": (await http.get(f"/api/v1/cases/{case['case_id']}", headers=headers)).json(),
        "list": (await http.get("/api/v1/cases", params={"office": "IZM", "limit": 5}, headers=headers)).json(),
        "tasks": (await http.get("/api/v1/tasks", params={"office": "IZM", "limit": 5}, headers=headers)).json(),
        "task": (await http.get(f"/api/v1/tasks/{case['open_tasks'][0]['task_id']}", headers=headers)).json(),
        "events": (await http.get(f"/api/v1/cases/{case['case_id']}/events", headers=headers)).json(),
        "history": (await http.get(f"/api/v1/cases/{case['case_id']}/history", headers=headers)).json(),
        "audit": (await http.get("/api/v1/audit", params={"limit": 5}, headers=headers)).json(),
    }
    assert answers["case"]["office_time_zone"] == ISTANBUL
    assert all(c["office_time_zone"] == ISTANBUL for c in answers["list"]["items"])
    assert answers["task"]["office_time_zone"] == ISTANBUL
    found = [(name + path, value) for name, answer in answers.items() for path, value in _date_times(answer)]
    assert {"case.key_dates.referred_at", "case.updated_at", "task.due_at", "events[0].occurred_at",
            "history.items[0].occurred_at", "audit[0].at"} <= {path for path, _ in found}, found
    naive = [(path, value) for path, value in found if not _OFFSET.search(value)]
    assert not naive, naive


async def test_the_ui_shows_istanbul_times_and_reads_a_typed_time_as_the_offices(
        stack: Stack, driver: CaseDriver) -> None:
    case = await driver.refer(referral(office="IST", size=1))
    task = case["open_tasks"][0]
    # Claimed, so the inbox's first page shows it however many cases other tests left open.
    claimed = await driver.client.post(f"/api/v1/tasks/{task['task_id']}/claim", headers=await driver.login("ayse"))
    assert claimed.status_code == 200, claimed.text
    async with signed_in(stack, "ayse") as browser:
        inbox = (await browser.get("/ui", params={"stage": "referral", "assignee": "me"})).text
        row = next(r for r in inbox.split("<tr") if case["case_id"] in r)
        assert _shown(task["due_at"]) in row
        due = datetime.fromisoformat(task["due_at"]).astimezone(ZoneInfo(ISTANBUL))
        assert f'datetime="{due.isoformat(timespec="milliseconds" if due.microsecond else "seconds")}"' in row

        page = (await browser.get(f"/ui/cases/{case['case_id']}")).text
        referred_at = case["key_dates"]["referred_at"]
        assert _shown(referred_at) in page  # key dates, and the history's first entry
        assert page.count("(Istanbul)") >= 4
        assert " UTC</time>" not in page
        assert "(Istanbul time)" in page

        task_page = (await browser.get(f"/ui/tasks/{task['task_id']}")).text
        assert _shown(task["due_at"]) in task_page and _shown(task["opened_at"]) in task_page

        # "As it stood on" a typed time (no offset: the office's clock).  One minute after the
        # referral in Istanbul time finds the case; the same digits read as UTC would be three
        # hours later, and the same digits three hours earlier are before the referral.
        after = datetime.fromisoformat(referred_at) + timedelta(minutes=1)
        istanbul_digits = after.astimezone(ZoneInfo(ISTANBUL)).strftime("%Y-%m-%dT%H:%M:%S.%f")
        utc_digits = after.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
        then = await browser.get(f"/ui/cases/{case['case_id']}", params={"as_of": istanbul_digits})
        assert then.status_code == 200 and "As it stood on" in then.text
        assert f"As it stood on {_shown(after.isoformat())}" in then.text
        too_early = await browser.get(f"/ui/cases/{case['case_id']}", params={"as_of": utc_digits})
        assert too_early.status_code == 404
        assert "(Istanbul)" in too_early.text
