"""Referral payloads for tests: realistic, each with a fresh external referral id."""

from __future__ import annotations

import uuid
from typing import Any


def member(name: str, dob: str, relationship: str, sex: str = "female", nationality: str = "SY") -> dict[str, Any]:
    return {"full_name": name, "date_of_birth": dob, "sex": sex, "nationality": nationality,
            "relationship": relationship}


def referral(office: str = "IST", size: int = 2, **overrides: Any) -> dict[str, Any]:
    people = [member("Amina Haddad", "1987-05-12", "principal")]
    people += [member(f"Child {i} Haddad", f"{2008 + i}-03-0{1 + i % 9}", "child", sex="male") for i in range(1, size)]
    body = {
        "programme": "resettlement",
        "office": office,
        "priority": "normal",
        "destination_country": "NO",
        "external_referral_id": f"UNHCR-TEST-{uuid.uuid4().hex[:12].upper()}",
        "members": people,
    }
    body.update(overrides)
    return body
