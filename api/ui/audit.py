"""The audit trail of a supervisor's offices: who read or changed what, when, and with what
outcome - the UI face of ``GET /api/v1/audit`` (the same query, the same scoping)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.deps import Db
from api.readmodel import office_time_zone
from api.routes.audit import read_audit
from api.ui.i18n import gettext as _
from api.ui.rendering import UiRoute, render
from api.ui.session import UiPrincipal

router = APIRouter(route_class=UiRoute)
PAGE = 100


@router.get("/audit", summary="The audit trail of my offices")
async def audit(request: Request, principal: UiPrincipal, db: Db,
                case_id: Annotated[str | None, Query(max_length=64)] = None,
                actor: Annotated[str | None, Query(max_length=64)] = None,
                outcome: Annotated[str | None, Query(pattern="^(allowed|denied|failed)?$")] = None,
                before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None) -> Response:
    entries = await read_audit(principal, db, case_id=case_id or None, actor=actor or None, outcome=outcome or None,
                               before_id=before_id, limit=PAGE)
    # A row without an office (a sign-in, a report, an integration call) in the supervisor's
    # zone when all their offices share one, as the rows around it are; UTC otherwise.
    zones = {office_time_zone(o) for o in principal.offices}
    return render(request, "audit.html", {
        "entries": entries, "own_zone": zones.pop() if len(zones) == 1 else None, "case_id": case_id or "", "actor": actor or "", "outcome": outcome or "",
        "older": entries[-1].id if len(entries) == PAGE else None}, title=_("Audit trail"))
