"""A long case continues-as-new when Temporal suggests it, and carries on where it was.

A Temporal dev server of its own is told to suggest continue-as-new after a few history
events, so the case below crosses into new runs mid-way; the case must finish with its
timers re-armed and nothing lost.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.api.enums.v1 import EventType

from api.commands import CaseCommands
from api.errors import ApiError
from domain.model import Actor, Referral
from domain.offices import local_date, office_time_zone
from embedded.temporal_server import EmbeddedTemporal
from temporal_client import connect_temporal
from tests.support.factories import referral
from tests.support.forms import example_form
from tests.support.stack import TEST_EXIT_PERMISSIONS, data_folder, free_port, stack_settings
from tests.support.users import worker_for
from worker import build_worker


@pytest.fixture(scope="module")
async def eager_commands(stack) -> AsyncIterator[CaseCommands]:
    folder = data_folder()
    server = EmbeddedTemporal(folder, port=free_port(), ui_port=None,
                              extra_args=["--dynamic-config-value", "limit.historyCount.suggestContinueAsNew=25"])
    try:
        settings = stack_settings(data_dir=folder, temporal_address=await server.start(), database_url=stack.database_url)
        client = await connect_temporal(settings)
        task_queue = f"can-{uuid.uuid4().hex[:8]}"
        async with build_worker(client, stack.pool, task_queue):
            yield CaseCommands(client, task_queue, exit_permissions=TEST_EXIT_PERMISSIONS)
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def test_case_continues_as_new_mid_way_and_finishes(eager_commands: CaseCommands, stack) -> None:
    body = Referral.model_validate(referral(size=2))
    outcome = await eager_commands.refer(body, Actor(id="ayse", role="caseworker"))
    case_id = outcome.case_id
    completed = 0
    while True:
        async with stack.pool.acquire() as conn:
            task = await conn.fetchrow("SELECT task_id, task_type, role FROM tasks WHERE case_id = $1 AND status = 'open' "
                                       "ORDER BY task_id LIMIT 1", case_id)
            if task is None:
                break
            today = local_date(datetime.now(UTC), office_time_zone(body.office))  # the office's day
        await eager_commands.complete_task(case_id, task["task_id"], example_form(dict(task), today),
                                           Actor(id=worker_for(task, body.office), role=task["role"]))
        completed += 1

    async with stack.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT status, closure_reason, version FROM cases WHERE case_id = $1", case_id)
        seqs = [r["seq"] for r in await conn.fetch("SELECT seq FROM case_events WHERE case_id = $1 ORDER BY seq",
                                                   case_id)]
    assert (row["status"], row["closure_reason"]) == ("closed", "arrived")
    assert seqs == list(range(1, row["version"] + 1))  # no event lost or doubled across runs
    assert completed == 13

    client = eager_commands._client
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{case_id}'")]
    assert len(runs) >= 2, "the case should have continued-as-new at least once"
    first = min(runs, key=lambda w: w.start_time)
    history = await client.get_workflow_handle(case_id, run_id=first.run_id).fetch_history()
    assert history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    last = max(runs, key=lambda w: w.start_time)
    later = await client.get_workflow_handle(case_id, run_id=last.run_id).fetch_history()
    started = [e for e in later.events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED]
    assert started, "the new run re-arms the case's clock from the state it carried"


async def test_the_first_validator_after_continue_as_new_judges_by_the_same_rules_as_the_handler(
        eager_commands: CaseCommands, stack) -> None:
    """Before the rule flags were known from ``__init__``, the first Update validator of a new
    run judged without the fit-to-travel rule: a departure before the members' checks passed
    it, reached history, and only the handler refused it."""
    body = Referral.model_validate(referral(size=1))
    case_id = (await eager_commands.refer(body, Actor(id="ayse", role="caseworker"))).case_id
    client = eager_commands._client
    while True:
        async with stack.pool.acquire() as conn:
            task = await conn.fetchrow("SELECT task_id, task_type, role FROM tasks WHERE case_id = $1 AND status = 'open' "
                                       "ORDER BY task_id LIMIT 1", case_id)
            today = local_date(datetime.now(UTC), office_time_zone(body.office))  # the office's day
        if task["task_type"] == "record_departure":
            break
        await eager_commands.complete_task(case_id, task["task_id"], example_form(dict(task), today),
                                           Actor(id=worker_for(task, body.office), role=task["role"]))

    handle = client.get_workflow_handle(case_id)
    fresh = await handle.fetch_history()
    accepted = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    assert not [e for e in fresh.events if e.event_type == accepted], "the check's run continued as new: a fresh run"
    async with stack.pool.acquire() as conn:
        checked_at = await conn.fetchval(
            "SELECT (payload->>'checked_at')::timestamptz FROM case_events WHERE case_id = $1 "
            "AND event_type = 'FitToTravelChecked'", case_id)
    before_the_check = (checked_at - timedelta(hours=1)).isoformat()
    with pytest.raises(ApiError) as refused:
        await eager_commands.complete_task(case_id, task["task_id"], {"outcome": "departed", "departed_at": before_the_check},
                                           Actor(id="emre", role="movement_officer"))
    assert (refused.value.status, refused.value.code) == (409, "fit_to_travel_missing")
    after = await handle.fetch_history()
    assert not [e for e in after.events if e.event_type == accepted], "the validator refused it: nothing in history"
