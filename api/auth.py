"""Authentication: who is calling, from a bearer JWT, and whether they still may.

Two kinds of token are accepted, told apart by their issuer and never by their header's
``alg`` (which an attacker controls):
- tokens this service issued itself at ``POST /api/v1/auth/token`` (embedded default,
  HS256 with a key kept in the data folder or given by ``ITINERA_JWT_SIGNING_KEY``);
- tokens of an OIDC issuer (``ITINERA_OIDC_ISSUER``), verified against its JWKS with
  PyJWT's ``PyJWKClient``, which caches keys and refetches on an unknown key id.
Expiry and not-before are enforced with a bounded clock skew.

A signature says who a token was issued to, not what they may do today.  So every request
is also checked against the database (``authorize``), on the request's own connection and
with no cache: for our own tokens the account must exist, be active and be of the token's
generation (deactivation and password resets bump it), and its role and offices are taken
from the account, not the token; for either kind, a token revoked at logout is refused.
An OIDC token's role and offices come from its claims (there is no local account to ask):
revoking such a user is done at the issuer, and ``ITINERA_OIDC_MAX_TOKEN_MINUTES`` refuses
tokens that would outlive that for long.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import asyncpg
import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from api.deps import Db
from api.errors import ApiError
from api.secret_files import data_folder_secret
from domain.model import Actor, ActorKind, Role
from settings import Settings
from store import users as accounts
from store.users import User, authenticate

CLOCK_SKEW = timedelta(seconds=30)
_VERIFIED_CACHE_SIZE = 10_000
_bearer = HTTPBearer(auto_error=False, description="JWT from POST /api/v1/auth/token (or your OIDC issuer)")


class Principal(BaseModel):
    """The authenticated caller."""

    username: str
    role: Role
    offices: list[str]
    kind: ActorKind = ActorKind.USER

    @property
    def actor(self) -> Actor:
        return Actor(kind=self.kind, id=self.username, role=self.role.value, offices=tuple(self.offices))


class VerifiedToken(Principal):
    """What a token's signature vouches for.  Only ``authorize`` turns it into a
    ``Principal`` the routes may trust: the account may have changed since it was issued."""

    token_id: str  # the jti, or a digest of the token when it has none: what logout revokes
    local: bool  # issued by this service (checked against its account), or by the OIDC issuer
    generation: int = 0
    expires_at: float


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    username: str
    role: Role
    offices: list[str]


def signing_key(settings: Settings) -> str:
    """The HS256 key: from settings, else generated once and kept in the data folder."""
    if settings.jwt_signing_key is not None:
        return settings.jwt_signing_key.get_secret_value()
    return data_folder_secret(settings.data_dir / "jwt-signing.key")


def _token_id(claims: dict[str, Any], token: str) -> str:
    """What a logout revokes: the token's jti, qualified by its issuer (two issuers' ids may
    collide), or a digest of the whole token when it carries no jti."""
    jti = claims.get("jti")
    if isinstance(jti, str) and jti:
        return f"jti:{claims['iss']}:{jti}"
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


class TokenService:
    def __init__(self, settings: Settings):
        self._settings = settings
        self._key = signing_key(settings)
        self._verified: dict[str, tuple[VerifiedToken, float]] = {}
        self._jwks = jwt.PyJWKClient(settings.oidc_jwks_url, cache_keys=True, lifespan=3600) if settings.oidc_jwks_url else None

    def issue(self, username: str, role: Role, offices: list[str], generation: int = 0) -> TokenResponse:
        now = datetime.now(UTC)
        ttl = timedelta(minutes=self._settings.access_token_minutes)
        claims = {
            "iss": self._settings.jwt_issuer,
            "aud": self._settings.jwt_audience,
            "sub": username,
            "role": role.value,
            "offices": offices,
            "gen": generation,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(claims, self._key, algorithm="HS256")
        return TokenResponse(access_token=token, expires_in=int(ttl.total_seconds()), username=username,
                             role=role, offices=offices)

    def verify(self, token: str) -> VerifiedToken:
        """The token's claims, if its signature and times are valid.  A token verified once
        is remembered until it expires (every request carries one, and decoding was a tenth
        of the API's CPU); a forged or expired token is never remembered, so it is checked,
        and refused, every time.  Whether it still counts is ``authorize``'s question."""
        cached = self._verified.get(token)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        verified = self._verify(token)
        if len(self._verified) >= _VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = (verified, verified.expires_at)
        return verified

    def _verify(self, token: str) -> VerifiedToken:
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
            if issuer == self._settings.jwt_issuer:
                claims = jwt.decode(
                    token, self._key, algorithms=["HS256"], audience=self._settings.jwt_audience,
                    issuer=self._settings.jwt_issuer, leeway=CLOCK_SKEW,
                    options={"require": ["exp", "iat", "nbf", "sub", "iss", "aud"]},
                )
                return VerifiedToken(username=claims["sub"], role=Role(claims["role"]), offices=list(claims["offices"]),
                                     token_id=_token_id(claims, token), local=True,
                                     generation=int(claims.get("gen", 0)), expires_at=float(claims["exp"]))
            if self._jwks is not None and issuer == self._settings.oidc_issuer:
                key = self._jwks.get_signing_key_from_jwt(token)
                claims = jwt.decode(
                    token, key.key, algorithms=["RS256", "ES256", "PS256"],
                    audience=self._settings.oidc_audience or self._settings.jwt_audience,
                    issuer=self._settings.oidc_issuer, leeway=CLOCK_SKEW,
                    options={"require": ["exp", "iat", "sub", "iss", "aud"]},
                )
                if float(claims["exp"]) - float(claims["iat"]) > self._settings.oidc_max_token_minutes * 60:
                    raise ValueError("the issuer's token lives longer than ITINERA_OIDC_MAX_TOKEN_MINUTES")
                return VerifiedToken(
                    username=claims.get("preferred_username") or claims["sub"],
                    role=Role(claims[self._settings.oidc_role_claim]),
                    offices=list(claims.get(self._settings.oidc_offices_claim, [])),
                    token_id=_token_id(claims, token), local=False, expires_at=float(claims["exp"]),
                )
        except (jwt.PyJWTError, KeyError, ValueError, TypeError):
            pass
        raise _unauthorized("the bearer token is invalid or expired")


async def authorize(conn: asyncpg.Connection, token: VerifiedToken) -> Principal:
    """Who the token's holder is now: refused (401) if the token was revoked, or - for our
    own tokens - if the account is gone, deactivated or signed out everywhere since."""
    if token.local:
        account = await accounts.account_for_token(conn, token.username, token.token_id)
        if (account is None or not account.active or account.token_generation != token.generation
                or account.token_revoked):
            raise _unauthorized("the token was revoked or its account is no longer active; log in again")
        return Principal(username=token.username, role=account.role, offices=account.offices)
    if await accounts.token_revoked(conn, token.token_id):
        raise _unauthorized("the token was revoked; log in again")
    return Principal(username=token.username, role=token.role, offices=token.offices)


async def principal_from_token(request: Request, conn: asyncpg.Connection, token: str) -> Principal:
    """The one check of every way in (bearer header, UI cookie, codec): signature, then account."""
    principal = await authorize(conn, request.app.state.tokens.verify(token))
    request.state.principal = principal
    return principal


async def revoke(request: Request, conn: asyncpg.Connection, token: str) -> None:
    """Logout: this token is refused from now on, by every API process."""
    verified: VerifiedToken = request.app.state.tokens.verify(token)
    await accounts.revoke_token(conn, verified.token_id, verified.username,
                                datetime.fromtimestamp(verified.expires_at, UTC) + CLOCK_SKEW)


class LoginThrottle:
    """Refuses logins after repeated failures: slows guessing, across every API process.

    Counted in PostgreSQL (``login_failures``) over a sliding window, three ways: per client
    and account, per account from any client (a guesser with many addresses), per client
    for any account (one address trying many accounts).  An attempt is counted *before* its
    password is checked and forgiven when it succeeds, so parallel guesses cannot overrun a
    limit.  The client is the peer address as the server resolved it: behind a reverse
    proxy, set ``ITINERA_TRUSTED_PROXIES`` so it is the real client's, and only then.
    Once a limit is reached the account's owner is throttled too: that is the price of a
    per-account limit, and why it is higher than the per-client one.
    """

    def __init__(self, max_failures: int = 5, max_per_account: int = 20, max_per_client: int = 100,
                 window: timedelta = timedelta(minutes=5)):
        self._max, self._max_account, self._max_client = max_failures, max_per_account, max_per_client
        self._window = window

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginThrottle:
        return cls(settings.login_max_failures, settings.login_max_failures_per_account,
                   settings.login_max_failures_per_client, timedelta(minutes=settings.login_throttle_minutes))

    async def begin(self, conn: asyncpg.Connection, client: str, username: str) -> int:
        """Count an attempt (429 if a limit is already reached); its id, to forgive it."""
        await conn.execute("DELETE FROM login_failures WHERE at < now() - $1::interval", self._window)
        attempt = await conn.fetchval("INSERT INTO login_failures (client, username) VALUES ($1, $2) RETURNING id",
                                      client, username)
        row = await conn.fetchrow(
            """SELECT count(*) FILTER (WHERE client = $1 AND username = $2) AS pair,
                      count(*) FILTER (WHERE username = $2) AS account,
                      count(*) FILTER (WHERE client = $1) AS client,
                      extract(epoch FROM min(at) FILTER (WHERE client = $1 AND username = $2) + $3 - now()) AS pair_wait,
                      extract(epoch FROM min(at) FILTER (WHERE username = $2) + $3 - now()) AS account_wait,
                      extract(epoch FROM min(at) FILTER (WHERE client = $1) + $3 - now()) AS client_wait
               FROM login_failures WHERE at > now() - $3::interval AND (client = $1 OR username = $2)""",
            client, username, self._window)
        for kind, limit in (("pair", self._max), ("account", self._max_account), ("client", self._max_client)):
            if row[kind] > limit:
                await conn.execute("DELETE FROM login_failures WHERE id = $1", attempt)  # a refusal is no guess
                retry = max(1, int(float(row[f"{kind}_wait"] or 0)) + 1)
                raise ApiError(429, "too_many_attempts", f"too many failed logins; try again in {retry} seconds",
                               headers={"Retry-After": str(retry)})
        return attempt

    async def succeeded(self, conn: asyncpg.Connection, attempt: int, client: str, username: str) -> None:
        await conn.execute("DELETE FROM login_failures WHERE id = $1 OR (client = $2 AND username = $3)",
                           attempt, client, username)


def printable(value: str, limit: int) -> str:
    """A caller-supplied name as it may be stored and shown: control characters, lone
    surrogates and the like escaped (PostgreSQL refuses some, and none belong in a log)."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in value[:limit])[:limit]


async def log_in(request: Request, conn: asyncpg.Connection, username: str, password: str) -> User:
    """Check a password, throttled: the one login of API and UI.

    Whatever the outcome, ``request.state.audit_actor`` names who tried: the account on
    success; on a refusal, the username tried and - if such an account exists - its role
    and offices, so the office's supervisors see failed and throttled logins in the trail.
    """
    throttle: LoginThrottle = request.app.state.login_throttle
    client = request.client.host if request.client else "unknown"
    tried = printable(username, 256)
    try:
        attempt = await throttle.begin(conn, client, tried)
        user = await authenticate(conn, username, password) if username and password else None
        if user is None:
            raise ApiError(401, "invalid_credentials", "unknown username or wrong password",
                           headers={"WWW-Authenticate": "Bearer"})
    except ApiError:
        account = await accounts.find_user(conn, username)
        request.state.audit_actor = {"kind": "anonymous", "id": printable(username, 64) or "anonymous",
                                     "role": account.role.value if account else None,
                                     "offices": list(account.offices) if account else []}
        raise
    await throttle.succeeded(conn, attempt, client, tried)
    request.state.audit_actor = {"kind": ActorKind.USER.value, "id": user.username, "role": user.role.value,
                                 "offices": list(user.offices)}
    return user


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)], db: Db
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("authentication required: send 'Authorization: Bearer <token>'")
    return await principal_from_token(request, db, credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
