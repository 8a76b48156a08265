"""Integration messages a supervisor has to deal with: those the case workflows rejected
(retry after fixing the case, or dismiss with a reason) - the UI face of
``GET /api/v1/integrations/inbox`` and its retry / dismiss (audited like any request)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from api import policy
from api.deps import Db
from api.errors import ApiError
from api.routes.integrations import dismiss_message, retry_message
from api.ui.i18n import gettext as _
from api.ui.rendering import UiRoute, redirect, render
from api.ui.security import UI_PREFIX
from api.ui.session import UiPrincipal, flash, flash_refusal
from domain.model import Role
from store import inbox as inbox_store

router = APIRouter(route_class=UiRoute)
InboxId = Annotated[int, Path(ge=1, le=2**62)]
STATES = ("rejected", "pending", "applied", "dismissed")


@router.get("/messages", summary="Integration messages of my offices")
async def messages(request: Request, principal: UiPrincipal, db: Db,
                   status: Annotated[str, Query(pattern="^(rejected|pending|applied|dismissed)$")] = "rejected"
                   ) -> Response:
    policy.require_role(principal, {Role.SUPERVISOR}, "work on integration messages")
    items = await inbox_store.list_for_offices(db, offices=principal.offices, status=status, limit=100)
    return render(request, "messages.html", {"messages": items, "status": status, "states": STATES},
                  title=_("Integration messages"))


@router.post("/messages/{inbox_id}/retry", summary="Send a rejected message again")
async def retry(request: Request, inbox_id: InboxId, principal: UiPrincipal, db: Db) -> Response:
    response = redirect(f"{UI_PREFIX}/messages")
    try:
        await retry_message(db, principal, request, inbox_id)
    except ApiError as exc:
        if exc.status not in (403, 404, 409):
            raise
        flash_refusal(request, response, exc.status, exc.message)
        return response
    flash(request, response, "success", f"Message {inbox_id} is sent to its case again.")
    return response


@router.post("/messages/{inbox_id}/dismiss", summary="Dismiss a rejected message with a reason")
async def dismiss(request: Request, inbox_id: InboxId, principal: UiPrincipal, db: Db) -> Response:
    reason = str((await request.form()).get("reason", "")).strip()[:1000]
    response = redirect(f"{UI_PREFIX}/messages")
    if not reason:
        flash_refusal(request, response, 422, "Please give a reason for dismissing the message.")
        return response
    try:
        await dismiss_message(db, principal, request, inbox_id, reason)
    except ApiError as exc:
        if exc.status not in (403, 404, 409):
            raise
        flash_refusal(request, response, exc.status, exc.message)
        return response
    flash(request, response, "success", f"Message {inbox_id} is dismissed.")
    return response
