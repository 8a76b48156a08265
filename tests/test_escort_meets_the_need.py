"""An AVRR escort meets the need the case knows (explore8 #4): a member under 18 travelling
alone needs a child protection escort (or a social worker), a fitness-to-travel assessment that
asks for a medical escort a medical one.  The movement officer who arranges it does not read the
screening's protection details, so the refusal says what the need is, not why.  An admission rule:
an escort arranged before it replays as decided.  Through the API on the real stack."""

from __future__ import annotations

from typing import Any

from domain.model import Stage
from tests.support.driver import CaseDriver
from tests.support.factories import member
from tests.test_avrr import _day, _task, avrr_referral


async def _minor_at_the_escort(driver: CaseDriver) -> tuple[dict[str, Any], dict[str, Any]]:
    body = avrr_referral()
    body["members"][0] = member("Ali Rezaei", "2010-05-01", "principal", sex="male", nationality="IQ")
    case = await driver.advance(await driver.refer(body), until=Stage.INTERVIEW)
    case = await driver.complete(_task(case, "assess_eligibility"), "IST")
    case = await driver.complete(_task(case, "screen_vulnerability"), "IST", form={
        "screened_on": _day(), "unaccompanied_minor": True, "escort_required": True})
    case = await driver.advance(case, until=Stage.MOVEMENT)
    return case, _task(case, "arrange_escort")


async def test_a_minor_travelling_alone_gets_a_child_protection_escort(driver: CaseDriver) -> None:
    case, escort = await _minor_at_the_escort(driver)
    headers = await driver.login("emre")
    await driver.client.post(f"/api/v1/tasks/{escort['task_id']}/claim", headers=headers)
    r = await driver.client.post(f"/api/v1/tasks/{escort['task_id']}/complete", headers=headers, json={"form": {
        "escort_type": "operational", "escort_name": "Elif Arslan", "organisation": "IOM Türkiye"}})
    assert r.status_code == 422, r.text
    [detail] = r.json()["error"]["details"]
    assert detail["field"] == "escort_type" and "a member under 18 travels alone" in detail["reason"]
    assert "child protection or social worker" in detail["reason"]
    assert "trafficking" not in r.text
    done = await driver.complete(escort, "IST", form={"escort_type": "child_protection", "escort_name": "Elif Arslan",
                                                      "organisation": "IOM Türkiye"})
    assert done["avrr"]["escort_arranged"] is True
