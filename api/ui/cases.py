"""The case list and a case's page: who is on it, where it stands, what is open, what happened."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from api import policy, readmodel, task_actions
from api.deps import Db
from api.ui.filters import CaseFilters
from api.ui.rendering import UiRoute, render
from api.ui.security import UI_PREFIX
from api.ui.session import UiPrincipal
from api.ui.timeline import reads_health_details, timeline

router = APIRouter(route_class=UiRoute)
PAGE_SIZE = 25
CaseId = Annotated[str, Path(max_length=64)]


@router.get("/cases", summary="Case list")
async def case_list(request: Request, principal: UiPrincipal, db: Db,
                    filters: Annotated[CaseFilters, Query()]) -> Response:
    page = await readmodel.list_cases(
        db, offices=policy.visible_offices(principal), stage=filters.stage,
        status=filters.status.value if filters.status else None, office=filters.office, priority=filters.priority,
        text=filters.q, cursor=filters.cursor, limit=PAGE_SIZE,
    )
    path = f"{UI_PREFIX}/cases"
    return render(request, "cases.html", {
        "cases": page.items,
        "filters": filters,
        "office_choices": [(o, o) for o in policy.visible_offices(principal)],
        "next_link": filters.link(path, cursor=page.next_cursor) if page.next_cursor else None,
        "first_link": filters.link(path, cursor=None) if filters.cursor else None,
    }, title="Cases")


@router.get("/cases/{case_id}", summary="Case page")
async def case_page(request: Request, case_id: CaseId, principal: UiPrincipal, db: Db) -> Response:
    case = await readmodel.get_case(db, case_id)
    policy.require_case_visible(principal, case_id, case.office if case else None)
    assert case is not None
    events = await readmodel.list_events(db, case_id)
    return render(request, "case.html", {
        "case": case,
        "workable": {t.task_id: task_actions.may_work(principal, t) for t in case.open_tasks},
        "timeline": timeline(events, case, principal),
        "health_details": reads_health_details(principal),
        "here": request.url.path,
    }, title=f"{case.principal_name} · {case.case_id}")
