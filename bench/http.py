"""The benchmark's HTTP client: aiohttp, because the client shares the machine's cores with
the system under test.  On this kind of machine httpx spent ~4.7 ms of CPU per request
(sniffio/anyio/httpcore layers) against ~1 ms for aiohttp, and a 2-core benchmark whose
client eats a third of a core measures the client.  Every call is still a real HTTP/1.1
request over a loopback TCP connection (kept alive, like a browser's).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp


class ApiFailure(RuntimeError):
    pass


class Http:
    def __init__(self, base_url: str, *, connections: int = 200, timeout: float = 120.0):
        self.base_url = base_url
        self._timeout = timeout
        self._session = aiohttp.ClientSession(
            base_url=base_url,
            # Idle connections are dropped before uvicorn's own 5 s keep-alive timeout, so a request
            # never goes out on a connection the server is closing at that moment.
            connector=aiohttp.TCPConnector(limit=connections, limit_per_host=connections, keepalive_timeout=3),
            timeout=aiohttp.ClientTimeout(total=timeout),
            json_serialize=json.dumps,
        )

    async def call(self, method: str, path: str, *expected: int, json_body: Any = None,
                   form: dict[str, str] | None = None, content: bytes | None = None,
                   params: dict[str, str] | None = None,
                   headers: dict[str, str] | None = None) -> Any:
        """Send one request; the decoded JSON answer, or ``ApiFailure`` on an unexpected status."""
        try:
            async with self._session.request(method, path, json=json_body,
                                             data=form if form is not None else content, params=params,
                                             headers=headers) as response:
                body = await response.read()
        except TimeoutError:
            raise ApiFailure(f"{method} {path}: no answer in {self._timeout:.0f} s") from None
        if response.status not in (expected or (200,)):
            raise ApiFailure(f"{method} {path} -> {response.status}: {body[:300].decode(errors='replace')}")
        return json.loads(body) if body else None

    async def close(self) -> None:
        await self._session.close()
