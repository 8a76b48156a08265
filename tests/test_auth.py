"""Authentication: forged, expired and alg-none tokens get 401; OIDC tokens verify against a
real JWKS served over HTTP; logins are throttled; bodies are size-limited."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from api.auth import TokenService
from api.errors import ApiError
from tests.support.driver import CaseDriver
from tests.support.stack import TEST_SIGNING_KEY, stack_settings
from tests.support.users import TEST_PASSWORD

NOW = int(time.time())
CLAIMS = {"iss": "itinera", "aud": "itinera-api", "sub": "fatma", "role": "supervisor", "offices": ["IST"],
          "iat": NOW, "nbf": NOW, "exp": NOW + 600}
KEY = TEST_SIGNING_KEY  # the test stack's key


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


FORGERIES = {
    "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(CLAIMS)}.",
    "other_key": jwt.encode(CLAIMS, "another-key-" + "y" * 32, algorithm="HS256"),
    "expired": jwt.encode(CLAIMS | {"exp": NOW - 120, "iat": NOW - 900, "nbf": NOW - 900}, KEY, algorithm="HS256"),
    "not_yet_valid": jwt.encode(CLAIMS | {"nbf": NOW + 3600}, KEY, algorithm="HS256"),
    "wrong_audience": jwt.encode(CLAIMS | {"aud": "someone-else"}, KEY, algorithm="HS256"),
    "no_expiry": jwt.encode({k: v for k, v in CLAIMS.items() if k != "exp"}, KEY, algorithm="HS256"),
    "unknown_role": jwt.encode(CLAIMS | {"role": "root"}, KEY, algorithm="HS256"),
    "tampered": jwt.encode(CLAIMS, KEY, algorithm="HS256")[:-4] + "AAAA",
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
async def test_forged_or_invalid_tokens_get_401(http: httpx.AsyncClient, name: str) -> None:
    r = await http.get("/api/v1/cases", headers={"Authorization": f"Bearer {FORGERIES[name]}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


async def test_a_valid_token_of_the_same_shape_is_accepted(http: httpx.AsyncClient) -> None:
    token = jwt.encode(CLAIMS, KEY, algorithm="HS256")
    assert (await http.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})).status_code == 200


async def test_oidc_tokens_are_verified_against_the_issuers_jwks(oidc_issuer) -> None:
    url, key = oidc_issuer
    settings = stack_settings(oidc_issuer="https://login.example.org", oidc_audience="itinera",
                              oidc_jwks_url=f"{url}/jwks.json")
    tokens = TokenService(settings)
    claims = {"iss": "https://login.example.org", "aud": "itinera", "sub": "u-123", "preferred_username": "selin",
              "itinera_role": "medical_officer", "itinera_offices": ["IST", "IZM"], "iat": NOW, "exp": NOW + 600}
    good = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    principal = await asyncio.to_thread(tokens.verify, good)
    assert (principal.username, principal.role.value, principal.offices) == ("selin", "medical_officer", ["IST", "IZM"])

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for bad in (
        jwt.encode(claims, other, algorithm="RS256", headers={"kid": "k1"}),  # not the issuer's key
        jwt.encode(claims | {"exp": NOW - 60, "iat": NOW - 600}, key, algorithm="RS256", headers={"kid": "k1"}),
        jwt.encode(claims | {"aud": "other-app"}, key, algorithm="RS256", headers={"kid": "k1"}),
        jwt.encode(claims, "shared-secret-" + "z" * 32, algorithm="HS256", headers={"kid": "k1"}),  # alg confusion
    ):
        with pytest.raises(ApiError) as refused:
            await asyncio.to_thread(tokens.verify, bad)
        assert refused.value.status == 401


async def test_repeated_failed_logins_are_throttled(http: httpx.AsyncClient) -> None:
    username = f"guess-{uuid.uuid4().hex[:6]}"
    statuses = [(await http.post("/api/v1/auth/token", data={"username": username, "password": f"pw{i}"})).status_code
                for i in range(7)]
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]
    r = await http.post("/api/v1/auth/token", data={"username": username, "password": "pw"})
    assert int(r.headers["retry-after"]) > 0 and r.json()["error"]["code"] == "too_many_attempts"


async def test_oversized_bodies_are_refused_before_parsing(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    huge = {"form": {"notes": "x" * (2 * 1024 * 1024)}}
    r = await http.post("/api/v1/tasks/anything/complete", json=huge, headers=await driver.login("ayse"))
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"x" * 65536

    chunked = await http.post("/api/v1/cases", content=chunks(), headers=await driver.login("ayse") | {
        "content-type": "application/json"})
    assert chunked.status_code == 413


async def test_secrets_never_reach_the_logs(http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    password = TEST_PASSWORD
    login = await http.post("/api/v1/auth/token", data={"username": "ayse", "password": password})
    token = login.json()["access_token"]
    await http.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})
    await http.post("/api/v1/auth/token", data={"username": "ayse", "password": "a-wrong-secret-123"})
    logged = caplog.text
    assert caplog.records, "the check needs the app's logs captured"
    for secret in (password, token, "a-wrong-secret-123", KEY):
        assert secret not in logged


def test_verified_tokens_are_remembered_only_until_they_expire() -> None:
    tokens = TokenService(stack_settings())
    good = jwt.encode(CLAIMS | {"exp": int(time.time()) + 600}, KEY, algorithm="HS256")
    assert tokens.verify(good).username == "fatma"
    assert good in tokens._verified
    for forged in FORGERIES.values():
        with pytest.raises(ApiError):
            tokens.verify(forged)
    assert set(tokens._verified) == {good}  # refusals are never cached
    stale = tokens._verified[good][0].model_copy(update={"username": "stale"})
    tokens._verified[good] = (stale, time.time() + 60)
    assert tokens.verify(good).username == "stale"  # served from memory while unexpired
    tokens._verified[good] = (stale, time.time() - 1)  # as if its expiry had passed
    assert tokens.verify(good).username == "fatma"  # verified afresh, not served from memory


async def test_a_deactivated_or_moved_account_gives_its_claimed_tasks_back(stack, http: httpx.AsyncClient,
                                                                           driver: CaseDriver) -> None:
    """explore11: a task claimed by someone deactivated (or whose role changed) stayed claimed,
    out of every colleague's unassigned inbox, until it escalated."""
    from domain.model import Role
    from store.users import add_user, deactivate, set_role
    from tests.support.factories import referral

    async with stack.pool.acquire() as conn:
        for name in ("leaver1", "mover1"):
            await add_user(conn, name, TEST_PASSWORD, Role.CASEWORKER, ["IST"], name.capitalize())
    claimed = {}
    for name in ("leaver1", "mover1"):
        case = await driver.refer(referral(size=1))
        task = case["open_tasks"][0]
        r = await http.post(f"/api/v1/tasks/{task['task_id']}/claim", headers=await driver.login(name))
        assert r.status_code == 200, r.text
        claimed[name] = task["task_id"]
    async with stack.pool.acquire() as conn:
        await deactivate(conn, "leaver1")
        await set_role(conn, "mover1", Role.MEDICAL_OFFICER)
        held = await conn.fetch("SELECT task_id FROM task_claims WHERE task_id = ANY($1::text[])",
                                list(claimed.values()))
    assert held == []
    fatma = await driver.login("fatma")
    for task_id in claimed.values():
        assert (await http.get(f"/api/v1/tasks/{task_id}", headers=fatma)).json()["claimed_by"] is None
