"""Temporal's remote codec endpoints, so the Temporal Web UI can show decrypted history.

Only supervisors may decrypt (they read full case history anyway).  The Web UI calls
``<codec endpoint>/decode`` from the browser: with "include cross-origin credentials"
switched on in its codec settings it sends the session cookie of Itinera's own UI
(scoped to /codec as well as /ui); API clients send a bearer token.  CORS admits only the
Temporal Web UI's origin, and only here (``CodecCors``): that origin gets no cross-origin
access to any other path of the API.
"""

from __future__ import annotations

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
from domain.model import Role

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


@router.post("/decode", response_model=PayloadsBody, summary="Decrypt payloads (Temporal remote codec)")
async def decode(body: PayloadsBody, request: Request,
                 _: Annotated[Principal, Depends(codec_principal)]) -> PayloadsBody:
    try:
        return _to_json(await request.app.state.codec.decode(_to_proto(body.payloads)))
    except Exception as exc:  # an unknown key or a tampered payload: say so, reveal nothing
        raise ApiError(422, "undecryptable", f"payload could not be decrypted ({type(exc).__name__})") from None
