"""The ``Idempotency-Key`` header (IETF draft "The Idempotency-Key HTTP Header Field").

Required on integration messages, optional on ``POST /api/v1/cases`` and task
completions.  Keys are per client (an integration key, or a user) and remembered for
``ITINERA_IDEMPOTENCY_RETENTION_HOURS`` (``store.inbox`` has the rules):

* same key, same request (method, route, canonical JSON body): the first success's status
  and body again, with ``Idempotent-Replayed: true``; nothing is applied again;
* same key, another request: 422 ``idempotency_key_reused``;
* same key while the first is still being served: 409 ``idempotency_key_in_progress``
  with ``Retry-After`` (the draft's answer to a concurrent duplicate);
* a refused request (any 4xx or 5xx) frees its key: it applied nothing (a command whose
  answer timed out still has a Temporal update id derived from the key, so sending it
  again attaches to the first and is applied once).
"""

from __future__ import annotations

from typing import Any

import asyncpg
from fastapi import Request
from fastapi.responses import JSONResponse

from api.errors import ApiError
from api.request_context import route_template
from store import inbox as store

HEADER = "Idempotency-Key"
_MAX_LENGTH = 255


def key_of(request: Request) -> str | None:
    """The request's key, if it sent one (400 for an empty or over-long one)."""
    value = request.headers.get(HEADER)
    if value is None:
        return None
    value = value.strip()
    if value.startswith('"') and value.endswith('"') and len(value) >= 2:
        value = value[1:-1]  # the draft's sf-string form
    if not value or len(value) > _MAX_LENGTH or not value.isprintable():
        raise ApiError(400, "invalid_idempotency_key", f"the {HEADER} header must be 1 to {_MAX_LENGTH} printable "
                       "characters", [{"field": f"header.{HEADER}", "reason": "invalid"}])
    return value


async def request_fingerprint(request: Request) -> str:
    """Method, route and the route's own values (the task, the case it names), and the body:
    the same key sent to another task is another request (422), not a replay of the first."""
    route = route_template(request.scope) or request.url.path
    params = request.path_params
    named = route + "?" + "&".join(f"{k}={params[k]}" for k in sorted(params)) if params else route
    return store.fingerprint(request.method, named, await request.body())


def answer_known(known: store.KnownKey, fingerprint: str) -> JSONResponse:
    """The answer to a request whose key was used before: replayed, or refused."""
    if known.fingerprint != fingerprint:
        raise ApiError(422, "idempotency_key_reused",
                       f"this {HEADER} was used with a different request; use a new key for a new request",
                       [{"field": f"header.{HEADER}", "reason": "already used with another request body"}])
    if known.status_code is None:
        raise ApiError(409, "idempotency_key_in_progress",
                       f"a request with this {HEADER} is still being served; send it again shortly",
                       headers={"Retry-After": "1"})
    return JSONResponse(known.response, status_code=known.status_code, headers={"Idempotent-Replayed": "true"})


class Idempotency:
    """One request's use of its key, for a route whose key is optional:
    ``replay = await idem.begin()`` (a response to return at once, or None), then
    ``await idem.finish(status, body)`` on success or ``await idem.abandon()`` on failure."""

    def __init__(self, request: Request, db: asyncpg.Connection, scope: str) -> None:
        self.request, self.db, self.scope = request, db, scope
        self.key = key_of(request)

    async def begin(self) -> JSONResponse | None:
        if self.key is None:
            return None
        settings = self.request.app.state.settings
        fingerprint = await request_fingerprint(self.request)
        known = await store.claim_key(self.db, self.scope, self.key, fingerprint,
                                      lock_seconds=settings.command_timeout_seconds + 10,
                                      retention_hours=settings.idempotency_retention_hours)
        if known is None:
            return None
        self.key = None  # not ours: nothing to finish or abandon
        return answer_known(known, fingerprint)

    async def finish(self, status_code: int, body: Any) -> None:
        if self.key is not None:
            await store.answer_key(self.db, self.scope, self.key, status_code, body)

    async def abandon(self) -> None:
        if self.key is not None:
            try:
                await store.release_key(self.db, self.scope, self.key)
            except (asyncpg.PostgresError, OSError):
                pass  # its lock expires on its own
