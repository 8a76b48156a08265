"""Reads: case list filters and pagination, the inbox, a task's form schema, health, OpenAPI."""

from __future__ import annotations

import uuid

import httpx

from domain.model import Stage
from tests.support.driver import CaseDriver
from tests.support.factories import member, referral


async def test_case_detail_has_members_open_tasks_and_key_dates(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=3, priority="urgent"))
    detail = (await http.get(f"/api/v1/cases/{case['case_id']}", headers=await driver.login("ayse"))).json()
    assert detail["stage"] == "referral" and detail["stage_label"] == "Referral"
    assert detail["status"] == "active" and detail["priority"] == "urgent"
    assert [m["relationship"] for m in detail["members"]] == ["principal", "child", "child"]
    assert detail["key_dates"]["referred_at"] and detail["key_dates"]["next_due_at"]
    assert detail["open_tasks"][0]["due_at"] == detail["key_dates"]["next_due_at"]


async def test_case_list_filters_and_pages_without_gaps(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    family = f"Zeytin{uuid.uuid4().hex[:6]}"
    ids = []
    for i in range(5):
        body = referral(members=[member(f"Rana {family}", "1990-01-01", "principal")],
                        priority="emergency" if i % 2 else "normal")
        case = await driver.refer(body)
        ids.append(case["case_id"])
    await driver.advance(case, until=Stage.INTERVIEW)
    headers = await driver.login("fatma")

    seen, cursor = [], None
    while True:
        params = {"q": family, "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await http.get("/api/v1/cases", params=params, headers=headers)).json()
        seen += [c["case_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))  # newest first, every case once

    emergency = (await http.get("/api/v1/cases", params={"q": family, "priority": "emergency"}, headers=headers)).json()
    assert len(emergency["items"]) == 2
    interview = (await http.get("/api/v1/cases", params={"q": family, "stage": "interview"}, headers=headers)).json()
    assert [c["case_id"] for c in interview["items"]] == [ids[-1]]
    by_id = (await http.get("/api/v1/cases", params={"q": body["external_referral_id"]}, headers=headers)).json()
    assert [c["case_id"] for c in by_id["items"]] == [ids[-1]]
    bad = await http.get("/api/v1/cases", params={"cursor": "not-a-cursor"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "query.cursor"


async def test_inbox_shows_the_callers_work_most_urgent_first(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    normal = await driver.refer(referral(priority="normal"))
    emergency = await driver.refer(referral(priority="emergency"))
    headers = await driver.login("ayse")
    inbox = (await http.get("/api/v1/tasks", params={"limit": 200}, headers=headers)).json()["items"]
    ids = [t["task_id"] for t in inbox]
    assert ids.index(emergency["open_tasks"][0]["task_id"]) < ids.index(normal["open_tasks"][0]["task_id"])
    assert all(t["role"] == "caseworker" and t["office"] == "IST" for t in inbox)
    # Overdue first, whatever the priority; then by priority.
    keys = [(not t["overdue"], ("emergency", "urgent", "normal").index(t["priority"])) for t in inbox]
    assert keys == sorted(keys)

    # A medical officer's inbox holds health tasks only.
    case = await driver.advance(await driver.refer(referral(size=2)), until=Stage.HEALTH)
    medical = (await http.get("/api/v1/tasks", params={"case_id": case["case_id"]},
                              headers=await driver.login("selin"))).json()["items"]
    assert [t["task_type"] for t in medical] == ["assess_health", "assess_health"]
    assert {t["member_name"] for t in medical} == {m["full_name"] for m in case["members"]}

    task_id = emergency["open_tasks"][0]["task_id"]
    await http.post(f"/api/v1/tasks/{task_id}/claim", headers=headers)
    mine = (await http.get("/api/v1/tasks", params={"assignee": "me"}, headers=headers)).json()["items"]
    assert task_id in [t["task_id"] for t in mine] and all(t["claimed_by"] == "ayse" for t in mine)
    unassigned = (await http.get("/api/v1/tasks", params={"assignee": "unassigned", "limit": 200},
                                 headers=headers)).json()["items"]
    assert task_id not in [t["task_id"] for t in unassigned]
    overdue = (await http.get("/api/v1/tasks", params={"overdue": "true", "limit": 200}, headers=headers)).json()
    assert task_id not in [t["task_id"] for t in overdue["items"]]  # nothing of these cases is past its SLA
    assert all(t["overdue"] for t in overdue["items"])


async def test_task_carries_the_json_schema_of_its_form(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.HEALTH)
    task = (await http.get(f"/api/v1/tasks/{case['open_tasks'][0]['task_id']}",
                           headers=await driver.login("selin"))).json()
    assert task["task_type"] == "assess_health" and task["member_id"] == case["members"][0]["member_id"]
    schema = task["form_schema"]
    assert set(schema["required"]) == {"assessment_date", "outcome"}
    assert set(schema["properties"]["outcome"]["enum"]) == {"cleared", "treatment_required", "not_cleared"}
    assert "clearance_valid_until" in schema["properties"]
    assert schema["properties"]["assessment_date"]["format"] == "date"
    assert schema["additionalProperties"] is False


async def test_health_reports_both_dependencies(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    r = await http.get("/api/v1/health", headers=await driver.login("ayse"))
    assert r.json() == {"status": "ok", "temporal": True, "database": True}


async def test_openapi_documents_every_endpoint_with_examples(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()
    paths = spec["paths"]
    for path in ("/api/v1/cases", "/api/v1/cases/{case_id}", "/api/v1/cases/{case_id}/events", "/api/v1/tasks",
                 "/api/v1/tasks/{task_id}", "/api/v1/tasks/{task_id}/claim", "/api/v1/tasks/{task_id}/complete",
                 "/api/v1/health", "/api/v1/auth/token"):
        assert path in paths
    assert spec["components"]["schemas"]["Referral"]["examples"]
    assert "422" in paths["/api/v1/cases"]["post"]["responses"]


async def test_health_details_reach_only_medical_officers_and_supervisors(http: httpx.AsyncClient,
                                                                          driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.HEALTH)
    case = await driver.complete(case["open_tasks"][0], "IST", form={
        "assessment_date": case["key_dates"]["referred_at"][:10], "outcome": "cleared",
        "clearance_valid_until": "2099-01-01", "tb_classification": "class_b2", "follow_up_needed": True,
        "notes": "Latent TB, follow up in Norway."})
    for user, reads in (("ayse", False), ("emre", False), ("selin", True), ("fatma", True)):
        headers = await driver.login(user)
        events = (await http.get(f"/api/v1/cases/{case['case_id']}/events", headers=headers)).json()
        health = next(e for e in events if e["type"] == "HealthAssessmentRecorded")
        assert health["data"]["outcome"] == "cleared"
        assert ("notes" in health["data"] and "tb_classification" in health["data"]) is reads, user
        detail = (await http.get(f"/api/v1/cases/{case['case_id']}", headers=headers)).json()
        assert detail["members"][0]["health_status"] == "cleared"
        assert detail["members"][0]["follow_up_needed"] == (True if reads else None), user
