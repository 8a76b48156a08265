"""Every refusal answers with the right status and code, and changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.driver import CaseDriver
from tests.support.factories import member, referral


async def _events(http: httpx.AsyncClient, driver: CaseDriver, case_id: str) -> list[dict[str, Any]]:
    r = await http.get(f"/api/v1/cases/{case_id}/events", headers=await driver.login("fatma"))
    assert r.status_code == 200
    return r.json()


def _error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()["error"]
    assert body["code"] == code
    assert body["message"]
    return body


# --- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic YXllc2U6eA=="}],
    ids=["none", "garbage", "basic"],
)
async def test_requests_without_a_valid_token_get_401(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for path in ("/api/v1/cases", "/api/v1/tasks", "/api/v1/health", "/api/v1/cases/C-XXXX-XXXX-XXXX"):
        r = await http.get(path, headers=headers)
        _error(r, 401, "unauthorized")
        assert r.headers["www-authenticate"] == "Bearer"


async def test_wrong_password_gets_401(http: httpx.AsyncClient) -> None:
    r = await http.post("/api/v1/auth/token", data={"username": "ayse", "password": "wrong-password"})
    _error(r, 401, "invalid_credentials")


async def test_token_signed_with_another_key_gets_401(http: httpx.AsyncClient) -> None:
    import jwt

    forged = jwt.encode({"iss": "itinera", "aud": "itinera-api", "sub": "fatma", "role": "supervisor",
                         "offices": ["IST"], "iat": 1, "nbf": 1, "exp": 4_000_000_000}, "another-key-" + "y" * 32,
                        algorithm="HS256")
    _error(await http.get("/api/v1/cases", headers={"Authorization": f"Bearer {forged}"}), 401, "unauthorized")


# --- 404 -----------------------------------------------------------------------------------


async def test_unknown_case_and_task_are_404(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    headers = await driver.login("ayse")
    _error(await http.get("/api/v1/cases/C-NONE-NONE-NONE", headers=headers), 404, "case_not_found")
    _error(await http.get("/api/v1/cases/C-NONE-NONE-NONE/events", headers=headers), 404, "case_not_found")
    _error(await http.get("/api/v1/tasks/C-NONE-NONE-NONE-T01", headers=headers), 404, "task_not_found")
    r = await http.post("/api/v1/tasks/C-NONE-NONE-NONE-T01/complete", json={"form": {}}, headers=headers)
    _error(r, 404, "task_not_found")


async def test_case_of_another_office_is_404_not_403(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(referral(office="IZM"), username="mehmet")
    headers = await driver.login("ayse")  # Istanbul caseworker
    _error(await http.get(f"/api/v1/cases/{case['case_id']}", headers=headers), 404, "case_not_found")
    task_id = case["open_tasks"][0]["task_id"]
    _error(await http.get(f"/api/v1/tasks/{task_id}", headers=headers), 404, "task_not_found")
    listed = (await http.get("/api/v1/cases", params={"q": case["external_referral_id"]}, headers=headers)).json()
    assert listed["items"] == []


# --- 403 -----------------------------------------------------------------------------------


async def test_role_that_does_not_work_a_task_gets_403(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(referral())
    task_id = case["open_tasks"][0]["task_id"]  # a caseworker's task
    r = await http.post(f"/api/v1/tasks/{task_id}/complete", json={"form": {"documents_checked": True}},
                        headers=await driver.login("selin"))
    _error(r, 403, "forbidden")
    assert len(await _events(http, driver, case["case_id"])) == case["version"]


async def test_referring_to_an_office_not_yours_is_403(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    r = await http.post("/api/v1/cases", json=referral(office="IZM"), headers=await driver.login("ayse"))
    body = _error(r, 403, "forbidden")
    assert body["details"][0]["field"] == "body.office"


# --- 409 -----------------------------------------------------------------------------------


async def test_completing_a_task_twice_is_409_and_records_nothing(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(referral())
    task = case["open_tasks"][0]
    after = await driver.complete(task, "IST")
    r = await http.post(f"/api/v1/tasks/{task['task_id']}/complete", json={"form": {"documents_checked": True}},
                        headers=await driver.login("ayse"))
    body = _error(r, 409, "task_not_open")
    assert "completed" in body["message"]
    assert len(await _events(http, driver, case["case_id"])) == after["version"]


async def test_a_task_of_another_stage_is_refused_by_the_workflow(stack, http: httpx.AsyncClient,
                                                                   driver: CaseDriver) -> None:
    """The API's read-model pre-check is bypassed here on purpose: the workflow's Update
    validator is what guards the stage, and its refusal must reach the caller as 409."""
    from api.commands import CaseCommands
    from api.errors import ApiError
    from domain.model import Actor

    case = await driver.refer(referral(size=1))
    case = await driver.advance(case, until=__import__("domain.model", fromlist=["Stage"]).Stage.HEALTH)
    commands = CaseCommands(stack.temporal, stack.settings.temporal_task_queue)
    referral_task = f"{case['case_id']}-T01"
    with pytest.raises(ApiError) as refused:
        await commands.complete_task(case["case_id"], referral_task, {"documents_checked": True},
                                     Actor(id="ayse", role="caseworker"))
    assert (refused.value.status, refused.value.code) == (409, "task_not_open")

    # A task id the case does not have is refused by the validator as unknown.
    with pytest.raises(ApiError) as unknown:
        await commands.complete_task(case["case_id"], f"{case['case_id']}-T99", {}, Actor(id="ayse", role="caseworker"))
    assert (unknown.value.status, unknown.value.code) == (404, "task_not_found")

    # An invalid form that slipped past the API is refused by the validator too.
    health_task = case["open_tasks"][0]["task_id"]
    with pytest.raises(ApiError) as invalid:
        await commands.complete_task(case["case_id"], health_task, {"outcome": "cleared"},
                                     Actor(id="selin", role="medical_officer"))
    assert (invalid.value.status, invalid.value.code) == (422, "invalid_form")
    assert {d["field"] for d in invalid.value.details} >= {"assessment_date", "clearance_valid_until"}

    history = await stack.temporal.get_workflow_handle(case["case_id"]).fetch_history()
    rejected = [e for e in history.events if e.HasField("workflow_execution_update_rejected_event_attributes")]
    accepted = [e for e in history.events if e.HasField("workflow_execution_update_accepted_event_attributes")]
    assert rejected == []  # validator rejections never reach history
    assert len(accepted) == 1 + 2  # the referral and the two completions made by advance()
    assert len(await _events(http, driver, case["case_id"])) == case["version"]


async def test_task_claimed_by_someone_else_is_409(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(referral())
    task_id = case["open_tasks"][0]["task_id"]
    claim = await http.post(f"/api/v1/tasks/{task_id}/claim", headers=await driver.login("fatma"))
    assert claim.status_code == 200 and claim.json()["claimed_by"] == "fatma"
    again = await http.post(f"/api/v1/tasks/{task_id}/claim", headers=await driver.login("fatma"))
    assert again.status_code == 200  # idempotent for the holder
    _error(await http.post(f"/api/v1/tasks/{task_id}/claim", headers=await driver.login("ayse")), 409, "task_claimed")
    r = await http.post(f"/api/v1/tasks/{task_id}/complete", json={"form": {"documents_checked": True}},
                        headers=await driver.login("ayse"))
    _error(r, 409, "task_claimed")
    released = await http.post(f"/api/v1/tasks/{task_id}/release", headers=await driver.login("fatma"))
    assert released.status_code == 204
    assert (await http.post(f"/api/v1/tasks/{task_id}/claim", headers=await driver.login("ayse"))).status_code == 200


# --- 422 -----------------------------------------------------------------------------------


async def test_invalid_form_is_422_naming_each_field_and_records_nothing(http: httpx.AsyncClient,
                                                                          driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=1))
    case = await driver.complete(case["open_tasks"][0], "IST")
    task_id = case["open_tasks"][0]["task_id"]  # conduct_interview
    r = await http.post(
        f"/api/v1/tasks/{task_id}/complete",
        json={"form": {"interview_date": "2999-01-01", "outcome": "maybe", "shoe_size": 42}},
        headers=await driver.login("ayse"),
    )
    body = _error(r, 422, "invalid_form")
    fields = {d["field"]: d["reason"] for d in body["details"]}
    assert "future" in fields["interview_date"]
    assert "accepted" in fields["outcome"]
    assert "shoe_size" in fields
    assert len(await _events(http, driver, case["case_id"])) == case["version"]


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"destination_country": "XX"}, "body.destination_country", "ISO 3166"),
        ({"priority": "whenever"}, "body.priority", "emergency"),
        ({"members": []}, "body.members", "at least 1"),
        ({"external_referral_id": "a"}, "body.external_referral_id", "3-64"),
        ({"office": "istanbul"}, "body.office", "pattern"),
        ({"unexpected": 1}, "body.unexpected", "Extra inputs"),
        ({"members": [member("A", "1990-01-01", "child")]}, "body.members", "principal"),
        ({"members": [member("A", "1990-02-30", "principal")]}, "body.members.0.date_of_birth", "date"),
        ({"destination_country": None}, "body", "destination_country is required"),
    ],
)
async def test_invalid_referral_is_422_naming_the_field(http: httpx.AsyncClient, driver: CaseDriver,
                                                         change: dict[str, Any], field: str, reason: str) -> None:
    body = referral(**change)
    r = await http.post("/api/v1/cases", json=body, headers=await driver.login("ayse"))
    error = _error(r, 422, "invalid_request")
    matching = [d for d in error["details"] if d["field"] == field]
    assert matching, error["details"]
    assert reason.lower() in matching[0]["reason"].lower()
    assert not any(d["reason"].startswith("Value error") for d in error["details"])  # our sentence, as said
    listed = (await http.get("/api/v1/cases", params={"q": body["external_referral_id"]},
                             headers=await driver.login("ayse"))).json()
    assert [c for c in listed["items"] if c["external_referral_id"] == body["external_referral_id"]] == []


async def test_enum_errors_say_what_is_allowed(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    r = await http.post("/api/v1/cases", json=referral(priority="whenever"), headers=await driver.login("ayse"))
    detail = next(d for d in r.json()["error"]["details"] if d["field"] == "body.priority")
    assert "emergency" in detail["allowed"] and "normal" in detail["allowed"]
