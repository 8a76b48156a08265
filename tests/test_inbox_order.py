"""The inbox puts overdue tasks first, whatever their priority, and names the family."""

from __future__ import annotations

import asyncpg
import httpx

from tests.support.driver import CaseDriver
from tests.support.factories import referral


async def test_overdue_before_any_priority_and_the_family_named(stack, http: httpx.AsyncClient,
                                                                 driver: CaseDriver) -> None:
    late = await driver.refer(referral(office="IZM", size=3, priority="normal"), username="mehmet")
    urgent = await driver.refer(referral(office="IZM", size=1, priority="emergency"), username="mehmet")
    owner = await asyncpg.connect(stack.database_url)
    try:  # as the clock marks a task overdue (the read model's side of it)
        await owner.execute("UPDATE tasks SET overdue = true, due_at = now() - interval '1 day' WHERE case_id = $1",
                            late["case_id"])
    finally:
        await owner.close()
    r = await http.get("/api/v1/tasks", params={"office": "IZM", "stage": "referral", "limit": 200},
                       headers=await driver.login("mehmet"))
    assert r.status_code == 200, r.text
    order = [t["case_id"] for t in r.json()["items"] if t["case_id"] in (late["case_id"], urgent["case_id"])]
    assert order == [late["case_id"], urgent["case_id"]]
    task = next(t for t in r.json()["items"] if t["case_id"] == late["case_id"])
    assert (task["case_name"], task["case_size"], task["case_on_hold"]) == ("Amina Haddad", 3, False)

    # Paging keeps the order: one task per page.
    seen, cursor = [], None
    while len(seen) < 400:
        params = {"office": "IZM", "stage": "referral", "limit": 1} | ({"cursor": cursor} if cursor else {})
        page = (await http.get("/api/v1/tasks", params=params, headers=await driver.login("mehmet"))).json()
        seen += [t["case_id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen.index(late["case_id"]) < seen.index(urgent["case_id"])
