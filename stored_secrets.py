"""Secrets the system must keep usable, sealed at rest: webhook signing keys.

A signing key cannot be stored as a hash (the dispatcher signs with it), so a copy of the
database would otherwise let anyone forge Itinera's signatures to every partner.  Each secret
is sealed with AES-256-GCM under the deployment's payload keys (``payload_encryption``: the
same keys, the same rotation; a sealed value names its key id) and bound to its row (the
subscription id as associated data), so sealed values cannot be swapped between rows.

Stored form: ``sealed:v1:<key id>:<base64 nonce + ciphertext>``.  A value without the prefix
is a secret stored before sealing existed and is used as it is; rotating the subscription's
secret seals it.
"""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from payload_encryption import UnknownPayloadKey, load_keys
from settings import Settings

PREFIX = "sealed:v1:"
_NONCE = 12


class SecretSealer:
    def __init__(self, keys: dict[str, bytes], active_key_id: str):
        self._ciphers = {kid: AESGCM(key) for kid, key in keys.items()}
        self._active = active_key_id

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretSealer:
        return cls(*load_keys(settings))

    def seal(self, secret: str, bound_to: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._ciphers[self._active].encrypt(nonce, secret.encode(), bound_to.encode())
        return f"{PREFIX}{self._active}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, stored: str, bound_to: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # stored before sealing existed
        key_id, _, data = stored[len(PREFIX):].partition(":")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownPayloadKey(f"a sealed secret names key {key_id!r}, which this process does not hold")
        raw = base64.b64decode(data)
        return cipher.decrypt(raw[:_NONCE], raw[_NONCE:], bound_to.encode()).decode()
