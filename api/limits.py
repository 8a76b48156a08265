"""Request bodies have limits: a huge body is refused before anyone parses it, and a deeply
nested one before a parser or validator recurses through it (``api.input_guard``)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1024 * 1024
# Routes that take files: a bulk referral import (api/routes/imports.py) of 5,000+ referrals.
LARGER_BODIES = {"/api/v1/imports": 16 * 1024 * 1024}
MAX_JSON_DEPTH = 32  # no request model nests beyond 5 levels; JSON's parser fails near 1,000


class BodySizeLimit:
    """Pure ASGI middleware: checks Content-Length, and reads a chunked body only up to the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = LARGER_BODIES.get(scope.get("path", ""), self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        if declared is not None:
            await self.app(scope, receive, send)
            return
        # No length declared (chunked): read it here, up to the limit, then hand it on.
        buffered: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            buffered.append(message)
            seen += len(message.get("body", b""))
            if seen > limit:
                await self._refuse(send, limit)
                return
            if message["type"] != "http.request" or not message.get("more_body", False):
                break

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, limit: int) -> None:
        body = json.dumps({"error": {"code": "body_too_large",
                                     "message": f"request body over {limit} bytes", "details": []}}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
