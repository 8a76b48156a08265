"""Who saw a family's names on a flight or a session: a movement's and a session's answers
(API, UI, manifest exports, proposals) leave a row in each shown case's own audit trail, so
``GET /api/v1/audit?case_id=...`` answers it (a tester found only the request's row, with no
case, for adding to a manifest and for every movement page view)."""

from __future__ import annotations

from typing import Any

from tests.support.browser import signed_in
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.stack import Stack
from tests.test_movements import _case_in_movement_stage, _details, _family, _ok, login_all
from tests.test_orientation_sessions import _in_orientation, _session

DESTINATION = "LT"  # no other test's session goes to Lithuania: the proposals are ours alone


async def _trail(driver: CaseDriver, case_id: str) -> list[dict[str, Any]]:
    r = await driver.client.get("/api/v1/audit", params={"case_id": case_id, "limit": 200},
                                headers=await driver.login("fatma"))
    assert r.status_code == 200, r.text
    return r.json()


async def test_movement_answers_are_in_each_shown_cases_trail(driver: CaseDriver, stack: Stack) -> None:
    await login_all(driver)
    case = await _case_in_movement_stage(driver, _family(2))
    case_id = case["case_id"]
    movement = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=10))
    mid = movement["movement_id"]
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": case_id})
    await _ok(driver, "GET", f"/api/v1/movements/{mid}")
    async with signed_in(stack, "emre") as browser:
        assert (await browser.get(f"/ui/movements/{mid}")).status_code == 200
    await _ok(driver, "GET", "/api/v1/movements")  # the list shows no one: no case row

    actions = [(e["action"], e["actor_id"], e["outcome"]) for e in await _trail(driver, case_id)]
    for action in (f"POST /api/v1/movements/{{movement_id}}/cases ({mid})",
                   f"GET /api/v1/movements/{{movement_id}} ({mid})",
                   f"GET /ui/movements/{{movement_id}} ({mid})"):
        assert (action, "emre", "allowed") in actions, actions
    assert not any(a.startswith("GET /api/v1/movements (") for a, _, _ in actions), actions

    # A refusal shows nothing: no row in the case's trail for it.
    refused = await driver.client.post(f"/api/v1/movements/{mid}/cases", json={"case_id": "C-NONE-NONE-NONE"},
                                       headers=await driver.login("emre"))
    assert refused.status_code in (404, 409, 422), refused.text
    again = [e["action"] for e in await _trail(driver, case_id)]
    assert again.count(f"POST /api/v1/movements/{{movement_id}}/cases ({mid})") == 1, again


async def test_session_answers_and_proposals_are_in_each_shown_cases_trail(driver: CaseDriver) -> None:
    case = await _in_orientation(driver, referral(office="IST", size=1, destination_country=DESTINATION))
    case_id = case["case_id"]
    session = await _ok(driver, "POST", "/api/v1/orientation-sessions",
                        json=_session(capacity=4, destination_country=DESTINATION), username="ayse")
    sid = session["session_id"]
    proposed = await _ok(driver, "GET", f"/api/v1/orientation-sessions/{sid}/proposals", username="ayse")
    assert [p["case_id"] for p in proposed["items"]] == [case_id]
    await _ok(driver, "POST", f"/api/v1/orientation-sessions/{sid}/participants",
              json={"participants": [{"case_id": case_id}]}, username="ayse")
    actions = [(e["action"], e["actor_id"]) for e in await _trail(driver, case_id)]
    assert (f"GET /api/v1/orientation-sessions/{{session_id}}/proposals (proposed for {sid})", "ayse") in actions
    assert (f"POST /api/v1/orientation-sessions/{{session_id}}/participants ({sid})", "ayse") in actions
