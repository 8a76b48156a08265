"""Cases carry Temporal search attributes (programme, stage, office, priority, status; never
personal data), so operators can list them with the Temporal client or CLI."""

from __future__ import annotations

import httpx

from domain.model import Stage
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.waiting import eventually

_TEMPORALS_OWN = {"TemporalChangeVersion", "BuildIds"}


async def _listed(stack, query: str) -> list[str]:
    return [w.id async for w in stack.temporal.list_workflows(query)]


async def test_operators_find_cases_by_stage_and_office(stack, driver: CaseDriver, http: httpx.AsyncClient) -> None:
    ist = await driver.advance(await driver.refer(referral(office="IST", size=1)), until=Stage.HEALTH)
    izm = await driver.advance(await driver.refer(referral(office="IZM", size=1), username="mehmet"), until=Stage.HEALTH)
    query = "Stage='health' AND Office='IST' AND Programme='resettlement' AND CaseStatus='active'"

    async def found() -> bool:
        listed = await _listed(stack, query)
        return ist["case_id"] in listed and izm["case_id"] not in listed

    await eventually(found, timeout=30, what=f"the Istanbul case listed by {query!r}")

    # The attributes hold nothing personal: only the case's programme, stage, office, priority
    # and status (besides Temporal's own: patch versions, build ids).
    described = await stack.temporal.get_workflow_handle(ist["case_id"]).describe()
    values = {pair.key.name: pair.value for pair in described.typed_search_attributes
              if pair.key.name not in _TEMPORALS_OWN}
    assert values == {"Programme": "resettlement", "Stage": "health", "Office": "IST", "Priority": "normal",
                      "CaseStatus": "active"}


async def test_a_withdrawn_case_is_listed_as_closed(stack, driver: CaseDriver, http: httpx.AsyncClient) -> None:
    case = await driver.refer(referral(office="IST", size=1))
    r = await http.post(f"/api/v1/cases/{case['case_id']}/withdraw", headers=await driver.login("ayse"),
                        json={"reason": "The family withdrew."})
    assert r.status_code == 200, r.text

    async def closed() -> bool:
        return case["case_id"] in await _listed(stack, f"CaseStatus='closed' AND Stage='closed' "
                                                        f"AND WorkflowId='{case['case_id']}'")

    await eventually(closed, timeout=30, what="the withdrawn case listed as closed")
