"""Signing in and out of the UI, with the same accounts and tokens as the API.

A sign-in - allowed, failed or throttled - is audited like the API's, naming the username
tried (``log_in`` tells the audit middleware who).  Signing out revokes the session's
token, not only the cookie: a copy of it is refused too.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.auth import log_in, principal_from_token, revoke
from api.deps import Db
from api.errors import ApiError
from api.ui.i18n import gettext as _
from api.ui.rendering import UiRoute, redirect, render
from api.ui.security import set_csrf_cookie
from api.ui.session import (
    SESSION_COOKIE,
    end_session,
    flash,
    login_url,
    safe_next,
    start_session,
)
from store.users import MAX_PASSWORD_LENGTH

router = APIRouter(route_class=UiRoute)
_MAX_CREDENTIAL = MAX_PASSWORD_LENGTH  # a username is far shorter


@router.get("/login", summary="Sign-in page")
async def login_page(request: Request, db: Db, next: str | None = None, expired: bool = False) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            await principal_from_token(request, db, token)
            return redirect(safe_next(next))
        except ApiError:
            expired = True
    return render(request, "login.html", {"next": safe_next(next), "username": "", "error": None,
                                          "expired": expired}, title=_("Sign in"))


@router.post("/login", summary="Sign in")
async def login(request: Request, db: Db) -> Response:
    form = await request.form()
    username = str(form.get("username", "")).strip()[:_MAX_CREDENTIAL]
    password = str(form.get("password", ""))[:_MAX_CREDENTIAL]
    next_path = safe_next(str(form.get("next", "")))
    try:
        user = await log_in(request, db, username, password)
    except ApiError as refused:
        if refused.status == 401:
            message = _("Unknown username or wrong password.")
        elif refused.code == "too_many_attempts":
            message = _("Too many failed sign-ins; try again in %(seconds)s seconds.",
                        seconds=refused.headers.get("Retry-After", "60") if refused.headers else "60")
        else:
            message = refused.message
        return render(request, "login.html", {"next": next_path, "username": username, "expired": False,
                                              "error": message}, status=400 if refused.status == 401 else 429,
                      title=_("Sign in"))
    response = redirect(next_path)
    start_session(request, response,
                  request.app.state.tokens.issue(user.username, user.role, user.offices, user.token_generation))
    set_csrf_cookie(request, response, rotate=True)  # a token seen before sign-in is not reused after it
    return response


@router.post("/logout", summary="Sign out")
async def logout(request: Request, db: Db) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            await revoke(request, db, token)
        except ApiError:
            pass  # expired or not ours: nothing left to revoke
    response = redirect(login_url())
    end_session(request, response)
    flash(request, response, "info", "You have signed out.")
    return response

