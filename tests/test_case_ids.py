"""Case ids reveal nothing: keyed digests of referral ids, and another office's referral id
is refused without naming or showing its case."""

from __future__ import annotations

import httpx
from temporalio.client import WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from domain.identity import case_id_for
from domain.model import Actor, Referral
from domain.records import CaseWorkflowInput, ReferCaseRequest
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from workflows.case_workflow import CaseWorkflow
from workflows.resettlement_case import ResettlementCaseWorkflow


async def test_a_case_id_is_not_a_digest_anyone_can_recompute(driver: CaseDriver) -> None:
    body = referral()
    case = await driver.refer(body)
    assert case["case_id"] != case_id_for(body["external_referral_id"])  # the unkeyed digest
    assert body["external_referral_id"] not in case["case_id"]
    again = await driver.refer(body)
    assert again["case_id"] == case["case_id"]


async def test_another_offices_referral_id_is_refused_without_disclosing_the_case(
        http: httpx.AsyncClient, driver: CaseDriver) -> None:
    ist = await driver.refer(referral(office="IST"))
    izmir = referral(office="IZM", external_referral_id=ist["external_referral_id"])
    r = await http.post("/api/v1/cases", json=izmir, headers=await driver.login("mehmet"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "referral_id_in_use"
    assert ist["case_id"] not in r.text and "Haddad" not in r.text
    assert r.json()["error"]["details"][0]["field"] == "body.external_referral_id"


async def test_a_case_opened_before_ids_were_keyed_keeps_its_id(stack, http: httpx.AsyncClient,
                                                                driver: CaseDriver) -> None:
    body = referral()
    legacy_id = case_id_for(body["external_referral_id"])  # how ids were derived before
    start = WithStartWorkflowOperation(ResettlementCaseWorkflow.run, CaseWorkflowInput(case_id=legacy_id),
                                       id=legacy_id, task_queue=stack.settings.temporal_task_queue,
                                       id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
    await stack.temporal.execute_update_with_start_workflow(
        CaseWorkflow.refer, ReferCaseRequest(referral=Referral.model_validate(body),
                                             actor=Actor(id="ayse", role="caseworker", offices=("IST",))),
        start_workflow_operation=start)
    r = await http.post("/api/v1/cases", json=body, headers=await driver.login("ayse"))
    assert r.status_code == 200 and r.json()["case_id"] == legacy_id
