"""Integration messages stay in their office, and a key works only once supervisors of its
offices approved it (issue 11, items 2 and 9).

Every stored message belongs to one office: its case's (when the case is one of the key's
offices'), else the key's single office; a multi-office key's message naming none of
their cases is readable only by a supervisor of all of the key's offices.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import json

import httpx

from domain.model import Role, Stage
from store import integrations as store
from store.users import add_user
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.inbox import send, settled
from tests.support.users import TEST_PASSWORD

TODAY = datetime.now(UTC).date().isoformat()
SUPERVISOR = {"IST": "fatma", "IZM": "ali"}


async def _mint(http: httpx.AsyncClient, driver: CaseDriver, event_types: list[str], offices: list[str]) -> dict[str, Any]:
    r = await http.post("/api/v1/admin/integration-keys", headers=await driver.login("admin"),
                        json={"name": f"partner {uuid.uuid4().hex[:6]}", "event_types": event_types,
                              "offices": offices})
    assert r.status_code == 201, r.text
    return r.json()


async def _approve(http: httpx.AsyncClient, driver: CaseDriver, key: dict[str, Any], username: str) -> httpx.Response:
    return await http.post(f"/api/v1/integrations/keys/{key['key_id']}/approve", headers=await driver.login(username))


async def _approved_key(http: httpx.AsyncClient, driver: CaseDriver, event_types: list[str],
                        offices: list[str]) -> dict[str, Any]:
    key = await _mint(http, driver, event_types, offices)
    for office in offices:
        assert (await _approve(http, driver, key, SUPERVISOR[office])).status_code == 200
    return key


async def _send(http: httpx.AsyncClient, key: dict[str, Any], body: dict[str, Any]) -> httpx.Response:
    return await send(http, key["api_key"], body)


async def _messages(http: httpx.AsyncClient, headers: dict[str, str], key: dict[str, Any]) -> list[dict[str, Any]]:
    r = await http.get("/api/v1/integrations/messages", params={"limit": 500}, headers=headers)
    assert r.status_code == 200, r.text
    return [m for m in r.json() if m["key_id"] == key["key_id"]]


async def _supervisor_of(stack, offices: list[str]) -> str:
    username = f"sup-{uuid.uuid4().hex[:8]}"
    async with stack.pool.acquire() as conn:
        await add_user(conn, username, TEST_PASSWORD, Role.SUPERVISOR, offices)  # driver.login's password
    return username


async def test_a_multi_office_keys_rejected_message_is_read_only_in_its_cases_office(
        stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    clinic = await _approved_key(http, driver, ["health_result"], ["IST", "IZM"])
    body = referral(office="IST", size=1)
    case = await driver.advance(await driver.refer(body), until=Stage.HEALTH)
    member_id = case["members"][0]["member_id"]
    note = f"latent TB, isoniazid course {uuid.uuid4().hex[:6]}"

    # Rejected three ways, each naming the Istanbul patient's case: an invalid outcome, an
    # unknown field, and a form for a member the case does not have.
    sent = [
        {"event_type": "health_result", "external_referral_id": body["external_referral_id"], "member_id": member_id,
         "form": {"assessment_date": TODAY, "outcome": "maybe", "notes": note}},
        {"event_type": "health_result", "case_id": case["case_id"], "member_id": member_id,
         "form": {"assessment_date": TODAY, "outcome": "cleared", "notes": note}, "colour": "blue"},
        {"event_type": "health_result", "case_id": case["case_id"], "member_id": f"{case['case_id']}-M9",
         "form": {"assessment_date": TODAY, "outcome": "cleared", "notes": note}},
    ]
    for message in sent:
        assert (await _send(http, clinic, message)).status_code in (409, 422)

    izmir = await _messages(http, await driver.login("ali"), clinic)
    assert izmir == [] and note not in str(izmir)  # Izmir's supervisor reads no Istanbul patient
    istanbul = await _messages(http, await driver.login("fatma"), clinic)
    assert len(istanbul) == 3
    assert {(m["case_id"], m["office"], m["status"]) for m in istanbul} == {(case["case_id"], "IST", "rejected")}
    async with stack.pool.acquire() as conn:
        stored = await conn.fetch("SELECT case_id, office FROM integration_messages WHERE key_id = $1",
                                  clinic["key_id"])
    assert {(r["case_id"], r["office"]) for r in stored} == {(case["case_id"], "IST")}


async def test_a_message_naming_no_case_of_the_key_goes_to_the_keys_office_or_to_supervisors_of_all(
        stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    note = f"clinical note {uuid.uuid4().hex[:6]}"
    unknown = {"event_type": "health_result", "case_id": "C-NONE-NONE-NONE", "member_id": "C-NONE-NONE-NONE-M1",
               "form": {"assessment_date": TODAY, "outcome": "cleared", "notes": note}}
    both = await _approved_key(http, driver, ["health_result"], ["IST", "IZM"])
    assert (await _send(http, both, unknown)).status_code == 404
    assert await _messages(http, await driver.login("fatma"), both) == []
    assert await _messages(http, await driver.login("ali"), both) == []
    of_both = await _supervisor_of(stack, ["IST", "IZM"])
    [kept] = await _messages(http, await driver.login(of_both), both)
    assert kept["office"] is None and kept["payload"]["form"]["notes"] == note

    # A single-office key's message belongs to that office, also when it names another
    # office's case (which, for this key, is no case at all: nothing links it to Izmir).
    istanbul_only = await _approved_key(http, driver, ["health_result"], ["IST"])
    izmir_case = await driver.refer(referral(office="IZM", size=1), username="mehmet")
    elsewhere = unknown | {"case_id": izmir_case["case_id"]}
    assert (await _send(http, istanbul_only, unknown)).status_code == 404
    assert (await _send(http, istanbul_only, elsewhere)).status_code == 404
    assert await _messages(http, await driver.login("ali"), istanbul_only) == []
    placed = await _messages(http, await driver.login("fatma"), istanbul_only)
    assert [(m["case_id"], m["office"]) for m in placed] == [(None, "IST"), (None, "IST")]


async def test_a_kept_message_never_fails_on_characters_postgresql_refuses(stack, http: httpx.AsyncClient,
                                                                          driver: CaseDriver) -> None:
    """The API's edge refuses such bodies before this route runs; the store keeps whatever
    reaches it anyway (a rejected message is recorded from the raw body, as sent)."""
    key = await _approved_key(http, driver, ["health_result"], ["IST"])
    async with stack.pool.acquire() as conn:
        await store.record_message(conn, key_id=key["key_id"], event_type="health_result\u0000", case_id=None,
                                   office="IST", status="rejected", http_status=422,
                                   error={"code": "invalid_request", "message": "x\u0000"},
                                   payload={"form": {"notes": "a\u0000b \ud800", "k\u0000": ["\udfff"]}})
    [kept] = await _messages(http, await driver.login("fatma"), key)
    assert kept["payload"] == {"form": {"notes": "a\ufffdb ?", "k\ufffd": ["?"]}}
    assert kept["event_type"] == "health_result\ufffd" and kept["error"]["message"] == "x\ufffd"


async def test_an_admins_key_writes_no_case_data_until_supervisors_of_its_offices_approve_it(
        http: httpx.AsyncClient, driver: CaseDriver) -> None:
    body = referral(office="IST", size=1)
    case = await driver.advance(await driver.refer(body), until=Stage.HEALTH)
    result = {"event_type": "health_result", "case_id": case["case_id"], "member_id": case["members"][0]["member_id"],
              "form": {"assessment_date": TODAY, "outcome": "cleared", "clearance_valid_until": "2099-01-01"}}

    key = await _mint(http, driver, ["health_result"], ["IST", "IZM"])
    assert (key["status"], key["pending_offices"], key["approvals"]) == ("pending_approval", ["IST", "IZM"], [])
    refused = await _send(http, key, result)  # the admin completes a health task with it: refused
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "key_not_approved"

    # Only a supervisor of one of the key's offices approves, and only for their offices.
    assert (await _approve(http, driver, key, "ayse")).status_code == 403
    assert (await _approve(http, driver, key, "admin")).status_code == 403
    assert (await http.post("/api/v1/integrations/keys/nosuchkey/approve",
                            headers=await driver.login("fatma"))).status_code == 404
    half = (await _approve(http, driver, key, "fatma")).json()
    assert half["status"] == "pending_approval" and half["pending_offices"] == ["IZM"]
    assert [(a["office"], a["approved_by"]) for a in half["approvals"]] == [("IST", "fatma")]
    assert (await _send(http, key, result)).status_code == 403  # Izmir has not approved yet

    listed = (await http.get("/api/v1/integrations/keys", headers=await driver.login("ali"))).json()
    assert next(k for k in listed if k["key_id"] == key["key_id"])["pending_offices"] == ["IZM"]
    assert "api_key" not in listed[0] and "secret_hash" not in listed[0]
    assert (await _approve(http, driver, key, "ali")).json()["status"] == "active"
    done = await _send(http, key, result)
    assert done.status_code == 202, done.text
    applied = await settled(http, key["api_key"], done.json()["inbox_id"])
    assert applied["status"] == "applied" and applied["result"]["stage"] == "orientation"

    # A rotated key keeps its approvals (same scopes, same partner); a revoked key cannot be approved.
    rotated = (await http.post(f"/api/v1/admin/integration-keys/{key['key_id']}/rotate",
                               headers=await driver.login("admin"))).json()
    assert rotated["status"] == "active"
    await http.post(f"/api/v1/admin/integration-keys/{rotated['key_id']}/revoke", headers=await driver.login("admin"))
    assert (await _approve(http, driver, rotated, "fatma")).status_code == 409
    # Revoking is final: neither the revoked key nor the one it replaced can be rotated back.
    for gone in (rotated, key):
        again = await http.post(f"/api/v1/admin/integration-keys/{gone['key_id']}/rotate",
                                headers=await driver.login("admin"))
        assert again.status_code == 409 and again.json()["error"]["code"] == "key_revoked", again.text

    kept = await _messages(http, await driver.login("fatma"), key)
    assert [m["error"]["code"] for m in kept if m["status"] == "rejected"] == ["key_not_approved"] * 2
    admin_view = (await http.get("/api/v1/admin/integration-keys", headers=await driver.login("admin"))).json()
    assert {a["office"] for a in next(k for k in admin_view if k["key_id"] == key["key_id"])["approvals"]} == {
        "IST", "IZM"}


async def test_a_message_with_characters_postgresql_refuses_is_refused_and_kept(http: httpx.AsyncClient,
                                                                                driver: CaseDriver) -> None:
    """Every rejected integration message is kept and visible: the edge guard lets this
    route keep what it refuses (a storable copy), instead of refusing before it runs."""
    key = await _approved_key(http, driver, ["health_result"], ["IST"])
    body = {"event_type": "health_result", "case_id": "C-NONE", "form": {"notes": "a\u0000b"}}
    r = await send(http, key["api_key"], None, content=json.dumps(body))  # escaped: \u0000
    assert r.status_code in (404, 422), r.text
    [kept] = await _messages(http, await driver.login("fatma"), key)
    assert kept["status"] == "rejected" and kept["payload"]["form"]["notes"] == "a\ufffdb"
