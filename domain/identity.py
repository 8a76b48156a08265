"""Case ids: derived from the referral's external id, so the same referral is the same case.

The id is also the Temporal workflow id, so it carries nothing personal: it is a keyed
digest (HMAC-SHA256 with a secret of the deployment, ``ITINERA_CASE_ID_KEY``) of the
sending system's referral id, readable enough to say on the phone.  Keyed, because an
unkeyed digest of a UNHCR referral id can be recomputed by anyone who holds the id: a
workflow id seen in Temporal's UI or logs would then reveal which referral it is.

Cases opened before the key existed keep their unkeyed ids (``key=None``): the API finds a
referral's case in the read model first and only derives an id for a referral it has
never seen.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def case_id_for(external_referral_id: str, key: bytes | None = None) -> str:
    data = external_referral_id.encode()
    digest = hmac.new(key, data, hashlib.sha256).digest() if key is not None else hashlib.sha256(data).digest()
    code = base64.b32encode(digest).decode()[:12]
    return f"C-{code[:4]}-{code[4:8]}-{code[8:]}"
