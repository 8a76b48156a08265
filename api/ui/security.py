"""Browser-facing defences of the UI: response security headers and CSRF tokens.

The UI authenticates with a cookie, so - unlike the bearer-token API - a browser sends the
credential on its own; every state-changing request therefore also carries a CSRF token
(double submit: a random token in an HttpOnly cookie and the same token in a hidden form
field; a cross-site page can make a browser send the cookie but cannot read it to fill
the field).  The session cookie is SameSite=Strict as a second, independent defence.
"""

from __future__ import annotations

import re
import secrets

from starlette.datastructures import FormData, MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError

UI_PREFIX = "/ui"
STATIC_PREFIX = "/ui/static"
CSRF_COOKIE = "itinera_csrf"
CSRF_FIELD = "csrf_token"
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")

# Only our own origin: no inline script or style, no framing, forms post only to us.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class SecurityHeadersMiddleware:
    """Adds the security headers to every response under /ui (pages, redirects, errors, static).

    Pages also get ``Cache-Control: no-store``: they carry personal data, which must not be
    kept in the browser's cache or shown again by the back button after logout.
    A pure ASGI middleware (not ``BaseHTTPMiddleware``) so it does not buffer responses.
    """

    def __init__(self, app: ASGIApp, prefix: str = UI_PREFIX):
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == self.prefix or path.startswith(self.prefix + "/")):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if not path.startswith(STATIC_PREFIX + "/"):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def csrf_token(request: Request) -> str:
    """The token to put in this page's forms: the cookie's, or a new one (set by ``set_csrf_cookie``)."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if not _TOKEN_SHAPE.match(token):
        token = getattr(request.state, "new_csrf_token", None) or secrets.token_urlsafe(32)
        request.state.new_csrf_token = token
    return token


def set_csrf_cookie(request: Request, response: Response, *, rotate: bool = False) -> None:
    """Store a token generated while rendering (or a fresh one, on login) in the cookie."""
    token = secrets.token_urlsafe(32) if rotate else getattr(request.state, "new_csrf_token", None)
    if token:
        response.set_cookie(CSRF_COOKIE, token, path=UI_PREFIX, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")


async def require_csrf(request: Request) -> FormData:
    """Refuse (403) a form post whose token is missing or differs from the cookie's."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not isinstance(sent, str) or not expected or not secrets.compare_digest(sent.encode(), expected.encode()):
        raise ApiError(403, "csrf_failed", "This form has expired or did not come from Itinera. "
                                           "Go back, reload the page and try again.")
    return form
