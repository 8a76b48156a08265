"""The inbox: the caller's open tasks, most urgent first - the page a caseworker lives on."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api import policy, task_actions
from api.deps import Db
from api.ui.filters import InboxFilters
from api.ui.i18n import gettext as _
from api.ui.rendering import UiRoute, render
from api.ui.security import UI_PREFIX
from api.ui.session import UiPrincipal
from domain.model import Role

router = APIRouter(route_class=UiRoute)
PAGE_SIZE = 25


@router.get("", summary="Inbox")
async def inbox(request: Request, principal: UiPrincipal, db: Db,
                filters: Annotated[InboxFilters, Query()]) -> Response:
    page = await task_actions.list_inbox(
        db, principal, role=filters.role, office=filters.office, assignee=filters.assignee, stage=filters.stage,
        overdue=filters.overdue_flag, cursor=filters.cursor, limit=PAGE_SIZE,
    )
    role = filters.role or (None if principal.role == Role.SUPERVISOR else principal.role)
    return render(request, "inbox.html", {
        "tasks": page.items,
        "workable": {t.task_id: task_actions.may_work(principal, t) for t in page.items},
        "filters": filters,
        "office_choices": [(o, o) for o in policy.visible_offices(principal)],
        "role_scope": role,
        "next_link": filters.link(UI_PREFIX, cursor=page.next_cursor) if page.next_cursor else None,
        "first_link": filters.link(UI_PREFIX, cursor=None) if filters.cursor else None,
        "here": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
    }, title=_("Inbox"))
