"""Worker versioning (issue 16): a new build rolls out while running cases carry on.

Two builds of the real worker on one task queue of the session's Temporal server: build b1
is made current by its first worker (a fresh deployment), a case starts on it; build b2
starts beside it and is rolled out (``worker_versioning.rollout``, what ``itinera rollout``
does); b1's workers stop, and the running case moves on to b2 at its next step (case
workflows auto-upgrade, which the replay suite makes safe) and finishes there."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from temporalio.client import WorkflowHandle

from api.commands import CaseCommands
from domain.model import Actor, Referral
from domain.offices import local_date, office_time_zone
from tests.support.factories import referral
from tests.support.forms import example_form
from tests.support.users import worker_for
from worker import _bootstrap_version, build_worker
from worker_versioning import current_build_id, deployment_config, rollout


async def _versioning(handle: WorkflowHandle) -> tuple[str, int]:
    info = (await handle.describe()).raw_description.workflow_execution_info.versioning_info
    return info.deployment_version.build_id, info.behavior


async def _work_one_task(commands: CaseCommands, stack, case_id: str, office: str) -> bool:
    async with stack.pool.acquire() as conn:
        task = await conn.fetchrow("SELECT task_id, task_type, role FROM tasks WHERE case_id = $1 AND status = 'open' "
                                   "ORDER BY task_id LIMIT 1", case_id)
        today = local_date(datetime.now(UTC), office_time_zone(office))  # the office's day
    if task is None:
        return False
    await commands.complete_task(case_id, task["task_id"], example_form(dict(task), today),
                                 Actor(id=worker_for(task, office), role=task["role"]))
    return True


async def test_a_new_build_rolls_out_and_a_running_case_moves_on_to_it(stack) -> None:
    client = stack.temporal
    task_queue = f"versioned-{uuid.uuid4().hex[:8]}"
    deployment = f"itinera-test-{uuid.uuid4().hex[:8]}"
    settings = stack.settings.model_copy(update={"worker_deployment_name": deployment, "worker_build_id": "b1"})
    commands = CaseCommands(client, task_queue)
    body = Referral.model_validate(referral(size=1))

    async with build_worker(client, stack.pool, task_queue, deployment=deployment_config(deployment, "b1")):
        await _bootstrap_version(client, settings)  # a fresh deployment: its first build becomes current
        assert await current_build_id(client, deployment) == "b1"
        case_id = (await commands.refer(body, Actor(id="ayse", role="caseworker"))).case_id
        assert await _work_one_task(commands, stack, case_id, body.office)
        handle = client.get_workflow_handle(case_id)
        build, behavior = await _versioning(handle)
        assert build == "b1" and behavior == 2  # VERSIONING_BEHAVIOR_AUTO_UPGRADE

        async with build_worker(client, stack.pool, task_queue, deployment=deployment_config(deployment, "b2")):
            await _bootstrap_version(client, settings.model_copy(update={"worker_build_id": "b2"}))
            assert await current_build_id(client, deployment) == "b1"  # a second build never takes over by itself
            await rollout(client, deployment, "b2")
            assert await current_build_id(client, deployment) == "b2"

    async with build_worker(client, stack.pool, task_queue, deployment=deployment_config(deployment, "b2")):
        # Only b2 runs now: the case goes on, step by step, to its end.
        steps = 0
        while await _work_one_task(commands, stack, case_id, body.office):
            steps += 1
        build, _ = await _versioning(handle)
        assert steps > 5 and build == "b2"
        async with stack.pool.acquire() as conn:
            assert await conn.fetchval("SELECT status FROM cases WHERE case_id = $1", case_id) == "closed"
