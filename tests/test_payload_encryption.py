"""Nothing personal lies in plaintext in Temporal; supervisors can still read history."""

from __future__ import annotations

import base64
import json
import sqlite3

import httpx
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import WorkflowSerializationContext

from domain.model import Stage
from payload_encryption import EncryptionCodec
from tests.support.driver import CaseDriver
from tests.support.factories import member, referral
from tests.support.stack import TEST_PAYLOAD_KEYS


def _keys() -> dict[str, bytes]:
    return {kid: base64.b64decode(v) for kid, v in json.loads(TEST_PAYLOAD_KEYS).items()}


async def test_no_member_name_or_birth_date_in_temporals_database(stack, driver: CaseDriver) -> None:
    name, dob = "Zainab Qudsiyya Marwani", "1991-09-17"
    case = await driver.refer(referral(members=[member(name, dob, "principal")]))
    await driver.advance(case, until=Stage.HEALTH)
    # Read the dev server's SQLite file directly (WAL included), as someone with the disk would.
    database = stack.data_dir / "temporal" / "temporal.db"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        rows = [row for table in ("history_node", "executions") for row in db.execute(f"SELECT * FROM {table}")]
    raw = b"".join(bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode()
                   for row in rows for v in row if v is not None)
    assert rows and len(raw) > 1_000, "the history tables must hold the case"
    for secret in (name, "Marwani", dob):
        assert secret.encode() not in raw
    # Raw history fetched without the codec: every payload is encrypted.
    history = await stack.temporal.get_workflow_handle(case["case_id"]).fetch_history()
    update = next(e for e in history.events if e.HasField("workflow_execution_update_accepted_event_attributes"))
    payload = update.workflow_execution_update_accepted_event_attributes.accepted_request.input.args.payloads[0]
    assert payload.metadata["encoding"] == b"binary/encrypted" and name.encode() not in payload.data


async def test_rotated_keys_still_decrypt_old_payloads() -> None:
    keys = _keys()
    old = EncryptionCodec(keys, "old")
    new = EncryptionCodec(keys, "test-2")
    [sealed] = await old.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'"Amina"')])
    assert sealed.metadata["encryption-key-id"] == b"old"
    [opened] = await new.decode([sealed])
    assert opened.data == b'"Amina"'
    [fresh] = await new.encode([opened])
    assert fresh.metadata["encryption-key-id"] == b"test-2"
    plaintext = Payload(metadata={"encoding": b"json/plain"}, data=b'"before encryption"')
    assert (await new.decode([plaintext]))[0] == plaintext  # old histories keep replaying
    without_old = EncryptionCodec({"test-2": keys["test-2"]}, "test-2")
    with pytest.raises(Exception, match="unknown key"):
        await without_old.decode([sealed])


def _codec_json(payloads: list[Payload]) -> dict:
    return {"payloads": [{"metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                          "data": base64.b64encode(p.data).decode()} for p in payloads]}


async def test_a_payload_is_sealed_for_its_workflow_and_cannot_be_moved_to_another() -> None:
    codec = EncryptionCodec(_keys(), "test-2").with_context(WorkflowSerializationContext("default", "case-a"))
    [sealed] = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'"Amina"')])
    assert sealed.metadata["itinera-workflow-id"] == b"case-a"
    [opened] = await EncryptionCodec(_keys(), "test-2").decode([sealed])  # no context needed to open it
    assert opened.data == b'"Amina"'
    moved = Payload()
    moved.CopyFrom(sealed)
    moved.metadata["itinera-workflow-id"] = b"case-b"  # passed off as another workflow's
    with pytest.raises(Exception):
        await codec.decode([moved])
    del moved.metadata["itinera-workflow-id"]  # or as one sealed before binding
    with pytest.raises(Exception):
        await codec.decode([moved])


async def test_the_codec_decrypts_only_the_callers_offices_payloads(stack, http: httpx.AsyncClient,
                                                                   driver: CaseDriver) -> None:
    """fatma supervises IST, ali IZM: a payload of an IZM case, taken from the Temporal UI
    (which needs no login in `make dev`), is decrypted for ali and withheld from fatma."""
    name = "Yasmin Qadri Izmirli"
    case = await driver.refer(referral(office="IZM", members=[member(name, "1990-02-03", "principal")]),
                              username="mehmet")
    history = await stack.temporal.get_workflow_handle(case["case_id"]).fetch_history()
    update = next(e for e in history.events if e.HasField("workflow_execution_update_accepted_event_attributes"))
    [sealed] = update.workflow_execution_update_accepted_event_attributes.accepted_request.input.args.payloads
    assert sealed.metadata["itinera-workflow-id"] == case["case_id"].encode()
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"not secret"')
    [unbound] = await EncryptionCodec(_keys(), "test-2").encode([Payload(metadata={"encoding": b"json/plain"},
                                                                         data=b'"sealed before binding"')])
    body = _codec_json([sealed, plain, unbound])

    def datas(r: httpx.Response) -> list[bytes]:
        assert r.status_code == 200, r.text
        return [base64.b64decode(p["data"]) for p in r.json()["payloads"]]

    for_ali = datas(await http.post("/codec/decode", json=body, headers=await driver.login("ali")))
    assert name.encode() in for_ali[0] and for_ali[1] == b'"not secret"'
    assert b"withheld" in for_ali[2]  # ali does not supervise every office (IST has cases too)
    for_fatma = datas(await http.post("/codec/decode", json=body, headers=await driver.login("fatma")))
    assert name.encode() not in for_fatma[0]
    assert json.loads(for_fatma[0]) == {"itinera": f"withheld: this payload belongs to {case['case_id']}, "
                                                   "which is not in your offices"}
    assert for_fatma[1] == b'"not secret"' and b"withheld" in for_fatma[2]
    # Editing the metadata to name one of fatma's own cases does not open it.
    own = await driver.refer(referral(office="IST"))
    forged = Payload()
    forged.CopyFrom(sealed)
    forged.metadata["itinera-workflow-id"] = own["case_id"].encode()
    r = await http.post("/codec/decode", json=_codec_json([forged]), headers=await driver.login("fatma"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "undecryptable"


async def test_codec_endpoints_decrypt_for_supervisors_only(stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    ist_case = await driver.refer(referral(office="IST"))
    sealer = EncryptionCodec(_keys(), "test-2").with_context(WorkflowSerializationContext("default", ist_case["case_id"]))
    [sealed] = await sealer.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'{"full_name": "Amina"}')])
    body = _codec_json([sealed])
    origin = {"Origin": f"http://127.0.0.1:{stack.settings.temporal_ui_port}"}
    r = await http.post("/codec/decode", json=body, headers=await driver.login("fatma") | origin)
    assert r.status_code == 200
    assert base64.b64decode(r.json()["payloads"][0]["data"]) == b'{"full_name": "Amina"}'
    assert r.headers["access-control-allow-origin"] == origin["Origin"]
    for user in ("ayse", "selin", "emre"):
        denied = await http.post("/codec/decode", json=body, headers=await driver.login(user))
        assert denied.status_code == 403
    assert (await http.post("/codec/decode", json=body)).status_code == 401
    evil = await http.options("/codec/decode", headers={"Origin": "https://evil.example",
                                                        "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in evil.headers
    encoded = await http.post("/codec/encode", json={"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="},
                                                                   "data": "IkFtaW5hIg=="}]},
                              headers=await driver.login("fatma"))
    assert encoded.status_code == 200
    assert base64.b64decode(encoded.json()["payloads"][0]["metadata"]["encoding"]) == b"binary/encrypted"
