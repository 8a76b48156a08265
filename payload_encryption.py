"""Encryption of every Temporal payload: nothing personal lies in plaintext in Temporal.

Workflow inputs, update arguments, results and activity payloads carry names, dates of
birth and health details.  This codec encrypts each payload with AES-256-GCM (from the
``cryptography`` package) before it leaves the process and records the key id in the
payload's metadata, so keys can rotate: new payloads use the active key, old ones still
decrypt with the key they name.  Payloads written before encryption existed (no
encryption metadata) pass through unchanged, so old histories keep replaying.

Keys come from ``ITINERA_PAYLOAD_KEYS`` (JSON ``{"key-id": "<base64 32 bytes>", ...}``)
and ``ITINERA_PAYLOAD_ACTIVE_KEY``; the embedded default keeps them in
``<data dir>/payload-keys.json`` (mode 0600), created on first use.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from settings import Settings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
_NONCE = 12


class UnknownPayloadKey(RuntimeError):
    pass


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: dict[str, bytes], active_key_id: str):
        if active_key_id not in keys:
            raise ValueError(f"the active payload key {active_key_id!r} is not among the keys")
        self._ciphers = {kid: AESGCM(key) for kid, key in keys.items()}
        self._active = active_key_id

    @property
    def active_key_id(self) -> str:
        return self._active

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        cipher = self._ciphers[self._active]
        encoded = []
        for payload in payloads:
            nonce = os.urandom(_NONCE)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), self._active.encode())
            encoded.append(Payload(metadata={"encoding": ENCODING, KEY_ID: self._active.encode()}, data=nonce + sealed))
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
            plain = cipher.decrypt(payload.data[:_NONCE], payload.data[_NONCE:], kid.encode())
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
