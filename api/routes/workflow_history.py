"""``GET /api/v1/cases/{case_id}/workflow-history``: the engine's own record of a case."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from api import policy, readmodel
from api.auth import CurrentPrincipal
from api.deps import Db
from api.errors import ERROR_RESPONSES, ApiError
from api.workflow_history import WorkflowHistoryPage, fetch
from domain.model import Role

router = APIRouter(prefix="/api/v1/cases", tags=["cases"], responses={401: ERROR_RESPONSES[401]})


@router.get("/{case_id}/workflow-history", response_model=WorkflowHistoryPage,
            summary="The raw Temporal history of the case's workflow (supervisors)",
            description="Every run of the case's workflow, each event with its id, type, time and attributes; "
                        "payloads are decoded through the payload codec. Supervisors only: payloads hold personal "
                        "and health data. Open the same workflow in the Temporal Web UI: `temporal_web_url` of "
                        "the case.",
            responses={403: ERROR_RESPONSES[403], 404: ERROR_RESPONSES[404]})
async def workflow_history(case_id: str, request: Request, principal: CurrentPrincipal, db: Db,
                           limit: int = Query(2000, ge=1, le=10000)) -> WorkflowHistoryPage:
    policy.require_case_visible(principal, case_id, await readmodel.case_office(db, case_id))
    policy.require_role(principal, {Role.SUPERVISOR}, "read a case's raw workflow history")
    page = await fetch(request.app.state.temporal, case_id, limit=limit)
    if page is None:
        raise ApiError(404, "case_not_found", f"no workflow for case {case_id}")
    return page
