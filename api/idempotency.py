"""The ``Idempotency-Key`` header (IETF draft "The Idempotency-Key HTTP Header Field").

Required on integration messages, optional on ``POST /api/v1/cases`` and task
completions.  Keys are per client (an integration key, or a user) and remembered for
``ITINERA_IDEMPOTENCY_RETENTION_HOURS`` (``store.inbox`` has the rules):

* same key, same request (method, route, canonical JSON body): the first success's status
  and body again, with ``Idempotent-Replayed: true``; nothing is applied again;
* same key, another request: 422 ``idempotency_key_reused``;
* same key while the first is still being served: 409 ``idempotency_key_in_progress``
  with ``Retry-After`` (the draft's answer to a concurrent duplicate);
* a refused request (any 4xx or 5xx) frees its key: a 4xx applied nothing; a 503 may still
  be applied, once (a command whose answer timed out has a Temporal update id derived from
  the key, or for a completion from what it says, so sending it again attaches to the first
  and answers with its outcome: ``api.task_actions``).

The key's bookkeeping never turns an applied command into an error: if PostgreSQL cannot
store the answer (its connection died while the command ran), the client still gets it,
and the key's lock expires; the same request sent again then reaches Temporal, whose
update-id deduplication answers with the first outcome.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import Request
from fastapi.responses import JSONResponse

from api.errors import ApiError
from api.outages import DATABASE_OUTAGES
from api.request_context import route_template
from store import inbox as store

log = logging.getLogger("itinera.api")

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
        """Remember the answer, with the request's connection or, if that one died while the
        command ran, a fresh one; if PostgreSQL cannot be written, the answer goes out anyway."""
        if self.key is not None:
            await self._with_a_connection(store.answer_key, status_code, body)

    async def abandon(self) -> None:
        if self.key is not None:
            await self._with_a_connection(store.release_key)

    async def _with_a_connection(self, step: Any, *args: Any) -> None:
        assert self.key is not None
        try:
            await step(self.db, self.scope, self.key, *args)
            return
        except (*DATABASE_OUTAGES, asyncpg.PostgresError):
            pass
        try:
            async with self.request.app.state.pool.acquire(timeout=5) as conn:
                await step(conn, self.scope, self.key, *args)
        except (TimeoutError, *DATABASE_OUTAGES, asyncpg.PostgresError) as exc:
            # Its lock expires on its own; the same request sent again then gets its outcome
            # from Temporal (the update id is derived from the key).
            log.warning("Idempotency-Key %s of %s not updated: %r", self.key, self.scope, exc)
