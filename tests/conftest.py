"""The real stack, started once per test session: PostgreSQL (pgserver), the Temporal dev
server, the worker and the API served by uvicorn on a loopback port.  Nothing is mocked."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from itinera_cli import forwarded_header_options
from demo.driver import CaseDriver
from demo.users import seed_demo_users
from embedded.postgres import EmbeddedPostgres, application_url
from embedded.temporal_server import EmbeddedTemporal, venv_executable
from settings import Settings
from store.db import create_pool
from store.migrations import apply_migrations
from temporal_client import connect_temporal, data_converter
from worker import build_worker


# Fixed, test-only payload keys: recorded histories (tests/histories/) are encrypted with
# them, so the replay test can decrypt them.  "old" is kept to decrypt, "test-2" encrypts.
TEST_PAYLOAD_KEYS = json.dumps({"old": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
                                "test-2": "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="})


def stack_settings(**values: Any) -> Settings:
    """Settings for a test stack: test keys, nothing read from the environment's data dir."""
    return Settings(payload_keys=TEST_PAYLOAD_KEYS, payload_active_key="test-2",
                    jwt_signing_key="test-signing-key-" + "x" * 32, **values)


def data_folder() -> Path:
    """A fresh folder for an embedded stack, outside pytest's tmp root.

    pgserver runs PostgreSQL as an unprivileged user when started as root and opens the
    folder's parents to it; pytest re-closes its own tmp root (mode 0700) whenever another
    pytest run starts, which would lock that user out mid-session.
    """
    return Path(tempfile.mkdtemp(prefix="itinera-test-"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    settings: Settings
    base_url: str
    database_url: str
    pool: asyncpg.Pool
    temporal: Client
    data_dir: Path


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
        await seed_demo_users(conn)
        await conn.close()

        pool = await create_pool(database_url)
        worker_pool = await create_pool(settings.database_url)
        client = await connect_temporal(settings)
        worker = build_worker(client, worker_pool, settings.temporal_task_queue)
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=settings.api_port,
                                               log_level="warning", access_log=False,
                                               **forwarded_header_options(settings)))
        async with worker:
            serving = asyncio.create_task(server.serve())
            while not server.started:
                await asyncio.sleep(0.05)
            try:
                yield Stack(settings, f"http://127.0.0.1:{settings.api_port}", database_url, pool, client, data_dir)
            finally:
                server.should_exit = True
                await serving
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
