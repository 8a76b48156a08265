"""``itinera dev`` looks after its children: a killed worker, API, Temporal or PostgreSQL comes back by itself,
the rest keeps running, and Ctrl-C still stops everything.  Beside it, `itinera users add`
finds its database with nothing but the data folder."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
import psutil

from embedded.postgres import database_folder
from tests.support.cli import cli_env, itinera
from tests.support.factories import referral
from tests.support.processes import start_dev
from tests.support.stack import data_folder, free_port
from tests.support.waiting import eventually


async def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    await eventually(predicate, timeout=timeout, what=what, interval=0.3)


def _child(dev: psutil.Process, command: str) -> psutil.Process | None:
    for child in dev.children(recursive=True):
        try:
            if child.cmdline()[-2:] == ["itinera_cli", command]:
                return child
        except psutil.Error:
            continue
    return None


async def _said(log_path: Path, line: str) -> bool:
    return line in log_path.read_text()


async def test_a_killed_worker_and_api_are_restarted_and_ctrl_c_stops_everything() -> None:
    data_dir = data_folder()
    api_port = free_port()
    process, log_path = await start_dev(data_dir, api_port, seed_demo=False)
    dev = psutil.Process(process.pid)
    base = f"http://127.0.0.1:{api_port}"

    async def ready() -> bool:
        try:
            async with httpx.AsyncClient(base_url=base, timeout=5) as client:
                return (await client.get("/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    try:
        await _wait_for(ready, 120, "itinera dev to be ready")
        # Beside it, an operator's command finds its database from the data folder alone.
        added = await itinera("users", "add", "zeynep", "--role", "caseworker", "--office", "IZM",
                              env=cli_env(data_dir=str(data_dir)), stdin="a long enough secret\n", cwd=data_dir)
        assert added.returncode == 0, added.stderr
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            login = await client.post("/api/v1/auth/token", data={"username": "zeynep",
                                                                  "password": "a long enough secret"})
        assert login.status_code == 200, login.text
        for command in ("worker", "api"):
            child = _child(dev, command)
            assert child is not None, f"no {command} child: {log_path.read_text()[-2000:]}"
            child.kill()

            async def restarted(command: str = command, old: int = child.pid) -> bool:
                new = _child(dev, command)
                return "is starting again" in log_path.read_text() and new is not None and new.pid != old

            await _wait_for(restarted, 60, f"the {command} to be restarted")
            await _wait_for(ready, 60, f"the system to be ready again after the {command} was killed")
        # Temporal and PostgreSQL killed: `itinera dev` starts each again on its own data, and
        # a referral made after both came back is worked by the restarted worker.
        temporal = next(c for c in dev.children(recursive=True) if "start-dev" in c.cmdline())
        temporal.kill()
        await _wait_for(lambda: _said(log_path, "the Temporal dev server is running again"), 60,
                        "Temporal to be started again")
        await _wait_for(ready, 60, "the system to be ready again after Temporal was killed")
        os.kill(int((database_folder(data_dir) / "postmaster.pid").read_text().split()[0]), signal.SIGKILL)
        await _wait_for(lambda: _said(log_path, "PostgreSQL is running again"), 90, "PostgreSQL to be started again")
        await _wait_for(ready, 60, "the system to be ready again after PostgreSQL was killed")
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            body = referral(office="IZM", size=1)

            async def referred() -> bool:  # the first requests after the outage may still answer 503
                token = await client.post("/api/v1/auth/token", data={"username": "zeynep",
                                                                      "password": "a long enough secret"})
                if token.status_code != 200:
                    return False
                r = await client.post("/api/v1/cases", json=body,
                                      headers={"Authorization": f"Bearer {token.json()['access_token']}"})
                assert r.status_code in (200, 201, 503), r.text
                return r.status_code in (200, 201) and r.json()["stage"] == "referral"
            await _wait_for(referred, 60, "a referral to be accepted after both servers came back")
        text = log_path.read_text()
        assert "the worker exited with code -9; restarting it" in text, text[-2000:]
        assert "the api exited with code -9; restarting it" in text, text[-2000:]
        children = dev.children(recursive=True)
        assert process.returncode is None  # dev itself never went down
    finally:
        os.kill(process.pid, signal.SIGINT)
        await asyncio.wait_for(process.wait(), 60)
    assert process.returncode == 0, log_path.read_text()[-2000:]
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, [p.pid for p in alive]
