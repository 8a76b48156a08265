"""The audit trail of an office, for its supervisors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import policy
from api.auth import CurrentPrincipal
from api.deps import Db
from api.errors import ERROR_RESPONSES
from domain.model import Role
from store import audit as audit_store
from store.audit import AuditEntry

router = APIRouter(prefix="/api/v1/audit", tags=["audit"],
                   responses={401: ERROR_RESPONSES[401], 403: ERROR_RESPONSES[403]})


@router.get("", response_model=list[AuditEntry],
            summary="Who read or changed what, newest first (supervisors: their offices)")
async def read_audit(
    principal: CurrentPrincipal,
    db: Db,
    case_id: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Annotated[str | None, Query(pattern="^(allowed|denied|failed)$")] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1,  # ids are bigint: beyond, PostgreSQL refuses
                                           description="Page: pass the last id you received.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditEntry]:
    policy.require_role(principal, {Role.SUPERVISOR}, "read the audit trail")
    return await audit_store.read(db, offices=principal.offices, case_id=case_id, actor_id=actor, outcome=outcome,
                                  before_id=before_id, limit=limit)
