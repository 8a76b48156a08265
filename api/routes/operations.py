"""``GET /api/v1/operations/troubled-cases``: cases whose workflow is in trouble, with the error."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from api import policy
from api.auth import CurrentPrincipal
from api.deps import Db
from api.errors import ERROR_RESPONSES
from api.operations import Trouble, troubled_cases
from domain.model import Role

router = APIRouter(prefix="/api/v1/operations", tags=["operations"], responses={401: ERROR_RESPONSES[401]})


@router.get("/troubled-cases", response_model=list[Trouble],
            summary="Cases whose workflow is in trouble: a failing workflow task, the recording retrying, a late clock",
            description="Of the caller's offices (supervisors). Looks at up to `limit` running case workflows.",
            responses={403: ERROR_RESPONSES[403]})
async def list_troubled_cases(request: Request, principal: CurrentPrincipal, db: Db,
                              limit: int = Query(500, ge=1, le=5000)) -> list[Trouble]:
    policy.require_role(principal, {Role.SUPERVISOR}, "see the cases in trouble")
    return await troubled_cases(request.app.state.temporal, db, policy.visible_offices(principal), limit=limit)
