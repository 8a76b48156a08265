"""Role x endpoint x office: what every test account may and may not do to an Istanbul case.

Another office's case is 404 (its existence is not revealed); a role that may not act on
a case it can see is 403.  Admins manage accounts and keys, not cases.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.support.driver import CaseDriver
from tests.support.factories import referral

USERS = ["ayse", "mehmet", "selin", "emre", "fatma", "ali", "admin"]
#            ayse mehmet selin emre fatma ali admin      (IST cw, IZM cw, med, movement, IST sup, IZM sup, admin)
MATRIX: dict[str, list[int]] = {
    "read case": [200, 404, 200, 200, 200, 404, 404],
    "read events": [200, 404, 200, 200, 200, 404, 404],
    "refer to IST": [201, 403, 403, 403, 201, 403, 403],
    "claim caseworker task": [200, 404, 403, 403, 200, 404, 404],
    "complete with bad form": [422, 404, 403, 403, 422, 404, 404],
    "add note": [200, 404, 200, 200, 200, 404, 404],
    "hold": [403, 404, 403, 403, 200, 404, 404],
    "withdraw (bad body)": [422, 422, 422, 422, 422, 422, 422],
    "read audit": [403, 403, 403, 403, 200, 200, 403],
    "decrypt history": [403, 403, 403, 403, 200, 200, 403],
}


@pytest.fixture(scope="module")
async def ist_case(stack) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as http:
        return await CaseDriver(http).refer(referral(office="IST"))


def _actions(case: dict[str, Any]) -> dict[str, Callable[[httpx.AsyncClient, dict[str, str]], Awaitable[httpx.Response]]]:
    case_id, task_id = case["case_id"], case["open_tasks"][0]["task_id"]

    async def claim(http: httpx.AsyncClient, h: dict[str, str]) -> httpx.Response:
        r = await http.post(f"/api/v1/tasks/{task_id}/claim", headers=h)
        if r.status_code == 200:
            await http.post(f"/api/v1/tasks/{task_id}/release", headers=h)
        return r

    async def hold(http: httpx.AsyncClient, h: dict[str, str]) -> httpx.Response:
        r = await http.post(f"/api/v1/cases/{case_id}/hold", json={"reason": "matrix"}, headers=h)
        if r.status_code == 200:
            await http.post(f"/api/v1/cases/{case_id}/resume", json={"reason": "matrix"}, headers=h)
        return r

    return {
        "read case": lambda http, h: http.get(f"/api/v1/cases/{case_id}", headers=h),
        "read events": lambda http, h: http.get(f"/api/v1/cases/{case_id}/events", headers=h),
        "refer to IST": lambda http, h: http.post("/api/v1/cases", json=referral(office="IST"), headers=h),
        "claim caseworker task": claim,
        "complete with bad form": lambda http, h: http.post(f"/api/v1/tasks/{task_id}/complete",
                                                            json={"form": {"documents_checked": "no"}}, headers=h),
        "add note": lambda http, h: http.post(f"/api/v1/cases/{case_id}/notes", json={"text": "matrix"}, headers=h),
        "hold": hold,
        "withdraw (bad body)": lambda http, h: http.post(f"/api/v1/cases/{case_id}/withdraw", json={}, headers=h),
        "read audit": lambda http, h: http.get("/api/v1/audit", params={"limit": 1}, headers=h),
        "decrypt history": lambda http, h: http.post("/codec/decode", json={"payloads": []}, headers=h),
    }


@pytest.mark.parametrize("action", sorted(MATRIX))
async def test_role_office_matrix(http: httpx.AsyncClient, driver: CaseDriver, ist_case: dict[str, Any],
                                  action: str) -> None:
    run = _actions(ist_case)[action]
    got = [(await run(http, await driver.login(user))).status_code for user in USERS]
    assert dict(zip(USERS, got)) == dict(zip(USERS, MATRIX[action]))


async def test_an_object_of_another_case_in_the_path_is_refused(http: httpx.AsyncClient, driver: CaseDriver,
                                                                ist_case: dict[str, Any]) -> None:
    other = await driver.refer(referral(office="IST"))
    member_of_other = other["members"][0]["member_id"]
    r = await http.post(f"/api/v1/cases/{ist_case['case_id']}/members/{member_of_other}/corrections",
                        json={"changes": {"full_name": "Someone Else"}, "reason": "x"},
                        headers=await driver.login("ayse"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "member_not_found"
