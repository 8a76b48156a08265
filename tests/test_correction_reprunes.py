"""A corrected date of birth re-decides the stage's per-person work (explore9 F1): a child
corrected to under 12 in the orientation stage kept her orientation task, and the case waited
for work the age rule does not ask.  Now that task is cancelled, naming why, and the case moves
on (patch ``correction-reprunes-v1``; a correction recorded before replays as it ran:
tests/histories/correction_reprunes.json, recorded by
``ITINERA_RECORD_HISTORIES=1 pytest tests/test_correction_reprunes.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from domain.model import Stage
from tests.support.driver import CaseDriver
from tests.support.factories import member, referral
from tests.support.histories import replays_and_is_recorded
from tests.support.stack import Stack
from tests.test_branches import _patches
from workflows.case_workflow import CORRECTION_REPRUNES_PATCH


def _years_ago(years: int, days: int = 0) -> str:
    today = datetime.now(UTC).date()
    return (today.replace(year=today.year - years) - timedelta(days=days)).isoformat()


def _tasks(case: dict[str, Any], task_type: str) -> list[dict[str, Any]]:
    return [t for t in case["open_tasks"] if t["task_type"] == task_type]


async def test_a_child_corrected_under_the_orientation_age_no_longer_holds_the_stage(
        stack: Stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    body = referral(size=1)
    body["members"] = [member("Yusuf Saleh", _years_ago(40), "principal", sex="male"),
                       member("Yara Saleh", _years_ago(13, days=30), "child")]
    case = await driver.advance(await driver.refer(body), until=Stage.ORIENTATION)
    names = {m["member_id"]: m["full_name"] for m in case["members"]}
    yara = next(m for m, n in names.items() if n == "Yara Saleh")
    for task in _tasks(case, "record_orientation"):
        if task["member_id"] != yara:
            case = await driver.complete(task, "IST")
    [waiting] = _tasks(case, "record_orientation")
    assert waiting["member_id"] == yara and case["stage"] == "orientation"

    corrected = await http.post(f"/api/v1/cases/{case['case_id']}/members/{yara}/corrections",
                                headers=await driver.login("ayse"),
                                json={"changes": {"date_of_birth": _years_ago(10)},
                                      "reason": "Birth certificate: she is 10."})
    assert corrected.status_code == 200, corrected.text
    after = corrected.json()
    assert after["stage"] == "visa" and not _tasks(after, "record_orientation"), after["open_tasks"]
    events = (await http.get(f"/api/v1/cases/{case['case_id']}/events", headers=await driver.login("fatma"))).json()
    cancelled = [e for e in events if e["type"] == "TaskCancelled" and e["data"]["task_id"] == waiting["task_id"]]
    assert cancelled and "after the correction of the date of birth" in cancelled[0]["data"]["reason"], cancelled

    # The rule was asked (its marker is in history), and the case runs to its end and replays.
    handle = stack.temporal.get_workflow_handle(case["case_id"])
    assert CORRECTION_REPRUNES_PATCH in await _patches(handle)
    case = await driver.advance(after)
    assert (case["status"], case["closure_reason"]) == ("closed", "arrived")
    await handle.result()
    await replays_and_is_recorded(handle, "correction_reprunes.json")


async def test_a_correction_that_keeps_the_child_s_work_changes_no_task(stack: Stack, http: httpx.AsyncClient,
                                                                         driver: CaseDriver) -> None:
    body = referral(size=1)
    body["members"] = [member("Yusuf Saleh", _years_ago(40), "principal", sex="male"),
                       member("Yara Saleh", _years_ago(13, days=30), "child")]
    case = await driver.advance(await driver.refer(body), until=Stage.ORIENTATION)
    yara = next(m["member_id"] for m in case["members"] if m["full_name"] == "Yara Saleh")
    before = sorted(t["task_id"] for t in case["open_tasks"])
    corrected = await http.post(f"/api/v1/cases/{case['case_id']}/members/{yara}/corrections",
                                headers=await driver.login("ayse"),
                                json={"changes": {"date_of_birth": _years_ago(14)}, "reason": "She is 14."})
    assert corrected.status_code == 200, corrected.text
    assert sorted(t["task_id"] for t in corrected.json()["open_tasks"]) == before
    assert CORRECTION_REPRUNES_PATCH not in await _patches(stack.temporal.get_workflow_handle(case["case_id"]))
