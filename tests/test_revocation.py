"""A revoked person is out at once (issue 11, item 3): every request checks the account, so a
role change, a deactivation or a logout (API or UI) takes effect on the next request, in
every API process; OIDC tokens are revocable at logout and their lifetime is bounded."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import jwt
import pytest

from api.auth import TokenService, authorize
from api.errors import ApiError
from domain.model import Role
from store.users import add_user, revoke_token
from tests.support.cli import cli_env, itinera
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.pages import Page
from tests.support.stack import stack_settings

PASSWORD = "a-long-test-password"


async def _account(stack, role: Role = Role.CASEWORKER, offices: tuple[str, ...] = ("IST",)) -> str:
    username = f"rv-{uuid.uuid4().hex[:8]}"
    async with stack.pool.acquire() as conn:
        await add_user(conn, username, PASSWORD, role, list(offices))
    return username


async def _token(http: httpx.AsyncClient, username: str) -> dict[str, str]:
    r = await http.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _users(stack, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    done = await itinera("users", *args, env=cli_env(database_url=stack.settings.database_url), stdin=stdin)
    assert done.returncode == 0, done.stderr
    return done


async def test_a_role_change_takes_effect_on_the_next_request(stack, http: httpx.AsyncClient,
                                                              driver: CaseDriver) -> None:
    username = await _account(stack)
    headers = await _token(http, username)
    case = await driver.refer(referral(office="IST"))
    assert (await http.post("/api/v1/cases", json=referral(office="IST"), headers=headers)).status_code == 201

    changed = await _users(stack, "set-role", username, "--role", "movement_officer")
    assert "movement_officer in IST, active" in changed.stdout
    me = (await http.get("/api/v1/auth/me", headers=headers)).json()
    assert (me["role"], me["offices"]) == ("movement_officer", ["IST"])  # the account's, not the token's
    refused = await http.post("/api/v1/cases", json=referral(office="IST"), headers=headers)
    assert refused.status_code == 403  # a movement officer may not refer

    await _users(stack, "set-role", username, "--role", "movement_officer", "--office", "IZM")
    assert (await http.get(f"/api/v1/cases/{case['case_id']}", headers=headers)).status_code == 404
    await _users(stack, "set-role", username, "--role", "supervisor")
    assert (await http.get("/api/v1/audit", params={"limit": 1}, headers=headers)).status_code == 200


async def test_a_deactivated_account_is_out_at_once_and_stays_out(stack, http: httpx.AsyncClient) -> None:
    username = await _account(stack)
    headers = await _token(http, username)
    assert (await http.get("/api/v1/tasks", headers=headers)).status_code == 200
    async with _ui_session(stack, username) as browser:
        assert "deactivated" in (await _users(stack, "deactivate", username)).stdout
        refused = await http.get("/api/v1/tasks", headers=headers)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
        page = await browser.get("/ui/cases", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/ui/login")
    login = await http.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert login.status_code == 401

    # Reactivated (users add: a new password), the old token stays dead; a new one works.
    await _users(stack, "add", username, "--role", "caseworker", "--office", "IST", stdin="another-long-password\n")
    assert (await http.get("/api/v1/tasks", headers=headers)).status_code == 401
    fresh = await http.post("/api/v1/auth/token", data={"username": username, "password": "another-long-password"})
    assert (await http.get("/api/v1/tasks", headers={
        "Authorization": f"Bearer {fresh.json()['access_token']}"})).status_code == 200


async def test_api_logout_revokes_that_token_only(stack, http: httpx.AsyncClient) -> None:
    username = await _account(stack)
    first, second = await _token(http, username), await _token(http, username)
    assert (await http.post("/api/v1/auth/logout", headers=first)).status_code == 204
    assert (await http.get("/api/v1/tasks", headers=first)).status_code == 401
    assert (await http.post("/api/v1/auth/logout", headers=first)).status_code == 401
    assert (await http.get("/api/v1/tasks", headers=second)).status_code == 200
    assert (await http.post("/api/v1/auth/logout")).status_code == 401


@asynccontextmanager
async def _ui_session(stack, username: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser of its own, signed in to the UI as ``username``."""
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60, follow_redirects=True) as browser:
        login = Page((await browser.get("/ui/login")).text)
        signed_in = await browser.post("/ui/login", data={"username": username, "password": PASSWORD,
                                                          "csrf_token": login.csrf, "next": "/ui"})
        assert signed_in.url.path == "/ui", signed_in.text
        yield browser


async def test_ui_logout_revokes_the_session_token_not_only_the_cookie(stack, http: httpx.AsyncClient) -> None:
    username = await _account(stack)
    async with _ui_session(stack, username) as browser:
        token = browser.cookies.get("itinera_session", path="/ui")
        inbox = Page((await browser.get("/ui")).text)
        assert (await browser.post("/ui/logout", data={"csrf_token": inbox.csrf})).url.path == "/ui/login"

    # A copy of the cookie kept from before the logout opens nothing: not the UI, not the API.
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60, cookies={"itinera_session": token}) as copy:
        page = await copy.get("/ui/cases", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/ui/login")
        login_page = await copy.get("/ui/login", follow_redirects=False)
        assert login_page.status_code == 200  # the sign-in form, not a redirect into the UI
    assert (await http.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"})).status_code == 401


async def test_oidc_tokens_are_revoked_at_logout_and_their_lifetime_is_bounded(stack, oidc_issuer) -> None:
    url, key = oidc_issuer
    tokens = TokenService(stack_settings(oidc_issuer="https://login.example.org", oidc_audience="itinera",
                                         oidc_jwks_url=f"{url}/jwks.json", oidc_max_token_minutes=15))
    now = int(time.time())
    claims = {"iss": "https://login.example.org", "aud": "itinera", "sub": "u-7", "preferred_username": "okan",
              "itinera_role": "caseworker", "itinera_offices": ["IST"], "iat": now, "exp": now + 600,
              "jti": uuid.uuid4().hex}
    good = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    verified = await asyncio.to_thread(tokens.verify, good)
    async with stack.pool.acquire() as conn:
        principal = await authorize(conn, verified)
        assert (principal.username, principal.role, principal.offices) == ("okan", Role.CASEWORKER, ["IST"])
        await revoke_token(conn, verified.token_id, verified.username, datetime.fromtimestamp(now + 600, UTC))
        with pytest.raises(ApiError) as refused:
            await authorize(conn, verified)
        assert refused.value.status == 401

    too_long = jwt.encode(claims | {"exp": now + 3600}, key, algorithm="RS256", headers={"kid": "k1"})
    with pytest.raises(ApiError):
        await asyncio.to_thread(tokens.verify, too_long)
