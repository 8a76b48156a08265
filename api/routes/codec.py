"""Temporal's remote codec endpoints, so the Temporal Web UI can show decrypted history.

Only supervisors may decrypt, and only what belongs to their offices: each payload is
sealed for its workflow (``payload_encryption``), and a payload of another office's case,
movement, session or import comes back as a short JSON note saying it is withheld (the
Web UI shows that note in place of the data) instead of decrypted.  A payload sealed before
workflows were bound to payloads names no workflow: only a supervisor of every office of
the deployment gets it decrypted.  The Web UI calls
``<codec endpoint>/decode`` from the browser: with "include cross-origin credentials"
switched on in its codec settings it sends the session cookie of Itinera's own UI
(scoped to /codec as well as /ui); API clients send a bearer token.  CORS admits only the
Temporal Web UI's origin, and only here (``CodecCors``): that origin gets no cross-origin
access to any other path of the API.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from google.protobuf import json_format
from pydantic import BaseModel
from temporalio.api.common.v1 import Payload

from api.auth import Principal, _bearer, _unauthorized, principal_from_token
from api.deps import Db
from api.errors import ERROR_RESPONSES, ApiError
from api.readmodel import deployment_offices, workflow_offices
from domain.model import Role
from payload_encryption import bound_workflow_id, is_encrypted

router = APIRouter(prefix="/codec", tags=["codec"], responses={401: ERROR_RESPONSES[401], 403: ERROR_RESPONSES[403]})
CODEC_COOKIE_PATH = "/codec"


class PayloadsBody(BaseModel):
    """Temporal's codec JSON: payloads with base64 metadata values and data."""

    payloads: list[dict]


class CodecCors:
    """CORS for the codec endpoints only: the Temporal Web UI's origin may call /codec with
    credentials, and gets no CORS headers (so no readable response) anywhere else."""

    def __init__(self, app: ASGIApp, origins: list[str]):
        self.app = app
        self.cors = CORSMiddleware(app, allow_origins=origins, allow_credentials=True,
                                   allow_methods=["POST", "OPTIONS"],
                                   allow_headers=["content-type", "authorization", "x-namespace"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == CODEC_COOKIE_PATH or path.startswith(CODEC_COOKIE_PATH + "/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


async def codec_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)], db: Db
) -> Principal:
    from api.ui.session import SESSION_COOKIE  # the UI's cookie, also scoped to /codec

    token = credentials.credentials if credentials else request.cookies.get(SESSION_COOKIE)
    if not token:
        raise _unauthorized("authentication required")
    principal = await principal_from_token(request, db, token)
    if principal.role != Role.SUPERVISOR:
        raise ApiError(403, "forbidden", "only supervisors may decrypt case history")
    return principal


def _to_proto(items: list[dict]) -> list[Payload]:
    try:
        return [json_format.ParseDict(item, Payload()) for item in items]
    except (json_format.ParseError, TypeError, ValueError) as exc:
        raise ApiError(422, "invalid_request", f"not Temporal payloads: {exc}",
                       [{"field": "body.payloads", "reason": "each item needs base64 metadata values and data"}]) from None


def _to_json(payloads: list[Payload]) -> PayloadsBody:
    return PayloadsBody(payloads=[json_format.MessageToDict(p) for p in payloads])


@router.post("/encode", response_model=PayloadsBody, summary="Encrypt payloads (Temporal remote codec)")
async def encode(body: PayloadsBody, request: Request,
                 _: Annotated[Principal, Depends(codec_principal)]) -> PayloadsBody:
    return _to_json(await request.app.state.codec.encode(_to_proto(body.payloads)))


def _withheld(workflow_id: str | None) -> Payload:
    """What stands in for a payload the caller may not read (shown by the Web UI as is)."""
    reason = (f"withheld: this payload belongs to {workflow_id}, which is not in your offices" if workflow_id else
              "withheld: this payload was sealed before payloads named their workflow; "
              "only a supervisor of every office may decrypt it")
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps({"itinera": reason}).encode())


async def _readable(payloads: list[Payload], principal: Principal, db: Db) -> list[bool]:
    """Whether the caller may see each payload decrypted: its workflow is one of their
    offices' (plaintext payloads, which are nobody's secret, pass through as they are)."""
    bound = {bound_workflow_id(p) for p in payloads if is_encrypted(p)}
    owners = await workflow_offices(db, sorted(w for w in bound if w))
    mine = set(principal.offices)
    every_office = None in bound and (await deployment_offices(db)) <= mine
    return [not is_encrypted(p)
            or (every_office if (w := bound_workflow_id(p)) is None else bool(mine & set(owners.get(w, ()))))
            for p in payloads]


@router.post("/decode", response_model=PayloadsBody, summary="Decrypt payloads (Temporal remote codec)")
async def decode(body: PayloadsBody, request: Request, db: Db,
                 principal: Annotated[Principal, Depends(codec_principal)]) -> PayloadsBody:
    payloads = _to_proto(body.payloads)
    readable = await _readable(payloads, principal, db)
    try:
        opened = await request.app.state.codec.decode([p for p, ok in zip(payloads, readable) if ok])
    except Exception as exc:  # an unknown key or a tampered payload: say so, reveal nothing
        raise ApiError(422, "undecryptable", f"payload could not be decrypted ({type(exc).__name__})") from None
    decrypted = iter(opened)
    return _to_json([next(decrypted) if ok else _withheld(bound_workflow_id(p)) for p, ok in zip(payloads, readable)])
