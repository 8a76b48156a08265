"""CORS admits the Temporal Web UI's origin to the codec endpoints and nowhere else
(issue 11, item 9): no other path of the API answers that origin with CORS headers, so a
page there cannot read any other response with the user's credentials."""

from __future__ import annotations

import httpx
import pytest
from tests.support.driver import CaseDriver



@pytest.fixture
def ui_origin(stack) -> dict[str, str]:
    return {"Origin": f"http://127.0.0.1:{stack.settings.temporal_ui_port}"}


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/cases", "/api/v1/tasks", "/api/v1/audit",
                                  "/api/v1/auth/me", "/ui", "/openapi.json"])
async def test_the_temporal_ui_origin_gets_no_cors_access_outside_the_codec(
        http: httpx.AsyncClient, driver: CaseDriver, ui_origin: dict[str, str], path: str) -> None:
    read = await http.get(path, headers=ui_origin | await driver.login("fatma"))
    assert "access-control-allow-origin" not in read.headers
    assert "access-control-allow-credentials" not in read.headers
    preflight = await http.options(path, headers=ui_origin | {"Access-Control-Request-Method": "GET",
                                                              "Access-Control-Request-Headers": "authorization"})
    assert "access-control-allow-origin" not in preflight.headers


async def test_the_codec_still_answers_the_temporal_ui_origin(http: httpx.AsyncClient, driver: CaseDriver,
                                                              ui_origin: dict[str, str]) -> None:
    preflight = await http.options("/codec/decode", headers=ui_origin | {
        "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-namespace"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ui_origin["Origin"]
    assert preflight.headers["access-control-allow-credentials"] == "true"
    decoded = await http.post("/codec/decode", json={"payloads": []}, headers=ui_origin | await driver.login("fatma"))
    assert decoded.status_code == 200 and decoded.headers["access-control-allow-origin"] == ui_origin["Origin"]
    other = await http.options("/codec/decode", headers={"Origin": "https://evil.example",
                                                         "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in other.headers
