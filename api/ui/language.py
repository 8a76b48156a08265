"""The language menu: the user's choice of language, remembered in a cookie for a year.

A cookie rather than the account: the choice is the reader's, on this browser, and it works
before signing in (the login page has the menu too).  It is not a secret, so it is readable
by the page's script; it holds one of ``i18n.LANGUAGES`` or is ignored.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.ui.i18n import LANGUAGE_COOKIE, LANGUAGES
from api.ui.rendering import UiRoute, redirect
from api.ui.security import UI_PREFIX
from api.ui.session import safe_next

router = APIRouter(route_class=UiRoute)
ONE_YEAR = 365 * 24 * 3600


@router.post("/language", summary="Choose the UI's language")
async def choose_language(request: Request) -> Response:
    posted = await request.form()
    response = redirect(safe_next(str(posted.get("next", ""))))
    language = str(posted.get("lang", ""))
    if language in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=ONE_YEAR, path=UI_PREFIX, samesite="lax",
                            secure=request.url.scheme == "https")
    return response
