"""Building blocks of a test stack: its settings and keys, fresh folders and ports, and an
app served by uvicorn in the test's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import uvicorn
from temporalio.client import Client

from settings import Settings
from tests.support.waiting import eventually

# Fixed, test-only payload keys: recorded histories (tests/histories/) are encrypted with
# them, so the replay test can decrypt them.  "old" is kept to decrypt, "test-2" encrypts.
TEST_PAYLOAD_KEYS = json.dumps({"old": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
                                "test-2": "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="})
TEST_SIGNING_KEY = "test-signing-key-" + "x" * 32


TEST_EXIT_PERMISSIONS = {"IZM": "DGMM exit permission"}
"""The host state's exit permission in the test stacks (domain/offices.py: IST and IZM by
default): required in IZM only, so the tests that walk IST resettlement cases through the
movement stage stay about what they test; tests/test_exit_permission.py works both offices."""


def stack_settings(**values: Any) -> Settings:
    """Settings for a test stack: test keys, nothing read from the environment's data dir."""
    values.setdefault("webhook_allowed_networks", ["127.0.0.0/8", "::1/128"])  # the tests' webhook receivers
    values.setdefault("exit_permissions", TEST_EXIT_PERMISSIONS)
    return Settings(payload_keys=TEST_PAYLOAD_KEYS, payload_active_key="test-2", jwt_signing_key=TEST_SIGNING_KEY,
                    **values)


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
    """The session's stack (tests/conftest.py): ``database_url`` is the schema owner's,
    ``settings.database_url`` the application role's (what the API and the worker use)."""

    settings: Settings
    base_url: str
    database_url: str
    pool: asyncpg.Pool
    temporal: Client
    data_dir: Path


@contextlib.asynccontextmanager
async def serving(app: Any, port: int, *, timeout: float = 30, **config: Any) -> AsyncIterator[uvicorn.Server]:
    """Serve ``app`` with uvicorn on 127.0.0.1:``port`` in this event loop until the block ends
    (then let it answer what is in flight and stop)."""
    server = uvicorn.Server(uvicorn.Config(app, **{"host": "127.0.0.1", "port": port, "log_level": "warning",
                                                   "access_log": False, **config}))
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started or task.done(), timeout=timeout, what=f"uvicorn to serve on {port}")
        if not server.started:
            raise AssertionError(f"uvicorn stopped before serving on {port}: {task.exception()!r}")
        yield server
    finally:
        server.should_exit = True
        await task
