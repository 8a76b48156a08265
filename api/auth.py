"""Authentication: who is calling, from a bearer JWT.

Two kinds of token are accepted, told apart by their issuer and never by their header's
``alg`` (which an attacker controls):
- tokens this service issued itself at ``POST /api/v1/auth/token`` (embedded default,
  HS256 with a key kept in the data folder or given by ``ITINERA_JWT_SIGNING_KEY``);
- tokens of an OIDC issuer (``ITINERA_OIDC_ISSUER``), verified against its JWKS with
  PyJWT's ``PyJWKClient``, which caches keys and refetches on an unknown key id.
Expiry and not-before are enforced with a bounded clock skew.
"""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import asyncpg
import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from api.errors import ApiError
from domain.model import Actor, ActorKind, Role
from settings import Settings
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
    path: Path = settings.data_dir / "jwt-signing.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


class TokenService:
    def __init__(self, settings: Settings):
        self._settings = settings
        self._key = signing_key(settings)
        self._verified: dict[str, tuple[Principal, float]] = {}
        self._jwks = jwt.PyJWKClient(settings.oidc_jwks_url, cache_keys=True, lifespan=3600) if settings.oidc_jwks_url else None

    def issue(self, username: str, role: Role, offices: list[str]) -> TokenResponse:
        now = datetime.now(UTC)
        ttl = timedelta(minutes=self._settings.access_token_minutes)
        claims = {
            "iss": self._settings.jwt_issuer,
            "aud": self._settings.jwt_audience,
            "sub": username,
            "role": role.value,
            "offices": offices,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(claims, self._key, algorithm="HS256")
        return TokenResponse(access_token=token, expires_in=int(ttl.total_seconds()), username=username,
                             role=role, offices=offices)

    def verify(self, token: str) -> Principal:
        """The token's principal.  A token verified once is remembered until it expires
        (every request carries one, and decoding was a tenth of the API's CPU); a forged or
        expired token is never remembered, so it is checked, and refused, every time."""
        cached = self._verified.get(token)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        principal, expires = self._verify(token)
        if len(self._verified) >= _VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = (principal, expires)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
            if issuer == self._settings.jwt_issuer:
                claims = jwt.decode(
                    token, self._key, algorithms=["HS256"], audience=self._settings.jwt_audience,
                    issuer=self._settings.jwt_issuer, leeway=CLOCK_SKEW,
                    options={"require": ["exp", "iat", "nbf", "sub", "iss", "aud"]},
                )
                return (Principal(username=claims["sub"], role=Role(claims["role"]), offices=list(claims["offices"])),
                        float(claims["exp"]))
            if self._jwks is not None and issuer == self._settings.oidc_issuer:
                key = self._jwks.get_signing_key_from_jwt(token)
                claims = jwt.decode(
                    token, key.key, algorithms=["RS256", "ES256", "PS256"],
                    audience=self._settings.oidc_audience or self._settings.jwt_audience,
                    issuer=self._settings.oidc_issuer, leeway=CLOCK_SKEW,
                    options={"require": ["exp", "iat", "sub", "iss", "aud"]},
                )
                return Principal(
                    username=claims.get("preferred_username") or claims["sub"],
                    role=Role(claims[self._settings.oidc_role_claim]),
                    offices=list(claims.get(self._settings.oidc_offices_claim, [])),
                ), float(claims["exp"])
        except (jwt.PyJWTError, KeyError, ValueError):
            pass
        raise _unauthorized("the bearer token is invalid or expired")


class LoginThrottle:
    """Refuses logins for a (client, username) after repeated failures: slows guessing.

    In memory, per API process: several processes behind a load balancer each count on
    their own, so put a shared limit in the gateway too.
    """

    def __init__(self, max_failures: int = 5, window: timedelta = timedelta(minutes=5)):
        self._max, self._window = max_failures, window.total_seconds()
        self._failures: dict[tuple[str, str], list[float]] = {}

    def _recent(self, key: tuple[str, str]) -> list[float]:
        now = time.monotonic()
        recent = [t for t in self._failures.get(key, []) if now - t < self._window]
        if recent:
            self._failures[key] = recent
        else:
            self._failures.pop(key, None)
        return recent

    def check(self, client: str, username: str) -> None:
        recent = self._recent((client, username))
        if len(recent) >= self._max:
            retry = int(self._window - (time.monotonic() - recent[0])) + 1
            raise ApiError(429, "too_many_attempts", f"too many failed logins; try again in {retry} seconds",
                           headers={"Retry-After": str(retry)})

    def failed(self, client: str, username: str) -> None:
        self._failures.setdefault((client, username), []).append(time.monotonic())

    def succeeded(self, client: str, username: str) -> None:
        self._failures.pop((client, username), None)


async def log_in(request: Request, conn: asyncpg.Connection, username: str, password: str) -> User:
    """Check a password, throttled per client and username: the one login of API and UI."""
    throttle: LoginThrottle = request.app.state.login_throttle
    client = request.client.host if request.client else "unknown"
    throttle.check(client, username)
    user = await authenticate(conn, username, password) if username and password else None
    if user is None:
        throttle.failed(client, username)
        raise ApiError(401, "invalid_credentials", "unknown username or wrong password",
                       headers={"WWW-Authenticate": "Bearer"})
    throttle.succeeded(client, username)
    return user


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("authentication required: send 'Authorization: Bearer <token>'")
    principal = request.app.state.tokens.verify(credentials.credentials)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
