"""``GET /api/v1/cases/{id}?as_of=``: the case as it stood then, a fold of its events up to
that time (issue 16), read without changing anything."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from tests.support.driver import CaseDriver
from tests.support.factories import referral


async def test_the_case_as_it_stood_before_a_completion(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    referred = await driver.refer(referral(size=1))
    headers = await driver.login("fatma")
    events = (await http.get(f"/api/v1/cases/{referred['case_id']}/events", headers=headers)).json()
    moment = events[-1]["occurred_at"]  # the referral's last event
    interview = await driver.complete(referred["open_tasks"][0], "IST")
    assert interview["stage"] == "interview"

    then = await http.get(f"/api/v1/cases/{referred['case_id']}", params={"as_of": moment}, headers=headers)
    assert then.status_code == 200, then.text
    assert (then.json()["stage"], then.json()["version"]) == ("referral", referred["version"])
    assert [t["task_type"] for t in then.json()["open_tasks"]] == [t["task_type"] for t in referred["open_tasks"]]
    # Nothing was changed by asking: the case today is as it was.
    now = (await http.get(f"/api/v1/cases/{referred['case_id']}", headers=headers)).json()
    assert (now["stage"], now["version"]) == ("interview", interview["version"])


async def test_before_the_referral_and_another_office_are_404_and_a_naive_time_is_422(
        http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=1))
    headers = await driver.login("fatma")
    long_ago = (datetime.fromisoformat(case["referred_at"]) - timedelta(days=1)).isoformat()
    before = await http.get(f"/api/v1/cases/{case['case_id']}", params={"as_of": long_ago}, headers=headers)
    assert before.status_code == 404 and before.json()["error"]["details"][0]["field"] == "query.as_of"
    izmir = await http.get(f"/api/v1/cases/{case['case_id']}", params={"as_of": case["referred_at"]},
                           headers=await driver.login("ali"))
    assert izmir.status_code == 404
    naive = await http.get(f"/api/v1/cases/{case['case_id']}", params={"as_of": "2026-01-01T00:00:00"},
                           headers=headers)
    assert naive.status_code == 422
