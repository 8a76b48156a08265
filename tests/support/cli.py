"""The ``itinera`` command as an operator runs it: a process of its own, run from the test's
event loop without blocking it (the session's in-process worker and API keep serving)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def cli_env(**settings: str) -> dict[str, str]:
    """This process's environment without any ITINERA_* variable, plus ``settings``
    (``database_url="..."`` becomes ITINERA_DATABASE_URL)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ITINERA_")}
    return env | {f"ITINERA_{name.upper()}": value for name, value in settings.items()}


async def itinera(*args: str, env: Mapping[str, str], stdin: str = "", cwd: Path = PROJECT,
                  timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``itinera ARGS`` with ``env`` and ``stdin``; its exit code, standard output and error."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "itinera_cli", *args, env=dict(env), cwd=cwd,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"itinera {' '.join(args)} did not finish within {timeout:g} s") from None
    assert process.returncode is not None
    return subprocess.CompletedProcess(["itinera", *args], process.returncode, out.decode(), err.decode())
