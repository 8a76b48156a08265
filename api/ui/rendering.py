"""Rendering pages, and the route class that gives every UI route the same manners.

``UiRoute`` is why the UI's routes stay thin: it checks the CSRF token of every POST
before the route runs, turns "not signed in" into a redirect to the login page, and
turns any ``ApiError`` (the same errors the JSON API answers with: 403, 404, 409, ...)
or invalid query into an HTML page with the same status and message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from api.auth import Principal
from api.readmodel import office_time_zone
from api.errors import ApiError
from api.ui.filters import CHOICES
from api.ui.formatting import FILTERS
from api.ui.i18n import LANGUAGES, chosen_language, direction, gettext, ngettext, use_language
from api.ui.plain_errors import plain_query_reason
from api.ui.security import CSRF_FIELD, STATIC_PREFIX, UI_PREFIX, csrf_token, require_csrf, set_csrf_cookie
from api.ui.session import LoginRequired, clear_flash, login_url, take_flash

API_DIR = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = API_DIR / "templates"
STATIC_DIR = API_DIR / "static"


@cache
def _static_version(name: str) -> str:
    """Content hash for cache busting: a changed stylesheet is fetched again, an unchanged one never."""
    path = STATIC_DIR / name
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10] if path.is_file() else "0"


def static_url(name: str) -> str:
    return f"{STATIC_PREFIX}/{name}?v={_static_version(name)}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,  # every template, whatever its extension: user data is never markup
        undefined=jinja2.StrictUndefined,  # a typo in a template fails loudly instead of rendering blank
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(FILTERS)
    env.globals.update(static_url=static_url, UI=UI_PREFIX, CSRF_FIELD=CSRF_FIELD, CHOICES=CHOICES,
                       office_zone=office_time_zone)  # a time of an office's record, in its zone
    return env


templates = Jinja2Templates(env=_environment())


def _principal_for_header(request: Request) -> Principal | None:
    """Who the page header names: only an account the request's own check let in.  An error
    page raised before that check names nobody (a token's signature alone would name a
    revoked or demoted account as if it were still valid)."""
    return getattr(request.state, "principal", None)


def render(request: Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200,
           title: str = "") -> Response:
    """Render a page with what every page needs: who is signed in, the CSRF token, the flash."""
    language = chosen_language(request)
    use_language(language)
    page = {"principal": _principal_for_header(request), "csrf_token": csrf_token(request),
            "flash": take_flash(request), "title": title, "path": request.url.path,
            "lang": language, "dir": direction(language), "languages": LANGUAGES}
    response = templates.TemplateResponse(request, template, {**page, **(context or {})}, status_code=status)
    set_csrf_cookie(request, response)
    clear_flash(request, response)
    return response


def render_error(request: Request, status: int, message: str, details: list[dict[str, Any]] | None = None) -> Response:
    use_language(chosen_language(request))
    titles = {403: gettext("Not allowed"), 404: gettext("Not found"), 409: gettext("Conflict"),
              422: gettext("Invalid request"), 503: gettext("Temporarily unavailable")}
    return render(request, "error.html", {"status": status, "message": message, "details": details or []},
                  status=status, title=titles.get(status, gettext("Something went wrong")))


def _shown_field(loc: Any) -> str:
    """``("query", "stage")`` -> ``stage``: the name as the address has it."""
    parts = [str(p) for p in loc]
    return ".".join(parts[1:] if len(parts) > 1 and parts[0] in ("query", "path", "body") else parts)


async def refuse_unstorable(scope: Any, receive: Any, send: Any, field: str, reason: str) -> None:
    """The edge's refusal of a character that cannot be stored (``api.input_guard``) on a UI
    address: a page in the user's language, not the API's JSON body."""
    request = Request(scope, receive)
    use_language(chosen_language(request))
    on_address = field.split(".", 1)[0] in ("path", "query")
    message = (gettext("The address contains a value this page does not accept.") if on_address
               else gettext("The form contains a character that cannot be stored: nothing was changed."))
    response = render_error(request, 422, message, [{"field": _shown_field(field.split(".")), "reason": reason}])
    await response(scope, receive, send)


def redirect(url: str) -> RedirectResponse:
    """303 See Other: after a POST the browser follows with a GET, so reloading never re-posts."""
    return RedirectResponse(url, status_code=303)


class UiRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def ui_handler(request: Request) -> Response:
            use_language(chosen_language(request))  # flash messages and errors too, not only the page
            try:
                if request.method == "POST":
                    await require_csrf(request)
                return await handler(request)
            except LoginRequired as exc:
                return redirect(login_url(exc.next_path, exc.expired))
            except ApiError as exc:
                return render_error(request, exc.status, exc.message, exc.details)
            except RequestValidationError as exc:  # said in plain words, not pydantic's
                return render_error(request, 422, gettext("The address contains a value this page does not accept."),
                                    [{"field": _shown_field(e.get("loc", ())), "reason": plain_query_reason(e)}
                                     for e in exc.errors()])

        return ui_handler
