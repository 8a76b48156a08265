"""Is the service and what it depends on answering?

``/livez`` and ``/readyz`` are for process managers and load balancers: unauthenticated,
and they reveal nothing but which dependency is down.  ``/livez`` says the process serves
HTTP at all (restart it if not); ``/readyz`` says it can do its work now (Temporal and
PostgreSQL answer; send it no traffic if not, 503).  The authenticated
``/api/v1/health`` keeps the detail for signed-in users.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.auth import CurrentPrincipal
from api.errors import ERROR_RESPONSES
from api.schemas import ServiceHealth

router = APIRouter(prefix="/api/v1", tags=["health"])
probes = APIRouter(tags=["health"])


class Liveness(BaseModel):
    status: str = Field(description="Always 'ok' when the process answers.", examples=["ok"])


class Readiness(BaseModel):
    status: str = Field(description="'ready', or 'not_ready' with the 503 answer.", examples=["ready"])
    temporal: bool = Field(description="The Temporal frontend answers its health check.")
    database: bool = Field(description="PostgreSQL answers a query (through a connection of the probe's own when "
                                       "every pooled one is busy: a busy pool is not a database outage).")
    down: list[str] = Field(description="The dependencies that do not answer: 'temporal', 'database'.")


async def _database_ok(request: Request) -> bool:
    """PostgreSQL answers: through a pooled connection when one is free at once, else through
    a short-lived connection of the probe's own.  A pool whose connections are all busy (every
    request waiting on a slow engine) is not a database outage: reporting it as one would make a
    load balancer pull every replica while PostgreSQL is fine (explore3, finding 3)."""
    try:
        async with request.app.state.pool.acquire(timeout=0.2) as conn:
            return await asyncio.wait_for(conn.fetchval("SELECT 1"), 2) == 1
    except TimeoutError:
        pass  # the pool is busy (or the query slow): ask PostgreSQL itself
    except Exception:  # any failure means "not answering": this is the probe's whole job
        return False
    try:
        conn = await asyncpg.connect(request.app.state.settings.database_url, timeout=2)
    except Exception:  # idem
        return False
    try:
        return await asyncio.wait_for(conn.fetchval("SELECT 1"), 2) == 1
    except Exception:  # idem
        return False
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.close(), 2)


async def _temporal_ok(request: Request) -> bool:
    try:
        return await asyncio.wait_for(request.app.state.temporal.service_client.check_health(), timeout=2)
    except Exception:  # idem
        return False


@probes.get("/livez", response_model=Liveness, summary="Liveness probe (unauthenticated): the process answers")
async def livez() -> Liveness:
    return Liveness(status="ok")


@probes.get("/readyz", response_model=Readiness, summary="Readiness probe (unauthenticated): Temporal and "
            "PostgreSQL answer", responses={503: {"model": Readiness, "description": "A dependency is down."}})
async def readyz(request: Request) -> Readiness | JSONResponse:
    db_ok, temporal_ok = await asyncio.gather(_database_ok(request), _temporal_ok(request))
    down = [name for name, ok in (("temporal", temporal_ok), ("database", db_ok)) if not ok]
    ready = Readiness(status="not_ready" if down else "ready", temporal=temporal_ok, database=db_ok, down=down)
    if down:
        return JSONResponse(ready.model_dump(), status_code=503, headers={"Retry-After": "5"})
    return ready


@router.get("/health", response_model=ServiceHealth, summary="Liveness, and whether Temporal and PostgreSQL answer",
            responses={401: ERROR_RESPONSES[401]})
async def health(request: Request, _: CurrentPrincipal) -> ServiceHealth:
    db_ok, temporal_ok = await asyncio.gather(_database_ok(request), _temporal_ok(request))
    return ServiceHealth(status="ok" if db_ok and temporal_ok else "degraded", temporal=temporal_ok, database=db_ok)
