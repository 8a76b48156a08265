"""A movement (or session, or case) whose creation the rules refused leaves no workflow waiting for
ever: after a grace period (1 s here) the empty workflow ends with no result, and the same
Idempotency-Key sent again, corrected, creates the movement in a new run of the same id.
A movement that existed keeps its key: a finished one is still a 409.  Real Temporal and
PostgreSQL; the API's own command class, with the grace shortened."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy

from api.commands import CaseCommands
from api.errors import ApiError
from api.case_ids import case_id_key
from api.movements import MovementCommands
from domain.model import Actor, ActorKind, Referral
from domain.movements import commands as c
from domain.movements.model import MovementDetails
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.stack import TEST_EXIT_PERMISSIONS, Stack
from tests.test_movements import _details, _ok, login_all
from tests.test_replay import HISTORIES, _replayer

OFFICER = Actor(kind=ActorKind.USER, id="emre", role="movement_officer", offices=("IST", "IZM"))


async def test_a_refused_creation_ends_its_empty_workflow_and_the_same_key_creates_it_later(
        stack: Stack, driver: CaseDriver) -> None:
    await login_all(driver)
    commands = MovementCommands(stack.temporal, stack.settings.temporal_task_queue, nothing_created_grace_seconds=1)
    movement_id = f"MV-{uuid.uuid4().hex[:16].upper()}"
    years = (datetime.now(UTC) + timedelta(days=3 * 366)).replace(microsecond=0).isoformat()
    too_far = MovementDetails.model_validate(_details(9) | {"departure_at": years, "arrival_at": None, "transit": []})
    with pytest.raises(ApiError) as refused:
        await commands.create(movement_id, too_far, OFFICER)
    assert refused.value.status == 422 and refused.value.details[0]["field"] == "departure_at"

    handle = stack.temporal.get_workflow_handle(movement_id)
    assert await handle.result() is None  # ended, empty, once the grace passed
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    history = await handle.fetch_history()
    await _replayer().replay_workflow(history)
    if os.environ.get("ITINERA_RECORD_HISTORIES"):
        (HISTORIES / "movement_refused_creation_ended_empty.json").write_text(
            json.dumps({"workflow_id": movement_id, "history": json.loads(history.to_json())}, indent=1))

    details = MovementDetails.model_validate(_details(9))
    created = await commands.create(movement_id, details, OFFICER)
    assert (created.movement_id, created.changed) == (movement_id, True)
    view = await _ok(driver, "GET", f"/api/v1/movements/{movement_id}")
    assert view["status"] == "open" and view["details"]["seat_capacity"] == 9
    again = await commands.create(movement_id, details, OFFICER)
    assert (again.movement_id, again.changed) == (movement_id, False)  # the same creation: nothing new

    # A movement that existed and finished is not empty: its key stays used.
    await commands.send(movement_id, c.CancelMovement(reason="The charter was called off."), OFFICER)
    assert (await handle.result())["status"] == "cancelled"
    with pytest.raises(ApiError) as finished:
        await commands.create(movement_id, details, OFFICER)
    assert (finished.value.status, finished.value.code) == (409, "movement_finished")


async def test_a_refused_referral_ends_its_empty_case_workflow_and_the_corrected_one_opens_the_case(
        stack: Stack, driver: CaseDriver) -> None:
    """The same for a case: a referral refused by the programme's rules (resettlement to a
    member's own country) leaves a workflow that ends empty; the corrected referral, with the
    same referral id (so the same case id), opens the case in a new run."""
    commands = CaseCommands(stack.temporal, stack.settings.temporal_task_queue, case_id_key=case_id_key(stack.settings),
                            exit_permissions=TEST_EXIT_PERMISSIONS, nothing_created_grace_seconds=1)
    good = Referral.model_validate(referral(size=2, destination_country="NO"))
    actor = Actor(kind=ActorKind.USER, id="ayse", role="caseworker", offices=("IST",))
    case_id = commands.case_id_for(good.external_referral_id)
    # Refused in the workflow: the API refuses this referral before Temporal, so it is sent
    # here as raw JSON, as a referral only the workflow's rules refuse would be.
    start, request = await commands._referral(good, actor, case_id, None, WorkflowIDReusePolicy.REJECT_DUPLICATE)
    own_country = request.model_dump(mode="json")
    own_country["referral"]["destination_country"] = good.members[0].nationality
    with pytest.raises(WorkflowUpdateFailedError):
        await stack.temporal.execute_update_with_start_workflow("refer", own_country, start_workflow_operation=start)
    handle = stack.temporal.get_workflow_handle(case_id)
    assert await handle.result() is None

    outcome = await commands.refer(good, actor)
    assert outcome.created and outcome.case_id == case_id
    case = await _ok(driver, "GET", f"/api/v1/cases/{case_id}", username="ayse")
    assert case["stage"] == "referral" and case["destination_country"] == "NO"
