"""The demo data of ``itinera dev`` (demo/): the one test module that imports it, because it is
what it tests.  Seeded through the real API, worked by the test accounts."""

from __future__ import annotations

from datetime import datetime

from demo.cases import AVRR_DEMO_CASES, seed_avrr_demo
from demo.users import DEMO_USERS, DEMO_WORKER_BY_ROLE_AND_OFFICE, demo_worker_for
from tests.support.driver import CaseDriver


async def test_the_demo_data_holds_avrr_cases_of_both_offices_in_several_stages(driver: CaseDriver) -> None:
    cases = [await seed_avrr_demo(driver, demo) for demo in AVRR_DEMO_CASES]
    stages = {c["stage"] for c in cases}
    assert {"referral", "interview", "health", "orientation", "visa", "movement", "arrival",
            "reintegration", "closed"} <= stages
    assert {c["office"] for c in cases} == {"IST", "IZM"} and {c["programme"] for c in cases} == {"avrr"}
    by_name = {c["principal_name"]: c for c in cases}
    back_home = by_name["Tariq Mahmood"]
    plan = back_home["avrr"]["reintegration_plan"]
    assert len(plan) == 3 and [i["delivered_on"] is not None for i in plan] == [True, False, False]
    survivor = by_name["Dilnoza Yusupova"]
    assert (survivor["priority"], survivor["avrr"]["escort_required"]) == ("emergency", True)
    assert [t["task_type"] for t in survivor["open_tasks"]] == ["arrange_escort"]
    assert by_name["Rahim Uddin"]["priority"] == "urgent"
    assert (by_name["Hamid Tazi"]["status"], by_name["Hamid Tazi"]["closure_reason"]) == ("closed", "consent_withdrawn")
    assert by_name["Karwan Aziz"]["avrr"]["consent_status"] == "given"


def test_the_demo_accounts_work_every_task_of_both_offices() -> None:
    """Who works what in the demo (demo/users.py) names demo accounts of the right role."""
    roles = {username: (role.value, offices) for username, _, role, offices in DEMO_USERS}
    for (role, office), username in DEMO_WORKER_BY_ROLE_AND_OFFICE.items():
        assert roles[username][0] == role and office in roles[username][1], (role, office, username)
    assert roles[demo_worker_for({"task_type": "record_treatment", "role": "medical_officer"}, "IST")][0] == \
        "medical_officer"


async def test_the_demo_holds_a_case_whose_destination_skips_the_health_stage(driver: CaseDriver) -> None:
    from demo.cases import DEMO_CASES

    (referral, stage, follow_up), = [d for d in DEMO_CASES if d[0]["destination_country"] == "IE"]
    body = {**referral, "external_referral_id": referral["external_referral_id"] + "-T"}  # its own case here
    case = await driver.advance(await driver.refer(body), stage, follow_up_members=follow_up)
    assert case["stage"] == "orientation" and [s["stage"] for s in case["stages"] if s["skipped"]] == ["health"]


async def test_the_family_flying_in_three_hours_has_no_escalation(driver: CaseDriver) -> None:
    """explore3 finding 6: the demo's booking three hours ahead opened its fit-to-travel checks
    already overdue, and a supervisor escalation per member the same second."""
    from demo.cases import DEMO_CASES, fly_in_three_hours

    (referral, stage, follow_up), = [d for d in DEMO_CASES if d[0]["external_referral_id"] == "UNHCR-TUR-2026-004469"]
    body = {**referral, "external_referral_id": referral["external_referral_id"] + "-T"}  # its own case here
    case = await driver.advance(await driver.refer(body), stage, follow_up_members=follow_up)
    case = await fly_in_three_hours(driver, case)
    assert [t["task_type"] for t in case["open_tasks"]] == ["record_departure"]
    events = (await driver.client.get(f"/api/v1/cases/{case['case_id']}/events",
                                      headers=await driver.login("fatma"))).json()
    assert "TaskOverdue" not in [e["type"] for e in events]
    checks = [e["data"] for e in events
              if e["type"] == "TaskOpened" and e["data"]["task_type"] == "check_fit_to_travel"]
    booked = next(e["data"] for e in events if e["type"] == "MovementBooked")
    assert len(checks) == 2
    departure = datetime.fromisoformat(booked["departure_at"])
    opened_at = {e["data"]["task_id"]: datetime.fromisoformat(e["occurred_at"]) for e in events
                 if e["type"] == "TaskOpened"}
    for check in checks:  # due an hour after it opened (six hours before the flight is past), before the flight
        due = datetime.fromisoformat(check["due_at"])
        assert opened_at[check["task_id"]] < due <= departure
