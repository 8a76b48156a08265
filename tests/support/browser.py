"""A browser for UI tests: its own cookie jar, signed in through the login page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from tests.support.pages import Page
from tests.support.stack import Stack
from tests.support.users import TEST_PASSWORD


async def sign_in(client: httpx.AsyncClient, username: str, password: str = TEST_PASSWORD) -> httpx.Response:
    login = Page((await client.get("/ui/login")).text)
    return await client.post("/ui/login", data={"username": username, "password": password,
                                                "csrf_token": login.csrf, "next": "/ui"})


@asynccontextmanager
async def signed_in(stack: Stack, username: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser of its own (its own cookie jar), signed in as ``username``."""
    async with httpx.AsyncClient(base_url=stack.base_url, follow_redirects=True, timeout=60) as client:
        response = await sign_in(client, username)
        assert response.status_code == 200 and response.url.path == "/ui", response.text
        yield client
