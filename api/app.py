"""The FastAPI application: routes, error format, and the connections it lives on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import Depends, FastAPI

from api import ui
from api.auth import LoginThrottle, TokenService
from api.case_ids import case_id_key
from api.commands import CaseCommands
from api.errors import install_error_handlers
from api.inbox_delivery import InboxDelivery
from api.audit import install_audit
from api.limits import BodySizeLimit
from api.outages import install_outage_handlers
from api import openapi_bodies
from api.query_guard import known_query_parameters
from store.destination_profiles import DestinationServicesSource
from api.request_context import RequestContext
from api.routes import movements
from api.routes import orientation_sessions
from api.routes import reports as report_routes
from api.routes import destination_profiles, operations, workflow_history
from api.routes import admin, audit, auth, case_actions, cases, codec, health, imports, integrations, tasks, webhooks
from observability.asgi import install as install_observability
from settings import Settings, get_settings
from store.db import create_pool
from temporal_client import connect_temporal

DESCRIPTION = """
Itinera runs every refugee resettlement and AVRR case as a durable Temporal workflow.

* **Commands** (refer a case, complete a task) go to the case's workflow as Temporal Updates;
  a refused command changes nothing and answers 404 / 409 / 422 with a machine-readable code.
* **Reads** come from the PostgreSQL read model, which is written before a command answers:
  what you just did is what you read next.
* Authenticate with `POST /api/v1/auth/token` (OAuth2 password form), then send
  `Authorization: Bearer <token>`.
"""


def temporal_ui_origins(settings: Settings) -> list[str]:
    if settings.temporal_ui_origin:
        return [settings.temporal_ui_origin]
    return [f"http://127.0.0.1:{settings.temporal_ui_port}", f"http://localhost:{settings.temporal_ui_port}"]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.tokens = TokenService(settings)
        app.state.login_throttle = LoginThrottle.from_settings(settings)  # counts in PostgreSQL, across processes
        app.state.pool = await create_pool(settings.database_url, min_size=settings.database_pool_min,
                                           max_size=settings.database_pool_max)
        # The audit middleware writes after the route has answered, while the route's own
        # connection may still be held: a pool of its own, so the two never wait on each other.
        app.state.audit_pool = await create_pool(settings.database_url, min_size=1, max_size=4)
        # A referral's destination profile is read while the route holds its own connection of
        # the main pool: a pool of its own, or concurrent referrals could wait on each other.
        app.state.profiles_pool = await create_pool(settings.database_url, min_size=1, max_size=2)
        app.state.temporal = await connect_temporal(settings)
        app.state.codec = app.state.temporal.data_converter.payload_codec
        app.state.commands = CaseCommands(app.state.temporal, settings.temporal_task_queue,
                                          timeout=timedelta(seconds=settings.command_timeout_seconds),
                                          case_id_key=case_id_key(settings),
                                          arrival_confirmation_days=settings.arrival_confirmation_days,
                                          avrr_monitoring_months=settings.avrr_monitoring_months,
                                          office_time_zones=settings.office_time_zones,
                                          default_time_zone=settings.default_time_zone,
                                          exit_permissions=settings.exit_permissions,
                                          office_countries=settings.office_countries,
                                          nothing_created_grace_seconds=settings.nothing_created_grace_seconds,
                                          services_for=DestinationServicesSource(app.state.profiles_pool))
        # The integration inbox's delivery loop (api/inbox_delivery.py: why it runs here).
        app.state.inbox = InboxDelivery(app.state.pool, app.state.commands, settings)
        app.state.inbox.start()
        try:
            yield
        finally:
            await app.state.inbox.stop()
            await app.state.pool.close()
            await app.state.audit_pool.close()
            await app.state.profiles_pool.close()

    app = FastAPI(title="Itinera", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url="/docs", openapi_url="/openapi.json")
    install_error_handlers(app)
    install_outage_handlers(app)
    strict_query = [Depends(known_query_parameters)]  # an unknown or repeated query parameter is a 422
    for module in (auth, cases, case_actions, tasks, health, codec, audit, integrations, imports, webhooks, admin):
        app.include_router(module.router, dependencies=strict_query)
    app.include_router(movements.router, dependencies=strict_query)  # group movements (issue 13)
    app.include_router(orientation_sessions.router, dependencies=strict_query)  # orientation as group sessions (issue 15)
    app.include_router(report_routes.router, dependencies=strict_query)  # figures for supervisors (issue 16)
    app.include_router(workflow_history.router, dependencies=strict_query)  # the raw Temporal history of a case (issue 16)
    app.include_router(operations.router, dependencies=strict_query)  # cases whose workflow is in trouble (issue 16)
    app.include_router(destination_profiles.router, dependencies=strict_query)  # the services each destination asks for
    app.include_router(health.probes)
    openapi_bodies.install(app)  # bodies a route reads itself, documented as their model
    app.add_middleware(codec.CodecCors, origins=temporal_ui_origins(settings))  # only the Temporal Web UI, only /codec
    ui.install(app)  # the caseworker web UI under /ui, and / -> /ui
    install_audit(app)
    app.add_middleware(BodySizeLimit)
    install_observability(app, settings)  # request id, log context, metrics, span; /metrics when enabled
    app.add_middleware(RequestContext)  # outermost: every layer below sees the request's scope
    return app
