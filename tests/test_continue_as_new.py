"""A long case continues-as-new when Temporal suggests it, and carries on where it was.

A Temporal dev server of its own is told to suggest continue-as-new after a few history
events, so the case below crosses into new runs mid-way; the case must finish with its
timers re-armed and nothing lost.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.api.enums.v1 import EventType

from api.commands import CaseCommands
from domain.model import Actor, Referral
from embedded.temporal_server import EmbeddedTemporal
from temporal_client import connect_temporal
from tests.support.factories import referral
from tests.support.forms import example_form
from tests.support.stack import data_folder, free_port, stack_settings
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
            yield CaseCommands(client, task_queue)
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
            today = await conn.fetchval("SELECT current_date")
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
