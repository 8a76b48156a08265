"""``itinera dev``: the whole system on one machine, data in one folder, Ctrl-C stops it all.

Order of start: PostgreSQL, Temporal, migrations, demo accounts, worker and API (each its
own process, so each can use a core), then demo cases through the API.  A worker or API
that crashes is started again with a back-off (``Supervised``); the others keep running.
The embedded PostgreSQL and Temporal are looked after the same way (``SupervisedServer``).
Order of stop is the reverse, and every child is waited for, so nothing is left running.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import asyncpg
import httpx

from api.auth import signing_key
from api.case_ids import case_id_key
from payload_encryption import load_keys
from demo.cases import seed_demo_cases
from demo.users import DEMO_PASSWORD, DEMO_USERS, seed_demo_users
from embedded.postgres import EmbeddedPostgres, application_url, database_folder
from embedded.temporal_server import EmbeddedTemporal
from settings import Settings
from store.migrations import apply_migrations


def _spawn(command: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "itinera_cli", command], env=env, start_new_session=True)


def _stop(process: subprocess.Popen[bytes] | None, timeout: float = 15.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Supervised:
    """A child process (worker or API) that is started again when it dies.

    A crash is reported with its exit code and the child restarted after a back-off that
    doubles with each crash in a row (1 s up to 30 s), so a child that cannot start does
    not spin; a child that ran for a minute is healthy again and the back-off resets.
    Ctrl-C still stops everything: the loop that calls ``look_after`` ends first."""

    MIN_BACKOFF, MAX_BACKOFF, HEALTHY_AFTER = 1.0, 30.0, 60.0

    def __init__(self, process: subprocess.Popen[bytes], env: dict[str, str]):
        self.process: subprocess.Popen[bytes] | None = process
        self.command = str(process.args[-1])  # type: ignore[index]
        self.env = env
        self.started = time.monotonic()
        self.backoff = self.MIN_BACKOFF
        self.restart_at: float | None = None

    def look_after(self) -> None:
        now = time.monotonic()
        if self.process is not None and self.process.poll() is not None:
            if now - self.started > self.HEALTHY_AFTER:
                self.backoff = self.MIN_BACKOFF
            print(f"itinera: the {self.command} exited with code {self.process.returncode}; "
                  f"restarting it in {self.backoff:.0f} s", flush=True)
            self.process, self.restart_at = None, now + self.backoff
            self.backoff = min(self.backoff * 2, self.MAX_BACKOFF)
        if self.process is None and self.restart_at is not None and now >= self.restart_at:
            self.process, self.restart_at, self.started = _spawn(self.command, self.env), None, now
            print(f"itinera: the {self.command} is starting again (pid {self.process.pid})", flush=True)


class SupervisedServer:
    """The embedded Temporal or PostgreSQL, started again when it dies.

    Workers and the API outlive an outage of either (they retry, answer 503 meanwhile), but
    nobody else brings the server back on a developer's machine: before this, a Temporal
    killed under ``itinera dev`` left the banner saying "running" and every command 503
    until the whole stack was restarted.  Same data (Temporal's SQLite file, PostgreSQL's
    folder) and port, so nothing accepted is lost; the same back-off as ``Supervised``."""

    MIN_BACKOFF, MAX_BACKOFF, HEALTHY_AFTER = 1.0, 30.0, 60.0

    def __init__(self, name: str, alive: Callable[[], bool], start: Callable[[], Awaitable[object]]):
        self.name, self._alive, self._start = name, alive, start
        self.started = time.monotonic()
        self.backoff = self.MIN_BACKOFF
        self.restart_at: float | None = None

    async def look_after(self) -> None:
        now = time.monotonic()
        if self.restart_at is None:
            if self._alive():
                return
            if now - self.started > self.HEALTHY_AFTER:
                self.backoff = self.MIN_BACKOFF
            print(f"itinera: {self.name} stopped; starting it again in {self.backoff:.0f} s", flush=True)
            self.restart_at = now + self.backoff
            self.backoff = min(self.backoff * 2, self.MAX_BACKOFF)
        if now < self.restart_at:
            return
        try:
            await self._start()
        except Exception as exc:  # noqa: BLE001 (a failed start is retried after the back-off)
            print(f"itinera: {self.name} did not start again ({exc}); trying again in {self.backoff:.0f} s",
                  flush=True)
            self.restart_at = time.monotonic() + self.backoff
            self.backoff = min(self.backoff * 2, self.MAX_BACKOFF)
            return
        self.restart_at, self.started = None, time.monotonic()
        print(f"itinera: {self.name} is running again", flush=True)


def _servers(postgres: EmbeddedPostgres | None, temporal: EmbeddedTemporal | None) -> list[SupervisedServer]:
    servers = []
    if postgres is not None:
        async def start_postgres() -> None:
            await asyncio.to_thread(postgres.restart)
        servers.append(SupervisedServer("PostgreSQL", postgres.running, start_postgres))
    if temporal is not None:
        servers.append(SupervisedServer(
            "the Temporal dev server", lambda: temporal.process is not None and temporal.process.poll() is None,
            temporal.start))
    return servers


async def _wait_for_api(base_url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient(base_url=base_url) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the API exited with code {process.returncode}")
            try:
                if (await client.get("/openapi.json")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"the API did not answer on {base_url} in {timeout:.0f}s")
            await asyncio.sleep(0.3)


async def run_dev(settings: Settings) -> None:
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    postgres = EmbeddedPostgres(database_folder(data_dir)) if settings.embedded_database else None
    codec_endpoint = f"http://{settings.api_host}:{settings.api_port}/codec"
    temporal = (EmbeddedTemporal(data_dir / "temporal", port=settings.temporal_port, ui_port=settings.temporal_ui_port,
                                 namespace=settings.temporal_namespace,
                                 extra_args=["--ui-codec-endpoint", codec_endpoint])
                if settings.embedded_temporal else None)
    children: list[subprocess.Popen[bytes]] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        print("itinera: starting PostgreSQL ..." if postgres else "itinera: using ITINERA_DATABASE_URL", flush=True)
        # Migrations as the schema owner; the worker and the API as the application role,
        # which owns nothing (migrations/0030_application_role.sql).
        owner_url = postgres.start() if postgres else (settings.migrations_database_url or settings.database_url)
        database_url = application_url(owner_url) if postgres else settings.database_url
        print("itinera: starting Temporal dev server ..." if temporal else "itinera: using ITINERA_TEMPORAL_ADDRESS",
              flush=True)
        temporal_address = await temporal.start() if temporal else settings.temporal_address

        conn = await asyncpg.connect(owner_url)
        try:
            applied = await apply_migrations(conn)
            seeded_users = settings.seed_demo and await seed_demo_users(conn)
            has_cases = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM cases)")
        finally:
            await conn.close()
        if applied:
            print(f"itinera: applied migrations {', '.join(applied)}", flush=True)

        signing_key(settings)  # create the token, case-id and payload keys once, before processes race for them
        case_id_key(settings)
        load_keys(settings)
        env = {**os.environ, "ITINERA_DATA_DIR": str(data_dir), "ITINERA_DATABASE_URL": database_url,
               "ITINERA_TEMPORAL_ADDRESS": temporal_address}
        # A person reads `itinera dev` at a terminal: readable lines unless JSON was asked for.
        env.setdefault("ITINERA_LOG_FORMAT", "console")
        # One machine: webhooks may be tried against a receiver on it (webhook_targets.py).
        env.setdefault("ITINERA_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
        children.append(_spawn("worker", env))
        children.append(_spawn("api", env))
        base_url = f"http://{settings.api_host}:{settings.api_port}"
        await _wait_for_api(base_url, children[-1])

        if settings.seed_demo and not has_cases:
            print("itinera: seeding demo cases through the API ...", flush=True)
            async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
                count = await seed_demo_cases(client)
            print(f"itinera: {count} demo cases ready", flush=True)

        _print_banner(settings, base_url, bool(seeded_users) or settings.seed_demo)
        supervisors = [Supervised(child, env) for child in children]
        servers = _servers(postgres, temporal)
        while not stop.is_set():
            for server in servers:
                await server.look_after()
            for supervisor in supervisors:
                supervisor.look_after()
            children[:] = [s.process for s in supervisors if s.process is not None]
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            except TimeoutError:
                pass
        print("\nitinera: stopping ...", flush=True)
    finally:
        for child in reversed(children):
            _stop(child)
        if temporal:
            temporal.stop()
        if postgres:
            postgres.stop()
        print("itinera: stopped", flush=True)


def _print_banner(settings: Settings, base_url: str, demo: bool) -> None:
    lines = [
        "",
        "Itinera is running.  Ctrl-C stops everything.",
        f"  API            {base_url}/api/v1",
        f"  API docs       {base_url}/docs",
    ]
    if settings.embedded_temporal:
        lines.append(f"  Temporal UI    http://127.0.0.1:{settings.temporal_ui_port}")
    lines.append(f"  data folder    {settings.data_dir.resolve()}")
    if demo:
        lines.append(f"  demo users     password '{DEMO_PASSWORD}':")
        lines += [f"                 {u:<8} {name}" for u, name, _, _ in DEMO_USERS]
    print("\n".join(lines) + "\n", flush=True)
