"""Dates before a case's referral (explore3 finding 7), decided by the pure cores:

* a withdrawal of consent is not dated before the AVRR case was referred;
* an orientation session is not scheduled more than ``LONGEST_PAST_START`` (30 days) ago;
* nobody of a case referred after a session ended is invited to it or recorded on it: each
  such person is named.

All are admission rules or judged on facts that sessions recorded before the rule do not
carry, so recorded histories replay as decided.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from domain.case import DecisionContext, ReferCase, WithdrawConsent, decide, fold
from domain.errors import CommandRejected
from domain.identity import case_id_for
from domain.model import Actor, Referral, Stage
from domain.sessions import commands as c
from domain.sessions import model as m
from domain.sessions.decide import SessionRejected
from domain.sessions.decide import decide as decide_session
from domain.sessions.decide import fold as fold_session
from tests.support.factories import member, referral

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
CASEWORKER = Actor(id="ayse", role="caseworker")
OFFICER = Actor(id="ayse", role="caseworker")


def ctx(now: datetime = NOW, **rules: Any) -> DecisionContext:
    ids = itertools.count(1)
    return DecisionContext(now=now, actor=CASEWORKER, new_event_id=lambda: f"e-{next(ids)}", **rules)


# --- consent withdrawal -------------------------------------------------------------------------


def avrr_case() -> Any:
    body = referral(size=1, programme="avrr", destination_country=None, origin_country="IQ")
    body["members"][0] = member("Karwan Aziz", "1991-02-17", "principal", sex="male", nationality="IQ")
    parsed = Referral.model_validate(body)
    command = ReferCase(case_id=case_id_for(parsed.external_referral_id), referral=parsed,
                        office_time_zone="Europe/Istanbul")
    return fold(decide(None, command, ctx(NOW - timedelta(days=2))))


def withdrawal(on: str) -> WithdrawConsent:
    return WithdrawConsent(withdrawn_by="Karwan Aziz", withdrawn_on=date.fromisoformat(on), language="ku",
                           reason="Decided to stay.")


def test_a_consent_withdrawal_dated_before_the_referral_is_refused() -> None:
    state = avrr_case()
    with pytest.raises(CommandRejected) as refused:
        decide(state, withdrawal("2001-01-01"), ctx())
    assert refused.value.details == [{"field": "withdrawn_on", "reason": refused.value.details[0]["reason"]}]
    assert "before the case was referred (2026-12-01)" in refused.value.details[0]["reason"]
    # An admission rule: a withdrawal recorded before it replays as decided.
    assert fold(decide(state, withdrawal("2001-01-01"), ctx(admission_rules=False)), start=state).status == "closed"


def test_a_consent_withdrawal_on_the_day_of_referral_closes_the_case() -> None:
    state = avrr_case()
    assert fold(decide(state, withdrawal("2026-12-01"), ctx()), start=state).status == "closed"


# --- orientation sessions ---------------------------------------------------------------------


def details(starts_at: datetime) -> m.SessionDetails:
    return m.SessionDetails(starts_at=starts_at, time_zone="Europe/Istanbul", mode="in_person", place="Room 2",
                            language="ar", destination_country="NO", capacity=10, facilitator="Leyla Osman",
                            office="IST")


def scheduled(starts_at: datetime) -> m.SessionState:
    events = decide_session(None, c.ScheduleSession(details=details(starts_at)), NOW, OFFICER, admission=True)
    return fold_session(events, None, "OS-1")


def test_a_session_more_than_30_days_ago_is_refused_a_recent_one_is_scheduled() -> None:
    with pytest.raises(SessionRejected) as refused:
        scheduled(datetime(2020, 1, 1, 7, 0, tzinfo=UTC))
    assert refused.value.code == "invalid_command" and "starts_at" in refused.value.message
    assert "more than 30 days in the past" in refused.value.message
    assert scheduled(NOW - timedelta(days=29)).details.starts_at == NOW - timedelta(days=29)
    # An admission rule: a session scheduled before it replays as decided.
    old = details(datetime(2020, 1, 1, 7, 0, tzinfo=UTC))
    assert decide_session(None, c.ScheduleSession(details=old), NOW, OFFICER)


def facts(case_id: str, referred_at: datetime | None, *names: str) -> m.SessionCaseFacts:
    return m.SessionCaseFacts(
        case_id=case_id, office="IST", programme="resettlement", stage=Stage.ORIENTATION, referred_at=referred_at,
        members=[m.MemberFacts(member_id=f"{case_id}-M{i}", full_name=name, date_of_birth=date(1990, 1, 1),
                               task_id=f"{case_id}-T{i}") for i, name in enumerate(names, start=1)])


def test_people_of_a_case_referred_after_the_session_are_not_invited_each_named() -> None:
    session = scheduled(NOW - timedelta(days=10))
    late = facts("C-LATE", NOW - timedelta(days=2), "Rana Khalil", "Omar Khalil")
    early = facts("C-EARLY", NOW - timedelta(days=40), "Amina Haddad")
    add = c.AddParticipants(invitees=[c.Invitee(case_id="C-LATE"), c.Invitee(case_id="C-EARLY")])
    with pytest.raises(SessionRejected) as refused:
        decide_session(session, add, NOW, OFFICER, [late, early])
    named = {(p["rule"], p["member_name"]) for p in refused.value.details}
    assert named == {("referred_after_session", "Rana Khalil"), ("referred_after_session", "Omar Khalil")}
    assert "Rana Khalil (case C-LATE, referred 2026-12-01" in refused.value.message
    # Facts recorded before the rule carry no referral moment: they pass as they did.
    assert decide_session(session, add, NOW, OFFICER, [facts("C-LATE", None, "Rana Khalil"), early])


def test_attendance_is_not_recorded_for_a_case_referred_after_the_session() -> None:
    session = scheduled(NOW - timedelta(days=10))
    early = facts("C-EARLY", NOW - timedelta(days=40), "Amina Haddad")
    add = c.AddParticipants(invitees=[c.Invitee(case_id="C-EARLY")])
    session = fold_session(decide_session(session, add, NOW, OFFICER, [early]), session, "OS-1")
    record = c.RecordAttendance(attendance=[c.Attendance(member_id="C-EARLY-M1", attended=True)])
    # The case as the session now learns it was referred after the session (as a case
    # referred in 2026 and a session dated 2020 in the report): refused, naming the person.
    relabelled = facts("C-EARLY", NOW - timedelta(days=1), "Amina Haddad")
    with pytest.raises(SessionRejected) as refused:
        decide_session(session, record, NOW, OFFICER, [relabelled])
    named = [(p["rule"], p["member_name"]) for p in refused.value.details]
    assert named == [("referred_after_session", "Amina Haddad")]
    assert decide_session(session, record, NOW, OFFICER, [early])


# --- through the API ------------------------------------------------------------------------------


async def test_the_api_refuses_a_session_years_back_and_a_case_referred_after_a_session(driver: Any) -> None:
    from tests.test_orientation_sessions import _call, _family, _in_orientation, _session

    # Its own destination (Latvia): tests/test_orientation_sessions.py proposes every Finland-bound person.
    own = {"destination_country": "LV"}
    old = await _call(driver, "POST", "/api/v1/orientation-sessions",
                      json=_session(5, starts_at="2020-01-01T10:00:00+03:00", **own))
    assert old.status_code == 422, old.text
    assert "starts_at" in old.json()["error"]["message"] and "30 days" in old.json()["error"]["message"]
    assert [d["field"] for d in old.json()["error"]["details"]] == ["starts_at"]
    held = await _call(driver, "POST", "/api/v1/orientation-sessions", json=_session(5, hours=-20 * 24, **own))
    assert held.status_code == 201, held.text
    case = await _in_orientation(driver, _family(1) | own)
    added = await _call(driver, "POST", f"/api/v1/orientation-sessions/{held.json()['session_id']}/participants",
                        json={"participants": [{"case_id": case["case_id"]}]})
    assert added.status_code == 409, added.text
    error = added.json()["error"]
    assert error["code"] == "session_rules"
    principal = case["members"][0]["full_name"]
    assert principal in error["message"] and "referred" in error["message"]
