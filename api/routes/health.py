"""Is the service and what it depends on answering?"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from api.auth import CurrentPrincipal
from api.schemas import ServiceHealth

router = APIRouter(prefix="/api/v1", tags=["health"])


@router.get("/health", response_model=ServiceHealth, summary="Liveness, and whether Temporal and PostgreSQL answer")
async def health(request: Request, _: CurrentPrincipal) -> ServiceHealth:
    async def database() -> bool:
        try:
            async with request.app.state.pool.acquire(timeout=2) as conn:
                return await conn.fetchval("SELECT 1") == 1
        except Exception:
            return False

    async def temporal() -> bool:
        try:
            return await asyncio.wait_for(request.app.state.temporal.service_client.check_health(), timeout=2)
        except Exception:
            return False

    db_ok, temporal_ok = await asyncio.gather(database(), temporal())
    return ServiceHealth(status="ok" if db_ok and temporal_ok else "degraded", temporal=temporal_ok, database=db_ok)
