"""Encryption of every Temporal payload: nothing personal lies in plaintext in Temporal.

Workflow inputs, update arguments, results and activity payloads carry names, dates of
birth and health details.  This codec encrypts each payload with AES-256-GCM (from the
``cryptography`` package) before it leaves the process and records the key id in the
payload's metadata, so keys can rotate: new payloads use the active key, old ones still
decrypt with the key they name.  Payloads written before encryption existed (no
encryption metadata) pass through unchanged, so old histories keep replaying.

Each payload is bound to the workflow it belongs to (the SDK's serialization context):
its id travels in the metadata (``itinera-workflow-id``, not secret: the Temporal UI shows
it beside the payload) and is part of the authenticated data, so it cannot be edited to
pass another office's payload off as one's own.  The remote codec endpoint
(``api/routes/codec.py``) decrypts a payload only for a supervisor of that workflow's office.

Keys come from ``ITINERA_PAYLOAD_KEYS`` (JSON ``{"key-id": "<base64 32 bytes>", ...}``)
and ``ITINERA_PAYLOAD_ACTIVE_KEY``; the embedded default keeps them in
``<data dir>/payload-keys.json`` (mode 0600), created on first use.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    ActivitySerializationContext,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)

from settings import Settings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
WORKFLOW_ID = "itinera-workflow-id"
_NONCE = 12


class UnknownPayloadKey(RuntimeError):
    pass


def _associated_data(key_id: str, workflow_id: str | None) -> bytes:
    """What the seal authenticates besides the payload: the key id and, when bound, the
    workflow id (a payload sealed before binding existed authenticates the key id only)."""
    return key_id.encode() if workflow_id is None else key_id.encode() + b"\x00" + workflow_id.encode()


def bound_workflow_id(payload: Payload) -> str | None:
    """The workflow an encrypted payload was sealed for, or None when it names none (sealed
    before binding existed, or outside any workflow).  Authentic only once it decrypts."""
    raw = payload.metadata.get(WORKFLOW_ID)
    return raw.decode(errors="replace") if raw else None


def is_encrypted(payload: Payload) -> bool:
    return payload.metadata.get("encoding") == ENCODING


class EncryptionCodec(PayloadCodec, WithSerializationContext):
    def __init__(self, keys: dict[str, bytes], active_key_id: str, workflow_id: str | None = None):
        if active_key_id not in keys:
            raise ValueError(f"the active payload key {active_key_id!r} is not among the keys")
        self._ciphers = {kid: AESGCM(key) for kid, key in keys.items()}
        self._active = active_key_id
        self._workflow_id = workflow_id

    def with_context(self, context: SerializationContext) -> EncryptionCodec:
        """The same keys, sealing for the workflow the SDK says the payloads belong to."""
        workflow_id = None
        if isinstance(context, (WorkflowSerializationContext, ActivitySerializationContext)):
            workflow_id = context.workflow_id or None
        if workflow_id == self._workflow_id:
            return self
        bound = copy.copy(self)
        bound._workflow_id = workflow_id
        return bound

    @property
    def active_key_id(self) -> str:
        return self._active

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        cipher = self._ciphers[self._active]
        associated = _associated_data(self._active, self._workflow_id)
        metadata = {"encoding": ENCODING, KEY_ID: self._active.encode()}
        if self._workflow_id is not None:
            metadata[WORKFLOW_ID] = self._workflow_id.encode()
        encoded = []
        for payload in payloads:
            nonce = os.urandom(_NONCE)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), associated)
            encoded.append(Payload(metadata=metadata, data=nonce + sealed))
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                decoded.append(payload)  # written before encryption, or not ours
                continue
            kid = payload.metadata.get(KEY_ID, b"").decode()
            cipher = self._ciphers.get(kid)
            if cipher is None:
                raise UnknownPayloadKey(f"payload encrypted with unknown key {kid!r}")
            associated = _associated_data(kid, bound_workflow_id(payload))
            plain = cipher.decrypt(payload.data[:_NONCE], payload.data[_NONCE:], associated)
            decoded.append(Payload.FromString(plain))
        return decoded


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _key_file(settings: Settings) -> Path:
    return settings.data_dir / "payload-keys.json"


def load_keys(settings: Settings) -> tuple[dict[str, bytes], str]:
    """The keys and the active key id, from settings or the data folder (created if absent)."""
    if settings.payload_keys is not None:
        raw = json.loads(settings.payload_keys.get_secret_value())
        active = settings.payload_active_key or max(raw)
    else:
        path = _key_file(settings)
        if not path.exists():
            rotate_key_file(path)
        stored = json.loads(path.read_text())
        raw, active = stored["keys"], stored["active"]
    return {kid: base64.b64decode(value) for kid, value in raw.items()}, active


def rotate_key_file(path: Path) -> str:
    """Add a new key to the embedded key file and make it the active one; old keys stay."""
    stored = json.loads(path.read_text()) if path.exists() else {"keys": {}}
    kid = "k" + datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    stored["keys"][kid] = new_key()
    stored["active"] = kid
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(stored, indent=1))
    tmp.chmod(0o600)
    tmp.replace(path)
    return kid


def codec_from_settings(settings: Settings) -> EncryptionCodec:
    keys, active = load_keys(settings)
    return EncryptionCodec(keys, active)
