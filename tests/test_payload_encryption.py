"""Nothing personal lies in plaintext in Temporal; supervisors can still read history."""

from __future__ import annotations

import base64
import json
import sqlite3

import httpx
import pytest
from temporalio.api.common.v1 import Payload

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


async def test_codec_endpoints_decrypt_for_supervisors_only(stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    [sealed] = await EncryptionCodec(_keys(), "test-2").encode(
        [Payload(metadata={"encoding": b"json/plain"}, data=b'{"full_name": "Amina"}')])
    body = {"payloads": [{"metadata": {k: base64.b64encode(v).decode() for k, v in sealed.metadata.items()},
                          "data": base64.b64encode(sealed.data).decode()}]}
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
