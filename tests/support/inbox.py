"""Sending integration messages the way partners must (an Idempotency-Key each) and waiting
for the inbox to deliver them."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.support.waiting import eventually


async def send(http: httpx.AsyncClient, api_key: str, body: Any, *, key: str | None = None,
               **kwargs: Any) -> httpx.Response:
    """POST a message with ``key`` as its Idempotency-Key (a fresh one unless given)."""
    headers = {"X-API-Key": api_key, "Idempotency-Key": key or uuid.uuid4().hex}
    if "content" in kwargs:
        headers["content-type"] = "application/json"
        return await http.post("/api/v1/integrations/messages", headers=headers, **kwargs)
    return await http.post("/api/v1/integrations/messages", headers=headers, json=body, **kwargs)


async def inbox_status(http: httpx.AsyncClient, api_key: str, inbox_id: int) -> dict[str, Any]:
    r = await http.get(f"/api/v1/integrations/inbox/{inbox_id}", headers={"X-API-Key": api_key})
    assert r.status_code == 200, r.text
    return r.json()


async def settled(http: httpx.AsyncClient, api_key: str, inbox_id: int, *, timeout: float = 30,
                  until: tuple[str, ...] = ("applied", "rejected")) -> dict[str, Any]:
    """The message's status once it is one of ``until``."""
    seen: dict[str, Any] = {}

    async def done() -> bool:
        seen.update(await inbox_status(http, api_key, inbox_id))
        return seen["status"] in until

    await eventually(done, timeout=timeout, interval=0.1, what=lambda: f"message {inbox_id} to be {until}: {seen}")
    return seen
