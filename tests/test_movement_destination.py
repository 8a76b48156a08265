"""A case flies only to the country it travels to (the manifest's ``destination`` rule): its
resettlement / family reunification destination, or its AVRR country of return, against the
country of the movement's arrival airport, which the API derives from the IATA airports table
(``api.airports``) and carries in ``MovementDetails.arrival_country``.

A tester found a resettlement case bound for Norway added (and so booked, locked, departed) on
a return charter IST -> EBL (Erbil, Iraq): 200, rule_check [].  Decided purely here, then once
through the API on the real stack."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from api.airports import country_of, known
from domain.model import Actor, Stage
from domain.movements import commands as c
from domain.movements.decide import MovementRejected, decide, fold
from domain.movements.model import CaseFacts, MemberFacts, MovementDetails, MovementState
from domain.movements.rules import destination_problems
from tests.support.driver import CaseDriver
from tests.test_movements import _call, _case_in_movement_stage, _details, _family, _ok, login_all

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
OFFICER = Actor(id="emre", role="movement_officer")


def _movement(arrival_airport: str, arrival_country: str | None) -> MovementState:
    details = MovementDetails.model_validate(
        _details(capacity=9, transit=[], arrival_at=None) | {
            "departure_at": "2026-12-02T10:00:00+03:00", "arrival_airport": arrival_airport,
            "arrival_country": arrival_country})
    return fold(decide(None, c.CreateMovement(details=details), NOW, OFFICER), None, "MV-1")


def _facts(case_id: str = "C-1", **country: Any) -> CaseFacts:
    return CaseFacts(case_id=case_id, office="IST", programme="resettlement", stage=Stage.MOVEMENT,
                     open_tasks={"book_movement": f"{case_id}-T9"},
                     members=[MemberFacts(member_id=f"{case_id}-M1", full_name="Rana Khalil",
                                          date_of_birth=date(1990, 1, 1), health="cleared", visa="issued",
                                          visa_valid_until=date(2027, 6, 1))], **country)


def _refusal(state: MovementState, command: Any, facts: list[CaseFacts]) -> list[dict[str, Any]]:
    with pytest.raises(MovementRejected) as refused:
        decide(state, command, NOW, OFFICER, facts)
    assert refused.value.code == "manifest_rules"
    return refused.value.details


def test_a_case_bound_elsewhere_is_refused_naming_the_case_its_country_and_the_flights() -> None:
    erbil = _movement("EBL", "IQ")
    [problem] = _refusal(erbil, c.AddCase(case_ids=["C-1"]), [_facts(destination_country="NO")])
    assert (problem["case_id"], problem["rule"]) == ("C-1", "destination")
    assert problem["message"] == "case C-1 is bound for NO; the flight lands at EBL in IQ"
    # AVRR: its country of return
    oslo = _movement("OSL", "NO")
    [problem] = _refusal(oslo, c.AddCase(case_ids=["C-2"]), [_facts("C-2", return_country="IQ")])
    assert problem["message"] == "case C-2 returns to IQ; the flight lands at OSL in NO"
    # with several cases, only the one bound elsewhere is named (and none joins)
    details = _refusal(erbil, c.AddCase(case_ids=["C-3", "C-4"]),
                       [_facts("C-3", return_country="IQ"), _facts("C-4", destination_country="SE")])
    assert [(d["case_id"], d["rule"]) for d in details] == [("C-4", "destination")]


def test_a_case_bound_for_the_flights_country_joins_and_locks() -> None:
    oslo = _movement("OSL", "NO")
    bound = _facts(destination_country="NO")
    state = fold(decide(oslo, c.AddCase(case_ids=["C-1"]), NOW, OFFICER, [bound]), oslo, "MV-1")
    state = fold(decide(state, c.LockManifest(), NOW, OFFICER, [bound]), state, "MV-1")
    assert state.status == "locked"
    erbil = _movement("EBL", "IQ")
    returning = _facts(return_country="IQ")
    assert decide(erbil, c.AddCase(case_ids=["C-1"]), NOW, OFFICER, [returning])


def test_the_lock_checks_the_case_as_it_is_now() -> None:
    """A case whose destination changed after it joined (resettlement: resubmitted to Sweden)
    is named at the lock."""
    oslo = _movement("OSL", "NO")
    state = fold(decide(oslo, c.AddCase(case_ids=["C-1"]), NOW, OFFICER, [_facts(destination_country="NO")]),
                 oslo, "MV-1")
    [problem] = _refusal(state, c.LockManifest(), [_facts(destination_country="SE")])
    assert (problem["rule"], problem["message"]) == ("destination",
                                                     "case C-1 is bound for SE; the flight lands at OSL in NO")


def test_what_recorded_histories_decided_is_unchanged() -> None:
    """A movement created before the rule has no arrival_country, and facts recorded before it
    carry no country: the rule applies only when both are known, so nothing they decided
    changes (tests/test_replay.py replays them)."""
    before = _movement("EBL", None)
    assert destination_problems(_facts(destination_country="NO"), before.details) == []
    erbil = _movement("EBL", "IQ")
    assert destination_problems(_facts(), erbil.details) == []  # facts without a country
    assert decide(before, c.AddCase(case_ids=["C-1"]), NOW, OFFICER, [_facts(destination_country="NO")])
    # the field is optional in a recorded MovementCreated's details
    recorded = before.details.model_dump(mode="json")
    recorded.pop("arrival_country")
    assert MovementDetails.model_validate(recorded).arrival_country is None


def test_the_airports_table() -> None:
    assert [country_of(code) for code in ("IST", "OSL", "ARN", "EBL", "ADB", "BER", "LHE")] == [
        "TR", "NO", "SE", "IQ", "TR", "DE", "PK"]
    assert not known("ZZQ") and country_of("ZZQ") is None
    # Pristina: the table puts it in XK, Kosovo's user-assigned code, which cases may have
    assert known("PRN") and country_of("PRN") == "XK"
    assert country_of("LHR") == "GB"


def test_kosovo_is_a_country_a_referral_may_name() -> None:
    """explore10 F4: XK, the code the EU, UNHCR and IOM use for Kosovo, was refused as a
    nationality and as an AVRR country of return."""
    from domain.model import Referral
    from tests.support.factories import member, referral

    body = referral(size=1, programme="avrr", destination_country=None, origin_country="XK")
    body["members"] = [member("Arben Krasniqi", "1990-01-01", "principal", sex="male", nationality="XK")]
    parsed = Referral.model_validate(body)
    assert parsed.origin_country == "XK" and parsed.members[0].nationality == "XK"


def test_the_creation_form_has_no_arrival_country_input() -> None:
    """Derived by the server (readOnly in the schema): the UI's generated form leaves it out."""
    from api.ui.schema_form import form_fields

    schema = MovementDetails.model_json_schema()
    assert schema["properties"]["arrival_country"]["readOnly"] is True
    names = [f.name for f in form_fields(schema)]
    assert "arrival_airport" in names and "arrival_country" not in names


async def test_a_case_bound_for_norway_is_refused_on_a_charter_to_erbil(driver: CaseDriver) -> None:
    """The tester's case through the API: the movement knows its arrival country (IQ, from
    EBL), the Norway-bound family is refused, naming the case and both countries, and nothing
    joins; unknown airports and a disagreeing arrival_country are 422s naming the field."""
    await login_all(driver)

    async def refused(body: dict[str, Any]) -> list[dict[str, Any]]:
        r = await _call(driver, "POST", "/api/v1/movements", json=body)
        assert r.status_code == 422, r.text
        return r.json()["error"]["details"]

    before = len((await _ok(driver, "GET", "/api/v1/movements"))["items"])
    unknown = await refused(_details(capacity=9) | {"arrival_airport": "ZZQ"})
    assert [d["field"] for d in unknown] == ["body.arrival_airport"], unknown
    assert "ZZQ is not a known IATA airport code" in unknown[0]["reason"]
    both = await refused(_details(capacity=9) | {"departure_airport": "QQZ", "transit": [
        _details(capacity=9)["transit"][0] | {"airport": "ZQZ"}]})
    assert [d["field"] for d in both] == ["body.departure_airport", "body.transit.0.airport"], both
    wrong = await refused(_details(capacity=9) | {"arrival_country": "SE"})
    assert [d["field"] for d in wrong] == ["body.arrival_country"] and "OSL is in NO" in wrong[0]["reason"], wrong
    assert len((await _ok(driver, "GET", "/api/v1/movements"))["items"]) == before  # nothing created

    family = await _case_in_movement_stage(driver, _family(2))  # resettlement to Norway
    erbil = await _ok(driver, "POST", "/api/v1/movements",
                      json=_details(capacity=9, transit=[], arrival_airport="EBL", flight_number="XC2201"))
    assert erbil["details"]["arrival_country"] == "IQ"
    mid = erbil["movement_id"]
    r = await _call(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_ids": [family["case_id"]]})
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "manifest_rules"
    assert [(d["rule"], d["field"]) for d in error["details"]] == [("destination", f"case {family['case_id']}")]
    assert error["details"][0]["reason"] == f"case {family['case_id']} is bound for NO; the flight lands at EBL in IQ"
    assert (await _ok(driver, "GET", f"/api/v1/movements/{mid}"))["manifest"] == []

    # The same family joins a flight to Oslo (the country sent, agreeing, is accepted).
    oslo = await _ok(driver, "POST", "/api/v1/movements",
                     json=_details(capacity=9, arrival_country="NO", flight_number="XC2202"))
    assert oslo["details"]["arrival_country"] == "NO"
    added = await _ok(driver, "POST", f"/api/v1/movements/{oslo['movement_id']}/cases",
                      json={"case_id": family["case_id"]})
    assert [e["case_id"] for e in added["manifest"]] == [family["case_id"]]
