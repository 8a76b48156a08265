"""The real stack, started once per test session: PostgreSQL (pgserver), the Temporal dev
server, the worker and the API served by uvicorn on a loopback port.  Nothing is mocked."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from embedded.postgres import EmbeddedPostgres, application_url
from embedded.temporal_server import EmbeddedTemporal, venv_executable
from itinera_cli import forwarded_header_options
from store.db import create_pool
from store.migrations import apply_migrations
from temporal_client import connect_temporal, data_converter, ensure_search_attributes
from tests.support.driver import CaseDriver
from tests.support.stack import Stack, data_folder, free_port, serving, stack_settings
from tests.support.users import seed_test_users
from worker import build_worker


@pytest.fixture(scope="session")
async def stack() -> AsyncIterator[Stack]:
    data_dir = data_folder()
    postgres = EmbeddedPostgres(data_dir / "pg")
    temporal = EmbeddedTemporal(data_dir / "temporal", port=free_port(), ui_port=None)
    database_url = postgres.start()  # the owner: migrations, and test set-up that reaches around the API
    try:
        address = await temporal.start()
        settings = stack_settings(  # the API and the worker run as the application role, as in production
            data_dir=data_dir, database_url=application_url(database_url), temporal_address=address,
            api_port=free_port(),
            temporal_task_queue=f"itinera-test-{uuid.uuid4().hex[:8]}",
        )
        conn = await asyncpg.connect(database_url)
        await apply_migrations(conn)
        await seed_test_users(conn)
        await conn.close()

        pool = await create_pool(database_url)
        worker_pool = await create_pool(settings.database_url)
        client = await connect_temporal(settings)
        async with build_worker(client, worker_pool, settings.temporal_task_queue), \
                serving(create_app(settings), settings.api_port, **forwarded_header_options(settings)):
            yield Stack(settings, f"http://127.0.0.1:{settings.api_port}", database_url, pool, client, data_dir)
        await pool.close()
        await worker_pool.close()
    finally:
        temporal.stop()
        postgres.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
async def clock(stack: Stack) -> AsyncIterator[tuple[WorkflowEnvironment, str]]:
    """Temporal's time-skipping test server with the real worker (and the session's
    PostgreSQL): durable timers of months fire in moments."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(stack.settings), test_server_existing_path=venv_executable("temporal-test-server"))
    await ensure_search_attributes(env.client)  # the test server starts without them
    task_queue = f"clocks-{uuid.uuid4().hex[:8]}"
    async with env, build_worker(env.client, stack.pool, task_queue):
        yield env, task_queue


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as client:
        yield client


@pytest.fixture
async def driver(http: httpx.AsyncClient) -> CaseDriver:
    return CaseDriver(http)


@pytest.fixture(scope="module")
async def oidc_issuer() -> AsyncIterator[tuple[str, rsa.RSAPrivateKey]]:
    """A tiny OIDC issuer on loopback that serves its JWKS: its URL and its signing key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())) | {"kid": "k1", "use": "sig", "alg": "RS256"}
    issuer = FastAPI()

    @issuer.get("/jwks.json")
    async def jwks() -> dict:
        return {"keys": [jwk]}

    port = free_port()
    async with serving(issuer, port):
        yield f"http://127.0.0.1:{port}", key
