"""``GET /api/v1/cases/{id}/history``: what happened, when, by whom, at which stage, with
the data in readable form and health details only for those allowed (issue 16)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from domain.model import Stage
from domain.offices import local_date
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.forms import example_form


async def _history(http: httpx.AsyncClient, headers: dict[str, str], case_id: str, **params: object) -> dict:
    r = await http.get(f"/api/v1/cases/{case_id}/history", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_each_event_with_actor_stage_and_task(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=1))
    verify = case["open_tasks"][0]
    await driver.complete(verify, "IST")
    fatma = await driver.login("fatma")
    page = await _history(http, fatma, case["case_id"])
    newest_first = [e["seq"] for e in page["items"]]
    assert newest_first == sorted(newest_first, reverse=True)
    [done] = [e for e in page["items"] if e["task"] and e["task"]["task_id"] == verify["task_id"]
              and e["type"] != "TaskOpened"]  # the completion event of that task (ReferralVerified)
    assert done["actor"]["id"] == "ayse" and done["actor"]["label"] == "ayse (caseworker)"
    assert done["task"] == {"task_id": verify["task_id"], "task_type": "verify_referral",
                            "title": "Verify referral and identity documents"}
    assert (done["stage_before"], done["stage_after"]) == ("referral", "referral")
    entered = [e for e in page["items"] if e["type"] == "StageEntered"]
    assert (entered[0]["stage_before"], entered[0]["stage_after"]) == ("referral", "interview")

    only = await _history(http, fatma, case["case_id"], event_type=done["type"], actor="ayse")
    assert [e["seq"] for e in only["items"]] == [done["seq"]]
    assert (await _history(http, fatma, case["case_id"], actor="nobody"))["items"] == []
    assert (await _history(http, fatma, case["case_id"], since=datetime.now(UTC).isoformat()))["items"] == []

    first = await _history(http, fatma, case["case_id"], limit=2)
    second = await _history(http, fatma, case["case_id"], limit=2, before_seq=first["next_before_seq"])
    assert [e["seq"] for e in first["items"] + second["items"]] == newest_first[:4]

    other = await http.get(f"/api/v1/cases/{case['case_id']}/history", headers=await driver.login("ali"))
    assert other.status_code == 404


async def test_health_details_only_for_those_allowed(http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.HEALTH)
    task = case["open_tasks"][0]
    form = example_form(task, local_date(datetime.now(UTC), case["office_time_zone"])) | {"notes": "Latent TB: follow up on arrival."}
    await driver.complete(task, "IST", form=form)

    def assessment(page: dict) -> dict:
        return next(e for e in page["items"] if e["task"] and e["task"]["task_type"] == "assess_health"
                    and e["type"] != "TaskOpened")

    supervisor = assessment(await _history(http, await driver.login("fatma"), case["case_id"]))
    assert "Latent TB" in str(supervisor["data"]) and not supervisor["withheld"]
    caseworker = assessment(await _history(http, await driver.login("ayse"), case["case_id"]))
    assert "Latent TB" not in str(caseworker) and caseworker["withheld"]
