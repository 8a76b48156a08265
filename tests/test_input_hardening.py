"""Bad input never wedges a case (issue 11, items 1, 5 and 8).

A string PostgreSQL cannot store (NUL, a lone surrogate, bytes that are not UTF-8) once
made the recording activity retry forever: the request hung, answered 500, and every later
command on the case did the same.  Such input is now refused at the edge with a 422 that
names the field, before anything reaches a workflow; names also refuse the Unicode
direction controls that make them display as something they are not.  Malformed query
parameters, path ids, cursors and absurdly nested bodies are 4xx, never 500; an
unexpected failure answers the standard JSON error and is audited; impossible dates
(a date of birth in 2099 or 1899, a visa valid until 9999) are refused.

Every refusal is checked to have changed nothing: the case's version and events stay.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.case import validate_form
from domain.errors import CommandRejected, RejectionCode
from domain.forms import AssessHealthForm, BookMovementForm, RecordConsentForm
from domain.model import MemberIn, Referral, Stage
from domain.tasks import TASK_SPECS, TaskType
from domain.text import LINE_PATTERN, TEXT_PATTERN
from tests.support.driver import CaseDriver
from tests.support.inbox import settled
from tests.support.factories import member, referral
from tests.support.users import TEST_PASSWORD

TODAY = datetime.now(UTC).date()


# --- helpers ---------------------------------------------------------------------------------


async def _post(http: httpx.AsyncClient, path: str, body: Any, headers: dict[str, str]) -> httpx.Response:
    """POST JSON encoded with ASCII escapes: "\\ud800" travels as the six characters a
    client would send (httpx's own encoder refuses to encode a lone surrogate)."""
    return await http.post(path, content=json.dumps(body).encode(),
                           headers={**headers, "content-type": "application/json"})


def _refused(r: httpx.Response, field: str | None = None, status: int = 422) -> dict[str, Any]:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_request" and error["message"]
    if field is not None:
        assert field in [d["field"] for d in error["details"]], error
    return error


def _client_error(r: httpx.Response) -> dict[str, Any]:
    """Any 4xx, with the standard error body."""
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    error = r.json()["error"]
    assert error["code"] and error["message"] and isinstance(error["details"], list)
    return error


async def _version(http: httpx.AsyncClient, driver: CaseDriver, case_id: str) -> tuple[int, int]:
    headers = await driver.login("fatma")
    case = (await http.get(f"/api/v1/cases/{case_id}", headers=headers)).json()
    events = (await http.get(f"/api/v1/cases/{case_id}/events", headers=headers)).json()
    return case["version"], len(events)


async def _no_case_for(http: httpx.AsyncClient, driver: CaseDriver, body: dict[str, Any]) -> None:
    found = await http.get("/api/v1/cases", params={"q": body["external_referral_id"]},
                           headers=await driver.login("fatma"))
    assert found.status_code == 200 and found.json()["items"] == []


async def _key(http: httpx.AsyncClient, driver: CaseDriver, event_types: list[str]) -> str:
    """An Istanbul integration key, approved by Istanbul's supervisor where keys need approval."""
    r = await http.post("/api/v1/admin/integration-keys", headers=await driver.login("admin"),
                        json={"name": "hardening test", "event_types": event_types, "offices": ["IST"]})
    assert r.status_code == 201, r.text
    approved = await http.post(f"/api/v1/integrations/keys/{r.json()['key_id']}/approve",
                               headers=await driver.login("fatma"))
    assert approved.status_code in (200, 404), approved.text  # 404: this version has no approvals
    return r.json()["api_key"]


BAD_NAMES = {
    "nul": "Amina\u0000Haddad",
    "lone surrogate": "Amina \ud800Haddad",
    "right-to-left override": "Amina \u202eaddaH",
    "first-strong isolate": "Amina \u2068Haddad",
    "line break": "Amina\nHaddad",
    "line separator": "Amina\u2028Haddad",
    "escape": "Amina\u001b[31mHaddad",
}


# --- item 1: refused at the edge, naming the field --------------------------------------------


async def test_a_nul_in_a_note_is_refused_and_the_case_stays_workable(http: httpx.AsyncClient,
                                                                      driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=1))
    before = await _version(http, driver, case["case_id"])
    headers = await driver.login("ayse")
    r = await _post(http, f"/api/v1/cases/{case['case_id']}/notes", {"text": "a\u0000b"}, headers)
    _refused(r, "body.text")
    assert await _version(http, driver, case["case_id"]) == before
    fine = await _post(http, f"/api/v1/cases/{case['case_id']}/notes", {"text": "Called the family: all well."},
                       headers)
    assert fine.status_code == 200, fine.text  # the case was not wedged by the refused note


@pytest.mark.parametrize("name", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
async def test_a_referral_with_a_name_that_cannot_be_stored_or_shown_opens_nothing(
        http: httpx.AsyncClient, driver: CaseDriver, name: str) -> None:
    body = referral(size=2)
    body["members"][1]["full_name"] = name
    _refused(await _post(http, "/api/v1/cases", body, await driver.login("ayse")), "body.members.1.full_name")
    await _no_case_for(http, driver, body)


async def test_names_in_any_script_are_accepted(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    body = referral(size=3)
    body["members"][0]["full_name"] = "أمينة حداد"  # Arabic, with its own direction: no control needed
    body["members"][1]["full_name"] = "Şükrü Öztürk"
    body["members"][2]["full_name"] = "𠮷野 家"  # a character outside the BMP (a surrogate pair in UTF-16)
    case = await driver.refer(body)
    assert [m["full_name"] for m in case["members"]] == [m["full_name"] for m in body["members"]]


async def test_invalid_utf8_in_a_body_is_refused_naming_the_field(http: httpx.AsyncClient,
                                                                  driver: CaseDriver) -> None:
    body = referral(size=1)
    raw = json.dumps(body).encode().replace(b"Amina", b"Am\xffina")
    r = await http.post("/api/v1/cases", content=raw,
                        headers={**await driver.login("ayse"), "content-type": "application/json"})
    error = _refused(r, "body.members.0.full_name")
    assert "UTF-8" in error["details"][0]["reason"]
    await _no_case_for(http, driver, body)
    garbage = await http.post("/api/v1/cases", content=b"\xff\xfe{}",
                              headers={**await driver.login("ayse"), "content-type": "application/json"})
    _refused(garbage, "body")


async def test_a_completion_form_with_a_nul_is_refused_and_the_task_stays_open(http: httpx.AsyncClient,
                                                                              driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=1))
    task = case["open_tasks"][0]
    headers = await driver.login("ayse")
    assert (await http.post(f"/api/v1/tasks/{task['task_id']}/claim", headers=headers)).status_code == 200
    before = await _version(http, driver, case["case_id"])
    form = {"documents_checked": True, "notes": "Passports seen.\u0000"}
    _refused(await _post(http, f"/api/v1/tasks/{task['task_id']}/complete", {"form": form}, headers),
             "body.form.notes")
    assert await _version(http, driver, case["case_id"]) == before
    form["notes"] = "Passports seen.\n\tAll members present."  # tab and line breaks are fine in notes
    done = await _post(http, f"/api/v1/tasks/{task['task_id']}/complete", {"form": form}, headers)
    assert done.status_code == 200, done.text


async def test_a_yes_no_field_sent_as_a_number_or_text_is_refused(http: httpx.AsyncClient,
                                                                   driver: CaseDriver) -> None:
    """``documents_checked: 1`` (or "yes") is not a JSON boolean: refused naming the field,
    the task stays open; ``true`` completes it."""
    case = await driver.refer(referral(size=1))
    task = case["open_tasks"][0]
    headers = await driver.login("ayse")
    assert (await http.post(f"/api/v1/tasks/{task['task_id']}/claim", headers=headers)).status_code == 200
    before = await _version(http, driver, case["case_id"])
    for value in (1, "yes", "true"):
        r = await _post(http, f"/api/v1/tasks/{task['task_id']}/complete", {"form": {"documents_checked": value}},
                        headers)
        assert r.status_code == 422, (value, r.text)
        assert "documents_checked" in json.dumps(r.json()["error"]["details"]), (value, r.text)
    assert await _version(http, driver, case["case_id"]) == before
    done = await _post(http, f"/api/v1/tasks/{task['task_id']}/complete", {"form": {"documents_checked": True}},
                       headers)
    assert done.status_code == 200, done.text


async def test_an_integration_health_result_with_a_nul_is_refused(http: httpx.AsyncClient,
                                                                  driver: CaseDriver) -> None:
    clinic = await _key(http, driver, ["health_result"])
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.HEALTH)
    before = await _version(http, driver, case["case_id"])
    message = {"event_type": "health_result", "case_id": case["case_id"],
               "member_id": case["members"][0]["member_id"],
               "form": {"assessment_date": TODAY.isoformat(), "outcome": "cleared",
                        "clearance_valid_until": (TODAY + timedelta(days=180)).isoformat(),
                        "notes": "Latent TB\u0000"}}
    r = await _post(http, "/api/v1/integrations/messages", message, {"X-API-Key": clinic, "Idempotency-Key": "nul-1"})
    # The integration route itself refuses it (the edge lets partners' messages through so
    # that a refused one is kept, tests/test_integration_scoping.py): the form's own rule.
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_form"
    assert any(d["field"].endswith("notes") for d in r.json()["error"]["details"]), r.text
    assert await _version(http, driver, case["case_id"]) == before
    message["form"]["notes"] = "Latent TB, follow up on arrival."
    accepted = await _post(http, "/api/v1/integrations/messages", message,
                           {"X-API-Key": clinic, "Idempotency-Key": "nul-1"})  # a refused request frees its key
    assert accepted.status_code == 202, accepted.text
    assert (await settled(http, clinic, accepted.json()["inbox_id"]))["result"]["stage"] == "orientation"


async def test_case_action_texts_are_refused_when_they_cannot_be_stored(http: httpx.AsyncClient,
                                                                        driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=2))
    case_id, child = case["case_id"], case["members"][1]["member_id"]
    before = await _version(http, driver, case_id)
    ayse, fatma = await driver.login("ayse"), await driver.login("fatma")
    correction = f"/api/v1/cases/{case_id}/members/{child}/corrections"
    _refused(await _post(http, f"/api/v1/cases/{case_id}/hold", {"reason": "wait\u0000"}, fatma), "body.reason")
    _refused(await _post(http, f"/api/v1/cases/{case_id}/withdraw", {"reason": "\ud83d"}, ayse), "body.reason")
    _refused(await _post(http, correction, {"changes": {"full_name": "Omar\u0000"}, "reason": "typo"}, ayse),
             "body.changes.full_name")
    _refused(await _post(http, correction, {"changes": {"full_name": "Omar"}, "reason": "typo\u0000"}, ayse),
             "body.reason")
    # the direction override: a corrected name is a person's name as typed, refused at the edge
    r = await _post(http, correction, {"changes": {"full_name": "Omar \u202eradda"}, "reason": "typo"}, ayse)
    assert r.status_code == 422, r.text
    assert "body.changes.full_name" in [d["field"] for d in r.json()["error"]["details"]]
    assert await _version(http, driver, case_id) == before


def test_the_workflow_side_refuses_the_same_text() -> None:
    """decide validates forms again inside the workflow with the same domain types."""
    form = {"assessment_date": TODAY.isoformat(), "outcome": "cleared",
            "clearance_valid_until": (TODAY + timedelta(days=180)).isoformat(), "notes": "a\u0000b"}
    with pytest.raises(CommandRejected) as refused:
        validate_form(TaskType.ASSESS_HEALTH, form, today=TODAY)
    assert refused.value.code == RejectionCode.INVALID_FORM
    assert [d["field"] for d in refused.value.details] == ["notes"]
    consent = {"given_by": "Karwan \u202eAziz", "given_on": TODAY.isoformat(), "language": "ku",
               "signed_form_reference": "AVRR-IST-2026-0142"}
    with pytest.raises(CommandRejected):
        validate_form(TaskType.RECORD_CONSENT, consent, today=TODAY)
    with pytest.raises(ValueError):
        MemberIn.model_validate(member("Amina\ud800", "1987-05-12", "principal"))


def _string_schemas(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every string schema of free text (no enum, const or format; not a number written as
    a string, like a Decimal's) in a JSON Schema."""
    found = []
    if isinstance(node, dict):
        if any(v.get("type") == "number" for v in node.get("anyOf", [])):
            return []
        if node.get("type") == "string" and not {"enum", "const", "format"} & node.keys():
            found.append((path, node))
        for key, value in node.items():
            found += _string_schemas(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _string_schemas(value, f"{path}.{i}")
    return found


def test_every_text_field_of_every_request_model_carries_the_rule_in_its_schema() -> None:
    models = [Referral] + sorted({spec.form for spec in TASK_SPECS.values()}, key=lambda m: m.__name__)
    for model in models:
        strings = _string_schemas(model.model_json_schema())
        assert strings, model
        for path, schema in strings:
            assert "pattern" in schema, f"{model.__name__}{path} has no pattern"
            pattern = re.compile(schema["pattern"])
            for bad in ("a\u0000b", "a\ud800b"):
                assert not pattern.search(bad), f"{model.__name__}{path} lets {bad!r} through"


def test_the_schema_patterns_mean_the_rule() -> None:
    line, text = re.compile(LINE_PATTERN), re.compile(TEXT_PATTERN)
    for good in ("Amina Haddad", "أمينة حداد", "𠮷野家", "Ayşe\u200fDemir"):  # RLM is an ordinary mark
        assert line.fullmatch(good) and text.fullmatch(good)
    for bad in BAD_NAMES.values():
        assert not line.fullmatch(bad), repr(bad)
    assert text.fullmatch("line one\nline two\ttabbed \u202eoverride")
    for bad in ("a\u0000b", "a\ud800b", "a\udc00", "a\u001bb", "a\u0085b"):
        assert not text.fullmatch(bad), repr(bad)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run JavaScript's RegExp")
def test_the_schema_patterns_mean_the_rule_in_javascript(tmp_path: Path) -> None:
    """Browsers compile an input's ``pattern`` with the ``v`` flag, JSON Schema validators
    with ``u`` or none: the pattern must mean the rule in all three."""
    script = tmp_path / "patterns.js"
    script.write_text("""
const [line, text, good, bad] = JSON.parse(process.argv[2]);
const out = {};
for (const flags of ["", "u", "v"]) {
  const l = new RegExp("^(?:" + line + ")$", flags), t = new RegExp("^(?:" + text + ")$", flags);
  out[flags] = [good.map(s => l.test(s) && t.test(s)), bad.map(s => l.test(s)), t.test("a\\n\\tb")];
}
console.log(JSON.stringify(out));
""")
    good = ["Amina Haddad", "أمينة حداد", "𠮷野家", "Ayşe\u200fDemir"]
    bad = list(BAD_NAMES.values()) + ["a\udc00"]
    argument = json.dumps([LINE_PATTERN, TEXT_PATTERN, good, bad])  # ASCII: surrogates travel as escapes
    result = json.loads(subprocess.run(["node", str(script), argument], capture_output=True, text=True,
                                       check=True).stdout)
    for flags, (goods, bads, multiline) in result.items():
        assert all(goods) and not any(bads) and multiline, (flags, goods, bads, multiline)


async def test_the_served_schemas_show_the_rule(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=1))
    task = (await http.get(f"/api/v1/tasks/{case['open_tasks'][0]['task_id']}",
                           headers=await driver.login("ayse"))).json()
    notes = task["form_schema"]["properties"]["notes"]["anyOf"][0]
    assert notes["pattern"] == TEXT_PATTERN and "NUL" in notes["description"]
    spec = (await http.get("/openapi.json")).json()["components"]["schemas"]
    name = spec["MemberIn"]["properties"]["full_name"]  # a person's name: Line's rule and more (see below)
    assert "direction" in name["description"]
    assert re.compile(name["pattern"]).fullmatch("Amina Haddad") and not re.compile(name["pattern"]).search("a\u202eb")
    assert "1900-01-01" in spec["MemberIn"]["properties"]["date_of_birth"]["description"]
    assert "future" in spec["MemberIn"]["properties"]["date_of_birth"]["description"]


async def test_a_nul_in_a_login_form_is_refused(http: httpx.AsyncClient) -> None:
    r = await http.post("/api/v1/auth/token", data={"username": "ay\u0000se", "password": TEST_PASSWORD})
    _refused(r, "body.username")


# --- item 5: malformed input is a 4xx, never a 500 ----------------------------------------------


async def test_nul_in_query_parameters_and_path_ids_is_a_4xx(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    ayse, fatma = await driver.login("ayse"), await driver.login("fatma")
    for path, params, headers in [
        ("/api/v1/cases", {"office": "I\u0000ST"}, ayse),
        ("/api/v1/cases", {"q": "Haddad\u0000"}, ayse),
        ("/api/v1/tasks", {"assignee": "\u0000"}, ayse),
        ("/api/v1/audit", {"actor": "ayse\u0000"}, fatma),
        ("/api/v1/audit", {"case_id": "C-\u0000"}, fatma),
    ]:
        _refused(await http.get(path, params=params, headers=headers), f"query.{next(iter(params))}")
    for path in ("/api/v1/cases/C-AAAA-%00", "/api/v1/cases/C-AAAA-%00/events", "/api/v1/tasks/C-AAAA-%00-T01"):
        _refused(await http.get(path, headers=ayse))
    _refused(await _post(http, "/api/v1/cases/C-AAAA-%00/notes", {"text": "x"}, ayse), "path.case_id")


async def test_before_id_beyond_int64_is_a_4xx(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    fatma = await driver.login("fatma")
    for before_id in (2**63, 10**30):
        _refused(await http.get("/api/v1/audit", params={"before_id": before_id}, headers=fatma), "query.before_id")
    assert (await http.get("/api/v1/audit", params={"before_id": 2**63 - 1}, headers=fatma)).status_code == 200


def _cursor(values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize("path, cursor", [
    ("/api/v1/tasks", _cursor([2**70, "2026-01-01T00:00:00+00:00", "C-X-T01"])),
    ("/api/v1/tasks", _cursor([float("inf"), "2026-01-01T00:00:00+00:00", "C-X-T01"])),
    ("/api/v1/tasks", _cursor([True, "2026-01-01T00:00:00+00:00", "C-X-T01"])),
    ("/api/v1/tasks", _cursor([0, "9999-12-31T23:59:59-05:00", "C-X-T01"])),
    ("/api/v1/tasks", _cursor([0, "2026-01-01T00:00:00+00:00", "C-X\u0000"])),
    ("/api/v1/tasks", _cursor([0, "2026-01-01T00:00:00+00:00", {"a": 1}])),
    ("/api/v1/cases", _cursor(["2026-01-01T00:00:00", "C-X"])),
    ("/api/v1/cases", _cursor(["2026-01-01T00:00:00+00:00", "C-\ud800"])),
    ("/api/v1/cases", _cursor(["yesterday", "C-X"])),
    ("/api/v1/cases", base64.urlsafe_b64encode(b"[" * 300).decode()),
    ("/api/v1/cases", "!!not-base64!!"),
    ("/api/v1/cases", "é"),
], ids=["int-beyond-int64", "infinity", "bool", "date-overflows-utc", "nul", "object", "naive-datetime",
        "surrogate", "not-a-date", "nested", "not-base64", "non-ascii"])
async def test_a_cursor_out_of_range_or_garbage_is_a_4xx(http: httpx.AsyncClient, driver: CaseDriver, path: str,
                                                         cursor: str) -> None:
    _refused(await http.get(path, params={"cursor": cursor}, headers=await driver.login("ayse")), "query.cursor")


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


async def test_a_body_nested_100000_levels_is_a_4xx(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=1))
    ayse = {**await driver.login("ayse"), "content-type": "application/json"}
    clinic = await _key(http, driver, ["health_result"])
    deep = _deep(100_000)
    for path, body, headers in [
        ("/api/v1/cases", deep, ayse),
        (f"/api/v1/tasks/{case['open_tasks'][0]['task_id']}/complete", '{"form": {"notes": ' + deep + "}}", ayse),
        (f"/api/v1/cases/{case['case_id']}/members/{case['members'][0]['member_id']}/corrections",
         '{"reason": "x", "changes": {"full_name": ' + deep + "}}", ayse),
        ("/api/v1/integrations/messages", '{"event_type": "health_result", "form": ' + deep + "}",
         {"X-API-Key": clinic, "content-type": "application/json"}),
    ]:
        error = _client_error(await http.post(path, content=body.encode(), headers=headers))
        assert error["details"][0]["field"] == "body"
    # nesting deep enough to hurt but well within the size limit is refused the same way
    _client_error(await http.post("/api/v1/cases", content=_deep(200).encode(), headers=ayse))


async def test_json_that_is_not_json_is_a_4xx(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    """NaN and Infinity are not JSON (RFC 8259) and PostgreSQL's jsonb refuses them."""
    clinic = await _key(http, driver, ["health_result"])
    r = await http.post("/api/v1/integrations/messages", content=b'{"event_type": "health_result", "form": NaN}',
                        headers={"X-API-Key": clinic, "content-type": "application/json"})
    _refused(r, "body")


async def test_an_unexpected_error_answers_the_standard_body_and_is_audited(stack) -> None:
    """A route that fails unexpectedly: JSON 500 (not Starlette's plain text) and an audit row."""
    from api.app import create_app

    app = create_app(stack.settings)

    @app.get("/api/v1/cases/{case_id}/explode")
    async def explode(case_id: str) -> None:
        raise RuntimeError("boom")

    @app.get("/api/v1/health/explode")  # a path never audited while it answers normally
    async def explode_unaudited() -> None:
        raise RuntimeError("boom")

    marker = f"C-FAIL-{datetime.now(UTC).strftime('%H%M%S%f')}"
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://itinera.test") as client:
            answers = [await client.get(f"/api/v1/cases/{marker}/explode"), await client.get("/api/v1/health/explode")]
    for r in answers:
        assert r.status_code == 500
        assert r.headers["content-type"] == "application/json"
        error = r.json()["error"]
        assert error["code"] == "internal_error" and "boom" not in error["message"]
    async with stack.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT action, outcome, status FROM audit_log WHERE case_id = $1", marker)
        unaudited = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'GET /api/v1/health/explode'")
    assert row is not None, "the 500 was not audited"
    assert dict(row) == {"action": "GET /api/v1/cases/{case_id}/explode", "outcome": "failed", "status": 500}
    assert unaudited == 1


async def test_refusals_at_the_edge_are_audited(stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=1))
    _refused(await _post(http, f"/api/v1/cases/{case['case_id']}/notes", {"text": "\u0000"},
                         await driver.login("ayse")))
    async with stack.pool.acquire() as conn:
        rows = await conn.fetch("SELECT action, outcome, status FROM audit_log WHERE case_id = $1 AND status = 422",
                                case["case_id"])
    assert [dict(r) for r in rows] == [{"action": "POST /api/v1/cases/{case_id}/notes", "outcome": "failed",
                                        "status": 422}]


# --- item 8: dates that cannot be right ----------------------------------------------------------


@pytest.mark.parametrize("dob", ["2099-01-01", (TODAY + timedelta(days=1)).isoformat(), "1899-12-31"])
async def test_an_impossible_date_of_birth_is_refused_in_a_referral(http: httpx.AsyncClient, driver: CaseDriver,
                                                                    dob: str) -> None:
    body = referral(size=2)
    body["members"][1]["date_of_birth"] = dob
    _refused(await _post(http, "/api/v1/cases", body, await driver.login("ayse")), "body.members.1.date_of_birth")
    await _no_case_for(http, driver, body)


async def test_an_impossible_date_of_birth_is_refused_from_an_integration(http: httpx.AsyncClient,
                                                                          driver: CaseDriver) -> None:
    feed = await _key(http, driver, ["referral"])
    body = referral(size=1)
    body["members"][0]["date_of_birth"] = "2099-01-01"
    r = await _post(http, "/api/v1/integrations/messages", {"event_type": "referral", "referral": body},
                    {"X-API-Key": feed, "Idempotency-Key": "dob-1"})
    assert r.status_code == 422, r.text
    assert any(d["field"].endswith("members.0.date_of_birth") for d in r.json()["error"]["details"])
    await _no_case_for(http, driver, body)


async def test_a_correction_to_an_impossible_date_of_birth_is_refused(http: httpx.AsyncClient,
                                                                      driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=2))
    child = case["members"][1]["member_id"]
    before = await _version(http, driver, case["case_id"])
    path = f"/api/v1/cases/{case['case_id']}/members/{child}/corrections"
    ayse = await driver.login("ayse")
    for dob in ("2099-01-01", "1899-12-31"):
        r = await _post(http, path, {"changes": {"date_of_birth": dob}, "reason": "Birth certificate."}, ayse)
        assert r.status_code == 422, r.text
        assert "changes.date_of_birth" in [d["field"] for d in r.json()["error"]["details"]]
    assert await _version(http, driver, case["case_id"]) == before


def test_the_member_model_refuses_a_future_date_of_birth_given_the_day() -> None:
    """What the workflow's correction check uses, with the decision's date in the context."""
    future = member("Omar Haddad", (TODAY + timedelta(days=1)).isoformat(), "child")
    with pytest.raises(ValueError, match="future"):
        MemberIn.model_validate(future, context={"today": TODAY})
    assert MemberIn.model_validate(future, context={"today": TODAY + timedelta(days=1)})
    with pytest.raises(ValueError, match="1900"):
        MemberIn.model_validate(member("Omar Haddad", "1899-12-31", "child"))


@pytest.mark.parametrize("form, field", [
    ({"outcome": "cleared", "clearance_valid_until": "9999-12-31"}, "clearance_valid_until"),
    ({"outcome": "cleared", "assessment_date": "1899-01-01"}, "assessment_date"),
])
def test_impossible_form_dates_are_refused(form: dict[str, Any], field: str) -> None:
    data = {"assessment_date": TODAY.isoformat(), "clearance_valid_until": (TODAY + timedelta(days=90)).isoformat(),
            **form}
    with pytest.raises(CommandRejected) as refused:
        validate_form(TaskType.ASSESS_HEALTH, data, today=TODAY)
    assert field in [d["field"] for d in refused.value.details]


@pytest.mark.parametrize("departure", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+00:00",
                                       "2126-01-01T09:00:00+00:00"])
def test_an_impossible_departure_is_refused(departure: str) -> None:
    form = {"flight_number": "TK1751", "departure_at": departure, "departure_airport": "IST",
            "arrival_airport": "OSL"}
    with pytest.raises(CommandRejected) as refused:
        validate_form(TaskType.BOOK_MOVEMENT, form, today=TODAY)
    assert [d["field"] for d in refused.value.details] == ["departure_at"]


async def test_a_validity_in_the_year_9999_is_refused_by_the_api(http: httpx.AsyncClient,
                                                                 driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.HEALTH)
    task = case["open_tasks"][0]
    selin = await driver.login("selin")
    assert (await http.post(f"/api/v1/tasks/{task['task_id']}/claim", headers=selin)).status_code == 200
    before = await _version(http, driver, case["case_id"])
    form = {"assessment_date": TODAY.isoformat(), "outcome": "cleared", "clearance_valid_until": "9999-12-31"}
    r = await _post(http, f"/api/v1/tasks/{task['task_id']}/complete", {"form": form}, selin)
    assert r.status_code == 422, r.text
    assert any(d["field"].endswith("clearance_valid_until") for d in r.json()["error"]["details"])
    assert await _version(http, driver, case["case_id"]) == before


def test_dates_are_described_in_the_form_schemas() -> None:
    health = AssessHealthForm.model_json_schema()["properties"]
    assert "2000-01-01" in health["assessment_date"]["description"]
    booking = BookMovementForm.model_json_schema()["properties"]["departure_at"]
    assert "year" in booking["description"]
    consent = RecordConsentForm.model_json_schema()["properties"]["given_by"]
    assert consent["pattern"] == LINE_PATTERN and "direction" in consent["description"]


# --- a person's name as typed: no invisible characters (domain.person_names) -------------------

INVISIBLE_NAMES = {
    "zero width space": ("Amina\u200bHaddad", "U+200B ZERO WIDTH SPACE"),
    "byte order mark": ("\ufeffAmina Haddad", "U+FEFF"),
    "word joiner": ("Amina\u2060Haddad", "U+2060 WORD JOINER"),
    "left-to-right mark": ("Amina\u200eHaddad", "U+200E LEFT-TO-RIGHT MARK"),
    "soft hyphen": ("Ami\u00adna Haddad", "U+00AD SOFT HYPHEN"),
    "tag character": ("Amina Haddad\U000e0041", "U+E0041 TAG LATIN CAPITAL LETTER A"),
    "hangul filler": ("Amina\u3164Haddad", "U+3164 HANGUL FILLER"),
    "combining mark first": ("\u0301Amina Haddad", "U+0301 COMBINING ACUTE ACCENT"),
    "combining mark at a word's start": ("Amina \u0308Haddad", "U+0308 COMBINING DIAERESIS"),
}
INTERNATIONAL_NAMES = [
    "أمينة حداد",  # Arabic
    "زهرا محمدی\u200cنژاد",  # Persian, with the zero width non-joiner it is spelt with
    "ئارام عەزیز",  # Kurdish (Sorani)
    "ሰላም ተስፋይ",  # Tigrinya (Ge'ez script)
    "Nguye\u0302\u0303n Thi\u0323 Minh",  # Vietnamese, decomposed: combining marks after their letters
    "Nguyễn Văn An",  # Vietnamese, composed
    "क्\u200dष्णा शर्मा",  # Hindi, with a zero width joiner
    "山田\u3000太郎",  # Japanese, with the ideographic space
    "Zoë O'Brien-Łukasiewicz",
]


@pytest.mark.parametrize("name,named", list(INVISIBLE_NAMES.values()), ids=list(INVISIBLE_NAMES))
async def test_a_referral_with_an_invisible_character_in_a_name_opens_nothing(
        http: httpx.AsyncClient, driver: CaseDriver, name: str, named: str) -> None:
    body = referral(size=2)
    body["members"][1]["full_name"] = name
    error = _refused(await _post(http, "/api/v1/cases", body, await driver.login("ayse")), "body.members.1.full_name")
    detail = next(d for d in error["details"] if d["field"] == "body.members.1.full_name")
    assert named in detail["reason"] and "200C" in detail["allowed"], detail
    await _no_case_for(http, driver, body)


async def test_names_as_international_families_write_them_are_accepted(http: httpx.AsyncClient,
                                                                      driver: CaseDriver) -> None:
    body = referral(size=len(INTERNATIONAL_NAMES))
    for person, name in zip(body["members"], INTERNATIONAL_NAMES):
        person["full_name"] = name
    case = await driver.refer(body)
    assert [m["full_name"] for m in case["members"]] == INTERNATIONAL_NAMES


async def test_an_invisible_character_in_an_integrations_referral_is_refused(http: httpx.AsyncClient,
                                                                              driver: CaseDriver) -> None:
    feed = await _key(http, driver, ["referral"])
    body = referral(size=1)
    body["members"][0]["full_name"] = "Amina\u200bHaddad"
    r = await _post(http, "/api/v1/integrations/messages", {"event_type": "referral", "referral": body},
                    {"X-API-Key": feed, "Idempotency-Key": f"zwsp-{body['external_referral_id']}"})
    assert r.status_code == 422, r.text
    assert any(d["field"].endswith("members.0.full_name") and "U+200B" in d["reason"]
               for d in r.json()["error"]["details"])
    await _no_case_for(http, driver, body)


async def test_a_name_correction_with_an_invisible_character_is_refused(http: httpx.AsyncClient,
                                                                        driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=2))
    case_id, child = case["case_id"], case["members"][1]["member_id"]
    before = await _version(http, driver, case_id)
    ayse = await driver.login("ayse")
    correction = f"/api/v1/cases/{case_id}/members/{child}/corrections"
    r = await _post(http, correction, {"changes": {"full_name": "Omar\u2060Haddad"}, "reason": "typo"}, ayse)
    error = _refused(r, "body.changes.full_name")
    assert "U+2060 WORD JOINER" in error["details"][0]["reason"]
    assert await _version(http, driver, case_id) == before
    fine = await _post(http, correction, {"changes": {"full_name": "زهرا محمدی\u200cنژاد"}, "reason": "As spelt."},
                       ayse)
    assert fine.status_code == 200, fine.text
    assert fine.json()["members"][1]["full_name"] == "زهرا محمدی\u200cنژاد"


def test_the_name_rule_knows_every_format_character_python_does() -> None:
    import unicodedata

    from domain.person_names import KEPT_JOINERS, _INVISIBLE

    format_characters = {c for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf"}
    assert not (format_characters - KEPT_JOINERS) - _INVISIBLE
    assert not KEPT_JOINERS & _INVISIBLE


def test_the_name_pattern_means_the_rule_for_the_basic_plane() -> None:
    from domain.person_names import PERSON_NAME_PATTERN

    pattern = re.compile(PERSON_NAME_PATTERN)
    assert all(pattern.fullmatch(name) for name in INTERNATIONAL_NAMES + ["𠮷野 家"])
    for bad in ["Amina\u200bHaddad", "\ufeffAmina", "A\u2060B", "A\u200eB", "A\u00adB", *BAD_NAMES.values()]:
        assert not pattern.fullmatch(bad), repr(bad)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run JavaScript's RegExp")
def test_the_name_pattern_means_the_rule_in_javascript(tmp_path: Path) -> None:
    from domain.person_names import PERSON_NAME_PATTERN

    script = tmp_path / "names.js"
    script.write_text("""
const [pattern, good, bad] = JSON.parse(process.argv[2]);
const out = {};
for (const flags of ["", "u", "v"]) {
  const p = new RegExp("^(?:" + pattern + ")$", flags);
  out[flags] = [good.map(s => p.test(s)), bad.map(s => p.test(s))];
}
console.log(JSON.stringify(out));
""")
    bad = ["Amina\u200bHaddad", "\ufeffAmina", "A\u2060B", "A\u200eB", *BAD_NAMES.values()]
    argument = json.dumps([PERSON_NAME_PATTERN, INTERNATIONAL_NAMES + ["𠮷野 家"], bad])
    result = json.loads(subprocess.run(["node", str(script), argument], capture_output=True, text=True,
                                       check=True).stdout)
    for flags, (goods, bads) in result.items():
        assert all(goods) and not any(bads), (flags, goods, bads)


async def test_the_served_schemas_show_the_name_rule(http: httpx.AsyncClient) -> None:
    from domain.person_names import PERSON_NAME_PATTERN

    spec = (await http.get("/openapi.json")).json()["components"]["schemas"]
    for schema in (spec["MemberIn"], spec["Sponsor"]):
        name = schema["properties"]["full_name"]
        assert name["pattern"] == PERSON_NAME_PATTERN and "U+200B" in name["description"]
        assert "U+200C" in name["description"]  # what stays allowed is said too
    correction = spec["CorrectionBody"]["properties"]["changes"]["properties"]["full_name"]
    assert correction["pattern"] == PERSON_NAME_PATTERN
    assert spec["ConsentWithdrawalBody"]["properties"]["withdrawn_by"]["pattern"] == PERSON_NAME_PATTERN
    assert spec["SessionDetailsIn"]["properties"]["facilitator"]["pattern"] == PERSON_NAME_PATTERN


async def test_a_form_value_that_is_not_utf8_is_refused_not_altered(http: httpx.AsyncClient) -> None:
    """A urlencoded value whose bytes are not UTF-8 once percent-decoded (``%FF``, a surrogate
    as ``%ED%A0%80``) is refused naming the field; it was stored with U+FFFD in its place."""
    for raw in ("ay%FFse", "ay%ED%A0%80se"):
        r = await http.post("/api/v1/auth/token", content=f"username={raw}&password=x".encode(),
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
        error = _refused(r, "body.username")
        assert "not UTF-8" in error["details"][0]["reason"], error
    fine = await http.post("/api/v1/auth/token", content="username=%C3%A7a%C4%9Fla&password=x".encode(),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert fine.status_code == 401, fine.text  # UTF-8 (çağla) passes the guard to the login itself


async def test_an_integer_too_long_to_read_is_refused_in_plain_words(http: httpx.AsyncClient,
                                                                     driver: CaseDriver) -> None:
    """A 5,000-digit number was refused with Python's own advice (sys.set_int_max_str_digits)."""
    body = b'{"text": "x", "n": ' + b"9" * 5000 + b"}"
    r = await http.post("/api/v1/cases/C-AAAA-BBBB-CCCC/notes", content=body,
                        headers=await driver.login("ayse") | {"Content-Type": "application/json"})
    error = _refused(r, "body")
    reason = error["details"][0]["reason"]
    assert "more than 4,300 digits" in reason and "sys." not in reason and "set_int" not in reason, reason
