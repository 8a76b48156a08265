"""A whole Itinera deployment as real processes on loopback, for fault-injection tests.

PostgreSQL (pgserver) and the Temporal dev server keep their data in a temporary folder;
the worker(s) and the API run as their own processes (``itinera worker`` / ``itinera api``),
exactly as in production, so a test can SIGKILL any of them, stop PostgreSQL or Temporal,
and start them again on the same data.

``ResilientClient`` is the client every real integration should be: it sends the same
request again after a 503, a dropped connection or a time-out, until a bounded deadline,
and records every answer so a test can assert that an outage was never a 500 or a hang.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx

from domain.offices import local_date, office_time_zone
from embedded.postgres import EmbeddedPostgres, application_url
from embedded.temporal_server import EmbeddedTemporal
from store.migrations import apply_migrations
from tests.support.cli import PROJECT
from tests.support.forms import example_form
from tests.support.stack import TEST_EXIT_PERMISSIONS, TEST_PAYLOAD_KEYS, data_folder, free_port
from tests.support.users import TEST_PASSWORD, seed_test_users, worker_for


class ProcessStack:
    """PostgreSQL, Temporal, worker(s) and API as separate processes that tests may kill."""

    def __init__(self) -> None:
        self.data_dir = data_folder()
        self.postgres = EmbeddedPostgres(self.data_dir / "pg")
        self.temporal = EmbeddedTemporal(self.data_dir / "temporal", port=free_port(), ui_port=None)
        self.api_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.api_port}"
        self.database_url = ""
        self.workers: list[subprocess.Popen[bytes]] = []
        self.api: subprocess.Popen[bytes] | None = None
        self.task_queue = f"faults-{os.getpid()}"

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self.database_url = self.postgres.start()
        await self.temporal.start()
        conn = await asyncpg.connect(self.database_url)
        try:
            await apply_migrations(conn)
            await seed_test_users(conn)
        finally:
            await conn.close()
        self.start_worker()
        await self.start_api()

    def stop(self) -> None:
        for process in [*self.workers, self.api]:
            _kill(process, signal.SIGTERM)
        self.workers, self.api = [], None
        self.temporal.stop()
        self.postgres.stop()

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "ITINERA_DATA_DIR": str(self.data_dir),
            "ITINERA_DATABASE_URL": application_url(self.database_url),
            "ITINERA_TEMPORAL_ADDRESS": self.temporal.address,
            "ITINERA_TEMPORAL_TASK_QUEUE": self.task_queue,
            "ITINERA_PAYLOAD_KEYS": TEST_PAYLOAD_KEYS,
            "ITINERA_PAYLOAD_ACTIVE_KEY": "test-2",
            "ITINERA_EXIT_PERMISSIONS": json.dumps(TEST_EXIT_PERMISSIONS),
            "ITINERA_JWT_SIGNING_KEY": "fault-test-signing-key-" + "x" * 32,
            "ITINERA_API_PORT": str(self.api_port),
            "ITINERA_COMMAND_TIMEOUT_SECONDS": "8",
            "ITINERA_LOG_LEVEL": "WARNING",
        }

    def _spawn(self, command: str) -> subprocess.Popen[bytes]:
        log = open(self.data_dir / f"{command}.log", "ab")
        try:
            return subprocess.Popen([sys.executable, "-m", "itinera_cli", command], env=self.env(), cwd=PROJECT,
                                    stdout=log, stderr=log, start_new_session=True)
        finally:
            log.close()

    def start_worker(self) -> subprocess.Popen[bytes]:
        worker = self._spawn("worker")
        self.workers.append(worker)
        return worker

    def kill_worker(self, index: int = 0) -> None:
        _kill(self.workers.pop(index), signal.SIGKILL)

    async def start_api(self) -> None:
        self.api = self._spawn("api")
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=self.base_url) as client:
            while True:
                if self.api.poll() is not None:
                    raise RuntimeError(f"the API exited: {(self.data_dir / 'api.log').read_text()[-2000:]}")
                try:
                    if (await client.get("/openapi.json")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the API did not start")
                await asyncio.sleep(0.2)

    def kill_api(self) -> None:
        _kill(self.api, signal.SIGKILL)
        self.api = None

    async def diagnose(self, *workflow_ids: str) -> str:
        """What a test that timed out waiting on these workflows should say: each one's status,
        pending activities (attempt, last failure) and pending workflow task, and the tail of
        the worker's log (a flake is then explained in CI's output)."""
        from temporalio.client import Client

        lines: list[str] = []
        client = await Client.connect(self.temporal.address)
        for workflow_id in workflow_ids:
            try:
                described = await client.get_workflow_handle(workflow_id).describe()
            except Exception as exc:  # noqa: BLE001 - diagnostics must not hide the failure they explain
                lines.append(f"{workflow_id}: not described ({exc!r})")
                continue
            raw = described.raw_description
            lines.append(f"{workflow_id}: {described.status.name if described.status else '?'}, "
                         f"{described.history_length} events")
            for a in raw.pending_activities:
                failure = a.last_failure.message if a.HasField("last_failure") else ""
                lines.append(f"  pending {a.activity_type.name}: state {a.state}, attempt {a.attempt}, "
                             f"last failure {failure!r}, worker {a.last_worker_identity!r}")
            if raw.HasField("pending_workflow_task"):
                lines.append(f"  pending workflow task: attempt {raw.pending_workflow_task.attempt}")
        lines.append("worker.log (tail):\n" + self.log("worker")[-3000:])
        return "\n".join(lines)

    def log(self, name: str) -> str:
        path = self.data_dir / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def _kill(process: subprocess.Popen[bytes] | None, sig: signal.Signals) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# --- a client that retries the way integrations must -----------------------------------------

RETRIED = {502, 503, 504}


@dataclass
class Answer:
    method: str
    path: str
    status: int  # 0: no answer (connection refused or dropped, or the client's time-out)
    seconds: float
    retry_after: str | None = None
    body: Any = None


@dataclass
class ResilientClient:
    """Sends a request again, unchanged, after a 503 / dropped connection / time-out."""

    base_url: str
    deadline_seconds: float = 240.0
    request_timeout: float = 30.0
    answers: list[Answer] = field(default_factory=list)
    _tokens: dict[str, str] = field(default_factory=dict)

    async def send(self, method: str, path: str, *, user: str | None = None, headers: dict[str, str] | None = None,
                   **kwargs: Any) -> httpx.Response:
        give_up = time.monotonic() + self.deadline_seconds
        extra = headers or {}
        async with httpx.AsyncClient(base_url=self.base_url, timeout=self.request_timeout) as client:
            while True:
                headers = {**extra, **({"Authorization": f"Bearer {await self._token(client, user)}"} if user else {})}
                started = time.monotonic()
                try:
                    response = await client.request(method, path, headers=headers, **kwargs)
                except httpx.TransportError:
                    self.answers.append(Answer(method, path, 0, time.monotonic() - started))
                else:
                    body = _json(response)
                    self.answers.append(Answer(method, path, response.status_code, time.monotonic() - started,
                                               response.headers.get("retry-after"), body))
                    if response.status_code not in RETRIED:
                        return response
                if time.monotonic() > give_up:
                    raise TimeoutError(f"{method} {path}: no answer but outages for {self.deadline_seconds} s")
                await asyncio.sleep(0.5)

    async def _token(self, client: httpx.AsyncClient, user: str) -> str:
        give_up = time.monotonic() + self.deadline_seconds
        while user not in self._tokens:
            try:
                r = await client.post("/api/v1/auth/token", data={"username": user, "password": TEST_PASSWORD})
            except httpx.TransportError:
                r = None
            if r is not None and r.status_code == 200:
                self._tokens[user] = r.json()["access_token"]
            elif time.monotonic() > give_up:
                raise TimeoutError(f"no token for {user} for {self.deadline_seconds} s: "
                                   f"{r.status_code if r is not None else 'no answer'}")
            else:
                await asyncio.sleep(0.5)
        return self._tokens[user]

    def server_errors(self) -> list[Answer]:
        """Answers that an outage must never give: 500s, and 503s without Retry-After or JSON error."""
        return [a for a in self.answers
                if a.status >= 500 and not (a.status == 503 and a.retry_after and isinstance(a.body, dict)
                                            and "error" in a.body)]


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:200]


async def work_case_to_the_end(client: ResilientClient, referral: dict[str, Any],
                               pause: float = 0.0) -> dict[str, Any]:
    """Refer a case and complete its tasks until it closes, through any outage.

    Every completion is sent again unchanged until it is answered, and the answer is 200:
    a retry of a completion an earlier try applied gets that try's outcome, not 409 (the
    README's retry advice, explore3 finding 1).  Forms are fixed per task, so a retry is the
    same request and is applied at most once."""
    office = referral["office"]
    response = await client.send("POST", "/api/v1/cases", user="ayse", json=referral)
    assert response.status_code in (200, 201), response.text
    case = response.json()
    today = local_date(datetime.now(UTC), office_time_zone(office))  # the office's day: the case judges dates there
    forms: dict[str, dict[str, Any]] = {}
    for _ in range(200):
        if case["status"] == "closed":
            return case
        if not case["open_tasks"]:
            await asyncio.sleep(0.5)
        else:
            task = case["open_tasks"][0]
            user = worker_for(task, office)
            form = forms.setdefault(task["task_id"], example_form(task, today, case=case))
            done = await client.send("POST", f"/api/v1/tasks/{task['task_id']}/complete", user=user,
                                     json={"form": form})
            assert done.status_code == 200, done.text
        if pause:
            await asyncio.sleep(pause)
        read = await client.send("GET", f"/api/v1/cases/{case['case_id']}", user="fatma")
        assert read.status_code == 200, read.text
        case = read.json()
    raise AssertionError(f"case {case['case_id']} did not close: {case['stage']}")


async def started_process_stack() -> AsyncIterator[ProcessStack]:
    """A ``ProcessStack`` started for a test module and stopped after it (each fault-test
    module's ``deployment`` fixture)."""
    stack = ProcessStack()
    try:
        await stack.start()
        yield stack
    finally:
        stack.stop()
