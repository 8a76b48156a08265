"""Case ids: derived from the referral's external id, so the same referral is the same case.

The id is also the Temporal workflow id, so it carries nothing personal: it is a digest of
the sending system's referral id, readable enough to say on the phone.
"""

from __future__ import annotations

import base64
import hashlib


def case_id_for(external_referral_id: str) -> str:
    digest = hashlib.sha256(external_referral_id.encode()).digest()
    code = base64.b32encode(digest).decode()[:12]
    return f"C-{code[:4]}-{code[4:8]}-{code[8:]}"
