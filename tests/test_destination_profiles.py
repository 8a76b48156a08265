"""Destination profiles (issue 15): which services a destination asks for, and the rule that a
case follows the profile version recorded at its referral, whatever changes afterwards."""

from __future__ import annotations

import httpx

from domain.model import Stage
from tests.support.browser import signed_in
from tests.support.driver import CaseDriver
from tests.support.factories import referral


async def _change(http: httpx.AsyncClient, driver: CaseDriver, country: str, **body: object) -> httpx.Response:
    return await http.put(f"/api/v1/destination-profiles/{country}", json={"reason": "test", **body},
                          headers=await driver.login("admin"))


def _stage_path(case: dict) -> list[str]:
    return [s["stage"] for s in case["stages"] if not s["skipped"]]


async def test_a_destination_without_the_health_stage_goes_from_interview_to_orientation(
        http: httpx.AsyncClient, driver: CaseDriver, stack) -> None:
    # IE's demo profile (migration 0039): the destination screens health itself.
    case = await driver.refer(referral(destination_country="IE"))
    assert case["services"] == {"country": "IE", "version": 1, "skipped_stages": ["health"],
                                "fit_to_travel_check": True}
    assert [s["stage"] for s in case["stages"] if s["skipped"]] == ["health"]
    async with signed_in(stack, "ayse") as ayse:  # the case page says who does the health assessment
        page = (await ayse.get(f"/ui/cases/{case['case_id']}")).text
    assert "Done by the destination" in page and "Health assessment" in page and "profile IE v1" in page
    case = await driver.advance(case, until=Stage.ORIENTATION)
    assert case["stage"] == "orientation"
    assert {t["task_type"] for t in case["open_tasks"]} == {"record_orientation"}
    events = (await http.get(f"/api/v1/cases/{case['case_id']}/events", headers=await driver.login("fatma"))).json()
    entered = [e["data"]["stage"] for e in events if e["type"] == "StageEntered"]
    assert entered == ["referral", "interview", "orientation"]
    assert not any(e["type"] == "TaskOpened" and e["data"]["task_type"] == "assess_health" for e in events)

    case = await driver.advance(case)  # and on to arrival, without a health clearance of IOM's
    assert case["status"] == "closed" and case["closure_reason"] == "arrived"


async def test_a_profile_change_reaches_new_cases_only(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    first = await _change(http, driver, "PT", skipped_stages=[], reason="Portugal: the full service")
    assert first.status_code == 201, first.text
    before = await driver.refer(referral(destination_country="PT"))
    version = first.json()["version"]
    assert before["services"]["version"] == version and _stage_path(before)[:4] == [
        "referral", "interview", "health", "orientation"]

    changed = await _change(http, driver, "PT", skipped_stages=["health", "orientation"],
                            reason="Portugal now screens and orients on arrival")
    assert changed.status_code == 201 and changed.json()["version"] == version + 1
    after = await driver.refer(referral(destination_country="PT"))
    assert after["services"]["version"] == version + 1
    assert _stage_path(after)[:3] == ["referral", "interview", "visa"]

    # The case referred before the change still walks health and orientation (and says which
    # profile version it follows); the new one goes from interview to visa.
    before = await driver.advance(before, until=Stage.HEALTH)
    assert before["stage"] == "health" and before["services"]["version"] == version
    after = await driver.advance(after, until=Stage.VISA)
    assert after["stage"] == "visa"

    versions = (await http.get("/api/v1/destination-profiles/PT", headers=await driver.login("ayse"))).json()
    assert [v["version"] for v in versions] == [version + 1, version]
    assert versions[0]["changed_by"] == "admin" and versions[0]["reason"] == "Portugal now screens and orients on arrival"
    current = (await http.get("/api/v1/destination-profiles", headers=await driver.login("ayse"))).json()
    assert next(p for p in current if p["country"] == "PT")["version"] == version + 1


async def test_bad_profiles_are_refused_with_the_field_and_change_nothing(
        http: httpx.AsyncClient, driver: CaseDriver) -> None:
    before = (await http.get("/api/v1/destination-profiles/NO", headers=await driver.login("ayse"))).json()

    core = await _change(http, driver, "NO", skipped_stages=["visa"])
    assert core.status_code == 422
    detail = core.json()["error"]["details"][0]
    assert detail["field"].endswith("skipped_stages.0") and "health" in detail["reason"]

    unknown = await _change(http, driver, "XX", skipped_stages=[])
    assert unknown.status_code == 422 and unknown.json()["error"]["details"][0]["field"] == "path.country"
    no_reason = await http.put("/api/v1/destination-profiles/NO", json={"skipped_stages": []},
                               headers=await driver.login("admin"))
    assert no_reason.status_code == 422 and no_reason.json()["error"]["details"][0]["field"] == "body.reason"

    caseworker = await http.put("/api/v1/destination-profiles/NO", json={"skipped_stages": ["health"], "reason": "x"},
                                headers=await driver.login("ayse"))
    assert caseworker.status_code == 403

    after = (await http.get("/api/v1/destination-profiles/NO", headers=await driver.login("ayse"))).json()
    assert after == before
    missing = await http.get("/api/v1/destination-profiles/ZW", headers=await driver.login("ayse"))
    assert missing.status_code == 404


async def test_the_served_schema_states_which_stages_may_be_skipped(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/openapi.json")).json()["components"]["schemas"]["DestinationServicesIn"]
    assert schema["properties"]["skipped_stages"]["items"]["enum"] == ["health", "orientation"]
    assert "reason" in schema["required"]


async def test_a_destination_that_waives_the_fit_to_travel_check_departs_without_one(
        http: httpx.AsyncClient, driver: CaseDriver) -> None:
    changed = await _change(http, driver, "NZ", skipped_stages=[], fit_to_travel_check=False,
                            reason="New Zealand: the airline's own check only")
    assert changed.status_code == 201, changed.text
    case = await driver.advance(await driver.refer(referral(destination_country="NZ")), until=Stage.MOVEMENT)
    seen: list[str] = []
    while case["stage"] == "movement":
        task = case["open_tasks"][0]
        seen.append(task["task_type"])
        case = await driver.complete(task, case["office"], case=case)
    assert seen == ["book_movement", "record_departure"]
    assert case["stage"] == "arrival"


def test_a_case_without_an_iom_health_stage_needs_no_medical_clearance_on_a_manifest() -> None:
    """A group movement's manifest rule asks for a medical clearance only of cases that have an
    IOM health stage: not of a destination that screens health itself (its profile skips the
    stage), nor of a programme without one (family reunification)."""
    from datetime import UTC, date, datetime

    from domain.movements.model import CaseFacts, MemberFacts, MovementDetails
    from domain.movements.rules import validity_problems

    details = MovementDetails.model_validate({
        "kind": "charter", "flight_number": "XC101", "carrier": "Charter Air", "departure_airport": "IST",
        "arrival_airport": "DUB", "departure_at": datetime(2026, 12, 20, 9, tzinfo=UTC),
        "departure_time_zone": "Europe/Istanbul", "seat_capacity": 10, "office": "IST"})
    member = MemberFacts(member_id="C-1-M1", full_name="Rana Khalil", date_of_birth=date(1990, 1, 1),
                         health="pending", visa="issued", visa_valid_until=date(2027, 6, 1))
    with_stage = CaseFacts(case_id="C-1", office="IST", members=[member])
    without = with_stage.model_copy(update={"medical_clearance_required": False})
    assert [p.rule for p in validity_problems(with_stage, details)] == ["medical_clearance"]
    assert validity_problems(without, details) == []


async def test_the_manifest_facts_of_a_case_whose_destination_skips_health(
        http: httpx.AsyncClient, driver: CaseDriver, stack) -> None:
    from activities.movements import facts_of
    from domain.engine.evolve import fold
    from store.projection import load_events

    skipping = await driver.advance(await driver.refer(referral(destination_country="IE")), until=Stage.MOVEMENT)
    walking = await driver.advance(await driver.refer(referral(destination_country="NO")), until=Stage.MOVEMENT)

    async def state_of(case: dict):
        async with stack.pool.acquire() as conn:
            return fold(await load_events(conn, case["case_id"]))

    assert facts_of(await state_of(skipping)).medical_clearance_required is False
    assert facts_of(await state_of(walking)).medical_clearance_required is True


async def test_many_referrals_at_once_each_read_their_profile_without_waiting_on_each_other(
        driver: CaseDriver, stack) -> None:
    """Each referral reads its destination's profile while its route holds a connection: more
    referrals at once than the API's pool has connections must all be answered."""
    import asyncio

    pool_size = stack.settings.database_pool_max
    await driver.login("ayse")  # one token, before the burst
    cases = await asyncio.wait_for(asyncio.gather(*[driver.refer(referral(size=1, destination_country="IE"))
                                                    for _ in range(pool_size + 5)]), timeout=120)
    assert all(c["services"]["country"] == "IE" for c in cases)


async def test_a_profile_with_a_flag_as_a_string_or_an_unknown_field_is_refused_and_changes_nothing(
        http: httpx.AsyncClient, driver: CaseDriver) -> None:
    before = (await http.get("/api/v1/destination-profiles", headers=await driver.login("ayse"))).json()
    for body, field in (({"fit_to_travel_check": "yes"}, "body.fit_to_travel_check"),
                        ({"fit_to_travel_check": 1}, "body.fit_to_travel_check"),
                        ({"skipped_stages": [], "fit_to_travel": False}, "body.fit_to_travel")):
        r = await _change(http, driver, "NO", **body)
        assert r.status_code == 422, r.text
        assert [d["field"] for d in r.json()["error"]["details"]] == [field], r.text
    after = (await http.get("/api/v1/destination-profiles", headers=await driver.login("ayse"))).json()
    assert after == before
