"""The caseworker web UI: server-rendered pages under /ui, served by the API's own app.

It is a second front door to the same code: it reads through ``api.readmodel``, decides
visibility with ``api.policy`` and acts through ``api.task_actions`` / ``CaseCommands``,
exactly like the JSON API; only the authentication (a cookie instead of a bearer header)
and the rendering (HTML instead of JSON) differ.  ``install`` wires it into the app.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from api.errors import ApiError
from api.ui import audit, cases, consent, corrections, dashboard, splits, inbox, language, login, messages, movements, referral, reports, tasks
from api.ui import orientation_sessions
from api.ui.i18n import gettext
from api.ui.rendering import STATIC_DIR, UiRoute
from api.ui.security import STATIC_PREFIX, UI_PREFIX, SecurityHeadersMiddleware
from api.ui.session import UiPrincipal

# Matched after every page: any other address under /ui.
fallback = APIRouter(route_class=UiRoute)


@fallback.get("/{path:path}")
async def page_not_found(principal: UiPrincipal) -> Response:
    """Any other address under /ui: an HTML "not found" page rather than the API's JSON error."""
    raise ApiError(404, "not_found", gettext("There is no page at this address."))


async def _home() -> Response:
    return RedirectResponse(UI_PREFIX, status_code=307)


def install(app: FastAPI) -> None:
    """Serve the UI from ``app``: security headers, static files, the pages, and / -> /ui."""
    app.add_middleware(SecurityHeadersMiddleware)
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="ui-static")
    for module in (login, language, inbox, dashboard, referral, consent, cases, corrections, splits, tasks, messages, reports, movements, orientation_sessions,
                   audit):
        app.include_router(module.router, prefix=UI_PREFIX, include_in_schema=False)
    app.include_router(fallback, prefix=UI_PREFIX, include_in_schema=False)
    app.add_api_route("/", _home, include_in_schema=False)
