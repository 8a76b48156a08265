"""Waiting on a condition instead of sleeping a fixed time: a poll with a deadline and a
failure message that says what did not happen."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable


async def eventually(condition: Callable[[], bool | Awaitable[bool]], *, timeout: float,
                     what: str | Callable[[], str], interval: float = 0.05) -> None:
    """Return once ``condition()`` (sync or async) is true; fail after ``timeout`` seconds
    with "timed out after N s waiting for <what>" (``what()``, when it is a function, is asked
    then: it may tell what the condition last saw)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what() if callable(what) else what}")
        await asyncio.sleep(interval)
