"""``itinera worker`` and ``itinera api`` as their own processes, as an operator starts them,
against the session's PostgreSQL and Temporal (on a task queue of their own), with what
they print kept in files."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.support.cli import PROJECT
from tests.support.forms import example_form
from tests.support.stack import TEST_EXIT_PERMISSIONS, TEST_PAYLOAD_KEYS
from tests.support.users import TEST_PASSWORD, worker_for
from tests.support.waiting import eventually


def itinera_env(stack, task_queue: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ITINERA_", "OTEL_"))}
    return env | {
        "ITINERA_DATABASE_URL": stack.settings.database_url,
        "ITINERA_TEMPORAL_ADDRESS": stack.settings.temporal_address,
        "ITINERA_TEMPORAL_TASK_QUEUE": task_queue,
        "ITINERA_DATA_DIR": str(stack.data_dir),
        "ITINERA_JWT_SIGNING_KEY": stack.settings.jwt_signing_key.get_secret_value(),
        "ITINERA_PAYLOAD_KEYS": TEST_PAYLOAD_KEYS,
        "ITINERA_PAYLOAD_ACTIVE_KEY": "test-2",
        "ITINERA_EXIT_PERMISSIONS": json.dumps(TEST_EXIT_PERMISSIONS),
        "ITINERA_LOG_LEVEL": "INFO",
    } | {f"ITINERA_{k.upper()}": v for k, v in settings.items()}


@dataclass
class Process:
    """``itinera <command>`` with its standard output and standard error in files of their own."""

    command: str
    popen: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    @classmethod
    def start(cls, command: str, env: dict[str, str], folder: Path) -> Process:
        stdout, stderr = folder / f"{command}-{uuid.uuid4().hex[:6]}.out", folder / f"{command}-{uuid.uuid4().hex[:6]}.err"
        with open(stdout, "wb") as out, open(stderr, "wb") as err:
            popen = subprocess.Popen([sys.executable, "-m", "itinera_cli", command], env=env, cwd=PROJECT,
                                     stdout=out, stderr=err, start_new_session=True)
        return cls(command, popen, stdout, stderr)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM, and wait for the process to exit; its exit code."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
            raise AssertionError(f"itinera {self.command} did not stop within {timeout} s of SIGTERM") from None

    def kill(self) -> None:
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def text(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")

    def lines(self) -> list[dict[str, Any]]:
        """Every line it printed on standard output, each parsed as JSON (fails on any other line)."""
        lines = []
        for number, line in enumerate(self.stdout.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                lines.append(json.loads(line))
            except ValueError:
                raise AssertionError(f"itinera {self.command}, line {number} is not JSON: {line[:300]}") from None
        return lines

    async def wait_for_line(self, event: str, timeout: float = 60) -> dict[str, Any]:
        """The first line it logged with this ``event``, once it has logged one."""
        found: list[dict[str, Any]] = []

        def logged() -> bool:
            found[:] = [line for line in self.lines() if line.get("event") == event]
            assert found or self.alive(), f"itinera {self.command} exited: {self.text()[-2000:]}"
            return bool(found)

        await eventually(logged, timeout=timeout, what=f"itinera {self.command} to log {event!r}", interval=0.1)
        return found[0]


async def wait_for_api(base_url: str, process: Process, timeout: float = 60) -> None:
    """Until ``itinera api`` answers /livez (fails at once if it exits)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:

        async def answers() -> bool:
            assert process.alive(), f"itinera api exited: {process.text()[-2000:]}"
            try:
                return (await client.get("/livez")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(answers, timeout=timeout, what=f"itinera api to answer on {base_url}", interval=0.1)


async def token(client: httpx.AsyncClient, username: str) -> str:
    r = await client.post("/api/v1/auth/token", data={"username": username, "password": TEST_PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


async def complete_first_task(client: httpx.AsyncClient, case: dict[str, Any], tokens: dict[str, str],
                              **headers: str) -> httpx.Response:
    task = case["open_tasks"][0]
    user = worker_for(task, case["office"])
    if user not in tokens:
        tokens[user] = await token(client, user)
    form = example_form(task, datetime.now(UTC).date(), case=case)
    return await client.post(f"/api/v1/tasks/{task['task_id']}/complete", json={"form": form},
                             headers={"Authorization": f"Bearer {tokens[user]}", **headers})


async def start_dev(data_dir: Path, api_port: int, *, seed_demo: bool) -> tuple[asyncio.subprocess.Process, Path]:
    """``itinera dev`` on ``data_dir`` and free ports, as a user runs it (its own session, its
    output in ``data_dir/dev.log``): the process and the log's path."""
    from tests.support.stack import free_port

    env = {**os.environ, "ITINERA_DATA_DIR": str(data_dir), "ITINERA_API_PORT": str(api_port),
           "ITINERA_TEMPORAL_PORT": str(free_port()), "ITINERA_TEMPORAL_UI_PORT": str(free_port()),
           "ITINERA_SEED_DEMO": "true" if seed_demo else "false", "ITINERA_PAYLOAD_KEYS": TEST_PAYLOAD_KEYS,
           "ITINERA_PAYLOAD_ACTIVE_KEY": "test-2"}
    env.pop("ITINERA_DATABASE_URL", None)
    env.pop("ITINERA_TEMPORAL_ADDRESS", None)
    log_path = data_dir / "dev.log"
    with open(log_path, "wb") as log:
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", "itinera_cli", "dev", env=env, cwd=PROJECT,
                                                       stdout=log, stderr=log, start_new_session=True)
    return process, log_path
