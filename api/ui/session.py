"""Who is signed in to the UI, and the one-shot messages shown after a redirect.

The session is the same JWT the API issues at ``POST /api/v1/auth/token``, kept in an
HttpOnly, SameSite=Strict cookie scoped to /ui: scripts cannot read it, other sites
cannot make the browser send it, and it is checked exactly like a bearer token
(``principal_from_token``: signature, then the account, then revocation), so a signed-out,
demoted or deactivated person's cookie stops working at their next click.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.responses import Response

from api.auth import Principal, TokenResponse, principal_from_token
from api.deps import Db
from api.errors import ApiError
from api.request_context import record_refusal
from api.ui.security import UI_PREFIX

SESSION_COOKIE = "itinera_session"
FLASH_COOKIE = "itinera_flash"
FlashKind = Literal["success", "error", "info"]


class LoginRequired(Exception):
    """No valid session: the UI answers with a redirect to the login page."""

    def __init__(self, next_path: str, expired: bool = False):
        super().__init__(next_path)
        self.next_path = next_path
        self.expired = expired


def login_url(next_path: str | None = None, expired: bool = False) -> str:
    url = f"{UI_PREFIX}/login"
    params = []
    if next_path and next_path != UI_PREFIX:
        params.append(f"next={quote(next_path, safe='/')}")
    if expired:
        params.append("expired=1")
    return url + ("?" + "&".join(params) if params else "")


def safe_next(value: str | None, default: str = UI_PREFIX) -> str:
    """A redirect target from user input, kept to this app's UI (no open redirect)."""
    if not value or not value.startswith(UI_PREFIX) or value.startswith("//") or "\\" in value:
        return default
    rest = value[len(UI_PREFIX):]
    return value if rest == "" or rest[0] in "/?" else default


async def ui_principal(request: Request, db: Db) -> Principal:
    token = request.cookies.get(SESSION_COOKIE)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not token:
        raise LoginRequired(here if request.method == "GET" else UI_PREFIX)
    try:
        return await principal_from_token(request, db, token)
    except ApiError:
        raise LoginRequired(here if request.method == "GET" else UI_PREFIX, expired=True) from None


UiPrincipal = Annotated[Principal, Depends(ui_principal)]


# The session also reaches /codec, so the Temporal Web UI (same site) can decrypt history
# for a signed-in supervisor.
SESSION_PATHS = (UI_PREFIX, "/codec")


def start_session(request: Request, response: Response, token: TokenResponse) -> None:
    for path in SESSION_PATHS:
        response.set_cookie(SESSION_COOKIE, token.access_token, max_age=token.expires_in, path=path,
                            httponly=True, samesite="strict", secure=request.url.scheme == "https")


def end_session(request: Request, response: Response) -> None:
    for path in SESSION_PATHS:
        response.delete_cookie(SESSION_COOKIE, path=path, httponly=True, samesite="strict",
                               secure=request.url.scheme == "https")


def flash(request: Request, response: Response, kind: FlashKind, message: str) -> None:
    """Show ``message`` on the next page rendered (after the redirect this response makes)."""
    raw = json.dumps({"kind": kind, "message": message[:300]}).encode()
    response.set_cookie(FLASH_COOKIE, base64.urlsafe_b64encode(raw).decode(), path=UI_PREFIX, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")


def flash_refusal(request: Request, response: Response, status: int, message: str) -> None:
    """A refused action answered the UI's way, with a redirect and an error message: the
    audit row records the refusal (denied for 403/404, failed for 409/422), not the redirect."""
    record_refusal(status)
    flash(request, response, "error", message)


def take_flash(request: Request) -> tuple[FlashKind, str] | None:
    """The pending message, if any (the caller clears the cookie with ``clear_flash``)."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(raw.encode()))
        kind, message = data["kind"], str(data["message"])[:300]
    except (ValueError, KeyError, TypeError):
        return None
    return (kind, message) if kind in ("success", "error", "info") else None


def clear_flash(request: Request, response: Response) -> None:
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, path=UI_PREFIX, httponly=True, samesite="strict",
                               secure=request.url.scheme == "https")
