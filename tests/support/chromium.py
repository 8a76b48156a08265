"""A real browser for UI tests: headless Chromium driven by Playwright.

Playwright cannot download its own browser on a machine without internet, so the tests use the
system's Chromium (Debian's ``chromium`` package, which ``make test`` installs when it can:
see the Makefile) at ``ITINERA_TEST_CHROMIUM`` (default ``/usr/bin/chromium``).  Without it
the browser tests fail and say how to install it: they are not skipped.

The flags keep Chromium off the network it does not need (no background connections, no
component updates), as a closed network refuses them.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

from tests.support.stack import Stack
from tests.support.users import TEST_PASSWORD

CHROMIUM = Path(os.environ.get("ITINERA_TEST_CHROMIUM", "/usr/bin/chromium"))
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    assert CHROMIUM.exists(), (
        f"no Chromium at {CHROMIUM}: the browser tests need it (Debian/Ubuntu: apt-get install chromium, which "
        "`make test` does as root; or set ITINERA_TEST_CHROMIUM to a Chromium or Chrome binary)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


async def sign_in(page: Page, username: str, password: str = TEST_PASSWORD) -> None:
    """Through the login form, as a person would: type, press the button."""
    await page.goto("/ui/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]:has-text('Sign in')")
    await page.wait_for_url("**/ui**")
    assert "/ui/login" not in page.url, await page.content()


@asynccontextmanager
async def browsing(browser: Browser, stack: Stack, username: str, *, width: int = 1280,
                   locale: str = "en-GB") -> AsyncIterator[Page]:
    """A page of a fresh browser context (its own cookies), signed in as ``username``."""
    context = await browser.new_context(base_url=stack.base_url, viewport={"width": width, "height": 900},
                                        locale=locale)
    try:
        page = await context.new_page()
        await sign_in(page, username)
        yield page
    finally:
        await context.close()
