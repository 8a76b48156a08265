"""Integration keys: hashed, shown once, scoped to event types and offices, revocable,
rotatable; every message kept, rejected ones visible to the office's supervisors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from domain.model import Stage
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.inbox import send, settled

TODAY = datetime.now(UTC).date().isoformat()


SUPERVISOR = {"IST": "fatma", "IZM": "ali"}


async def _key(http: httpx.AsyncClient, driver: CaseDriver, name: str, event_types: list[str],
               offices: list[str]) -> dict[str, Any]:
    """An admin's key, approved by a supervisor of each of its offices (it works only then)."""
    r = await http.post("/api/v1/admin/integration-keys", headers=await driver.login("admin"),
                        json={"name": name, "event_types": event_types, "offices": offices})
    assert r.status_code == 201, r.text
    for office in offices:
        approved = await http.post(f"/api/v1/integrations/keys/{r.json()['key_id']}/approve",
                                   headers=await driver.login(SUPERVISOR[office]))
        assert approved.status_code == 200, approved.text
    return r.json()


async def test_keys_are_managed_by_admins_and_shown_once(stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    denied = await http.post("/api/v1/admin/integration-keys", headers=await driver.login("fatma"),
                             json={"name": "x", "event_types": ["referral"], "offices": ["IST"]})
    assert denied.status_code == 403
    issued = await _key(http, driver, "UNHCR feed", ["referral"], ["IST"])
    assert issued["api_key"].startswith(f"itk_{issued['key_id']}_")
    listed = (await http.get("/api/v1/admin/integration-keys", headers=await driver.login("admin"))).json()
    mine = next(k for k in listed if k["key_id"] == issued["key_id"])
    assert "api_key" not in mine and "secret_hash" not in mine
    async with stack.pool.acquire() as conn:
        stored = await conn.fetchval("SELECT secret_hash FROM integration_keys WHERE key_id = $1", issued["key_id"])
    assert issued["api_key"].split("_", 2)[2] not in stored


async def test_feed_refers_and_clinic_records_results_within_scope(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    feed = await _key(http, driver, "UNHCR feed", ["referral"], ["IST"])
    clinic = await _key(http, driver, "Istanbul clinic", ["health_result"], ["IST"])
    body = referral(size=1)
    r = await send(http, feed["api_key"], {"event_type": "referral", "referral": body})
    assert r.status_code == 202, r.text
    case_id = r.json()["case_id"]
    assert (await settled(http, feed["api_key"], r.json()["inbox_id"]))["status"] == "applied"
    case = (await http.get(f"/api/v1/cases/{case_id}", headers=await driver.login("ayse"))).json()
    case = await driver.advance(case, until=Stage.HEALTH)
    member_id = case["members"][0]["member_id"]

    result = {"event_type": "health_result", "external_referral_id": body["external_referral_id"],
              "member_id": member_id, "form": {"assessment_date": TODAY, "outcome": "cleared",
                                               "clearance_valid_until": "2099-01-01"}}
    sent = await send(http, clinic["api_key"], result)
    assert sent.status_code == 202, sent.text
    applied = await settled(http, clinic["api_key"], sent.json()["inbox_id"])
    assert applied["status"] == "applied" and applied["result"]["stage"] == "orientation"
    events = (await http.get(f"/api/v1/cases/{case_id}/events", headers=await driver.login("fatma"))).json()
    recorded = next(e for e in events if e["type"] == "HealthAssessmentRecorded")
    assert recorded["actor"] == {"kind": "integration", "id": clinic["key_id"], "role": "integration:Istanbul clinic"}

    # Out of scope: another event type, another office's case, an invalid form, no key.
    wrong_type = await send(http, clinic["api_key"], {"event_type": "visa_decision", "case_id": case_id, "form": {}})
    assert wrong_type.status_code == 403
    izmir = await driver.refer(referral(office="IZM"), username="mehmet")
    other_office = await send(http, clinic["api_key"], {**result, "external_referral_id": izmir["external_referral_id"]})
    assert other_office.status_code == 404
    garbage = await send(http, clinic["api_key"], {"event_type": "health_result", "case_id": case_id, "colour": "blue"})
    assert garbage.status_code == 422
    assert (await http.post("/api/v1/integrations/messages", json=result)).status_code == 401

    rejected = (await http.get("/api/v1/integrations/messages", params={"status": "rejected"},
                               headers=await driver.login("fatma"))).json()
    codes = {m["error"]["code"] for m in rejected if m["key_id"] == clinic["key_id"]}
    assert {"forbidden", "invalid_request"} <= codes
    kept = next(m for m in rejected if m["key_id"] == clinic["key_id"] and m["error"]["code"] == "invalid_request")
    assert kept["payload"]["colour"] == "blue"  # the message itself is kept, as sent
    assert (await http.get("/api/v1/integrations/messages", headers=await driver.login("ayse"))).status_code == 403


async def test_a_rotated_key_keeps_working_for_its_overlap_until_revoked(http: httpx.AsyncClient,
                                                                         driver: CaseDriver) -> None:
    """The airline deploys the new key over a day: the old one works beside it meanwhile (24 h
    unless the admin says otherwise), is listed active with the moment it stops, cannot be
    rotated a second time, and revoking it ends the overlap at once."""
    admin = await driver.login("admin")
    key = await _key(http, driver, "Airline", ["departure"], ["IST"])
    message = {"event_type": "departure", "case_id": "C-NONE-NONE-NONE", "form": {}}
    before = datetime.now(UTC)
    rotated = await http.post(f"/api/v1/admin/integration-keys/{key['key_id']}/rotate", headers=admin)
    assert rotated.status_code == 201, rotated.text
    assert (await send(http, key["api_key"], message)).status_code == 404  # still authenticated
    assert (await send(http, rotated.json()["api_key"], message)).status_code == 404
    listed = {k["key_id"]: k for k in (await http.get("/api/v1/admin/integration-keys", headers=admin)).json()}
    old = listed[key["key_id"]]
    stops = datetime.fromisoformat(old["revoked_at"])
    assert old["status"] == "active" and timedelta(hours=23) < stops - before < timedelta(hours=25), old
    again = await http.post(f"/api/v1/admin/integration-keys/{key['key_id']}/rotate", headers=admin)
    assert again.status_code == 409 and again.json()["error"]["code"] == "key_revoked"

    revoked = await http.post(f"/api/v1/admin/integration-keys/{key['key_id']}/revoke", headers=admin)
    assert revoked.json()["status"] == "revoked"
    assert (await send(http, key["api_key"], message)).status_code == 401
    assert (await send(http, rotated.json()["api_key"], message)).status_code == 404  # the successor works

    for bad in ({"old_key_valid_hours": 169}, {"old_key_valid_hours": -1}, {"old_key_valid_hours": "24"},
                {"overlap": 3}):
        refused = await http.post(f"/api/v1/admin/integration-keys/{rotated.json()['key_id']}/rotate",
                                  headers=admin, json=bad)
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["error"]["details"][0]["field"].startswith("body"), refused.text
    assert (await send(http, rotated.json()["api_key"], message)).status_code == 404  # refusals changed nothing

    # A line of rotations: A -> B with a day's overlap, then B -> C at once (a leak): A and B
    # both stop at once, and C still reads what A sent.
    a = await _key(http, driver, "Clinic line", ["departure"], ["IST"])
    real = {"event_type": "departure", "case_id": "C-NONE-NONE-NONE", "form": {}}
    b = (await http.post(f"/api/v1/admin/integration-keys/{a['key_id']}/rotate", headers=admin)).json()
    c_ = (await http.post(f"/api/v1/admin/integration-keys/{b['key_id']}/rotate", headers=admin,
                          json={"old_key_valid_hours": 0})).json()
    assert [(await send(http, k["api_key"], real)).status_code for k in (a, b, c_)] == [401, 401, 404]
    states = {k["key_id"]: k["status"] for k in (await http.get("/api/v1/admin/integration-keys",
                                                                 headers=admin)).json()}
    assert [states[k["key_id"]] for k in (a, b, c_)] == ["revoked", "revoked", "active"]

    # Revoking the new key of a line (the leak was found after the rotation) ends the old key's
    # overlap too (explore10 #7: it kept working for the rest of its day).
    d = await _key(http, driver, "Embassy line", ["departure"], ["IST"])
    e = (await http.post(f"/api/v1/admin/integration-keys/{d['key_id']}/rotate", headers=admin)).json()
    assert [(await send(http, k["api_key"], real)).status_code for k in (d, e)] == [404, 404]
    assert (await http.post(f"/api/v1/admin/integration-keys/{e['key_id']}/revoke", headers=admin)).status_code == 200
    assert [(await send(http, k["api_key"], real)).status_code for k in (d, e)] == [401, 401]


async def test_revoked_and_rotated_keys_stop_working(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    key = await _key(http, driver, "Airline", ["departure"], ["IST"])
    message = {"event_type": "departure", "case_id": "C-NONE-NONE-NONE", "form": {}}
    assert (await send(http, key["api_key"], message)).status_code == 404  # authenticated; the case is unknown
    rotated = (await http.post(f"/api/v1/admin/integration-keys/{key['key_id']}/rotate",
                               headers=await driver.login("admin"), json={"old_key_valid_hours": 0})).json()
    assert rotated["replaces"] == key["key_id"] and rotated["event_types"] == ["departure"]
    old = await send(http, key["api_key"], message)
    assert old.status_code == 401
    new = await send(http, rotated["api_key"], message)
    assert new.status_code == 404
    await http.post(f"/api/v1/admin/integration-keys/{rotated['key_id']}/revoke", headers=await driver.login("admin"))
    revoked = await send(http, rotated["api_key"], message)
    assert revoked.status_code == 401


async def test_a_result_for_a_person_split_off_follows_them_to_their_new_case(http: httpx.AsyncClient,
                                                                              driver: CaseDriver) -> None:
    """The clinic knows the referral and the person, not the split: a health result for a member
    who moved to a split-off case is applied there (member ids stay with the person), not
    refused as "not a member" of the case it was referred as."""
    clinic = await _key(http, driver, "Istanbul clinic", ["health_result"], ["IST"])
    body = referral(size=2)
    case = await driver.advance(await driver.refer(body), until=Stage.HEALTH)
    case_id, moving = case["case_id"], case["members"][1]["member_id"]
    split = await http.post(f"/api/v1/cases/{case_id}/split", headers=await driver.login("ayse"), json={
        "member_ids": [moving], "principal_member_id": moving, "reason": "Travels later, with her sister."})
    assert split.status_code == 200, split.text
    new_case = split.json()["new_case"]["case_id"]

    result = {"event_type": "health_result", "external_referral_id": body["external_referral_id"],
              "member_id": moving, "form": {"assessment_date": TODAY, "outcome": "cleared",
                                            "clearance_valid_until": "2099-01-01"}}
    sent = await send(http, clinic["api_key"], result)
    assert sent.status_code == 202, sent.text
    applied = await settled(http, clinic["api_key"], sent.json()["inbox_id"])
    assert applied["status"] == "applied", applied
    events = (await http.get(f"/api/v1/cases/{new_case}/events", headers=await driver.login("fatma"))).json()
    assert [e["data"]["member_id"] for e in events if e["type"] == "HealthAssessmentRecorded"] == [moving]
    stranger = await send(http, clinic["api_key"], {**result, "member_id": f"{case_id}-M9"})
    assert stranger.status_code == 422 and stranger.json()["error"]["code"] == "unknown_member"


async def test_a_referral_to_the_host_country_is_refused_at_intake(stack, http: httpx.AsyncClient,
                                                                   driver: CaseDriver) -> None:
    """The partner hears the host-country rule in the answer to its message (422 naming
    ``referral.destination_country``), as a caseworker does; the message is kept as refused
    (supervisors read it), never queued to fail at its delivery."""
    feed = await _key(http, driver, "UNHCR feed (host country)", ["referral"], ["IST"])
    body = referral(size=1, destination_country="TR")
    refused = await send(http, feed["api_key"], {"event_type": "referral", "referral": body})
    assert refused.status_code == 422, refused.text
    [detail] = refused.json()["error"]["details"]
    assert detail["field"] == "referral.destination_country"
    assert "host country of office IST" in detail["reason"] and detail["allowed"] == "any country other than TR"
    async with stack.pool.acquire() as conn:
        kept = await conn.fetch("SELECT status, accepted FROM integration_messages WHERE key_id = $1", feed["key_id"])
    assert [(r["status"], r["accepted"]) for r in kept] == [("rejected", False)]
    accepted = await send(http, feed["api_key"], {"event_type": "referral", "referral": {**body, "destination_country": "NO"}})
    assert accepted.status_code == 202, accepted.text
