"""No input can put a case's recording into endless retry.

The API refuses what PostgreSQL cannot store at the edge (tests/test_input_hardening.py);
these tests go around the edge, as a buggy or hostile client of Temporal itself would,
and show the second line of defence: a value PostgreSQL refuses fails that one command
at once with a clear, non-retryable error, nothing of it is written, and the case goes
on taking commands.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.case_records import CaseRecordActivities
from consistency import check
from domain.case import fold
from domain.events import NoteAdded, RecordedEvent
from domain.model import Actor
from domain.records import CaseEventsBatch
from store.projection import load_events
from tests.support.driver import CaseDriver
from tests.support.factories import referral


async def test_a_value_postgresql_refuses_fails_the_recording_without_retrying(stack, driver: CaseDriver) -> None:
    case = await driver.refer(referral())
    async with stack.pool.acquire() as conn:
        events = await load_events(conn, case["case_id"])
    last = events[-1]
    poisoned = RecordedEvent.model_construct(
        event_id=str(uuid.uuid4()), case_id=case["case_id"], seq=last.seq + 1, occurred_at=last.occurred_at,
        actor=last.actor, event=NoteAdded.model_construct(text="a\u0000b"))
    state = fold(events)
    assert state is not None
    batch = CaseEventsBatch.model_construct(case_id=case["case_id"], events=[poisoned],
                                            state=state.model_copy(update={"version": poisoned.seq}))
    with pytest.raises(ApplicationError) as failure:
        await ActivityEnvironment().run(CaseRecordActivities(stack.pool).record_case_events, batch)
    assert failure.value.non_retryable and failure.value.type == "unstorable_input"
    async with stack.pool.acquire() as conn:
        assert len(await load_events(conn, case["case_id"])) == len(events)  # nothing of it written
        assert await conn.fetchval("SELECT version FROM cases WHERE case_id = $1", case["case_id"]) == last.seq


async def test_a_nul_sent_straight_to_the_workflow_does_not_wedge_the_case(stack, driver: CaseDriver) -> None:
    case = await driver.refer(referral())
    handle = stack.temporal.get_workflow_handle(case["case_id"])
    actor = Actor(id="ayse", role="caseworker", offices=("IST",))
    poisoned = {"action": {"kind": "note", "text": "a\u0000b"}, "actor": actor.model_dump(mode="json")}
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await asyncio.wait_for(handle.execute_update("act", poisoned), timeout=30)
    assert isinstance(failure.value.cause, ApplicationError)
    # The case takes the next command at once, and its three records agree.
    fine = {"action": {"kind": "note", "text": "Called the family; all well."}, "actor": actor.model_dump(mode="json")}
    outcome = await asyncio.wait_for(handle.execute_update("act", fine), timeout=30)
    assert outcome["event_types"] == ["NoteAdded"]
    async with stack.pool.acquire() as conn:
        report = await check(conn, stack.temporal, [case["case_id"]])
    assert report.clean, report.differences


async def test_a_second_case_for_one_referral_id_fails_at_once_instead_of_retrying(stack, driver: CaseDriver) -> None:
    """Two case ids for one external referral id (e.g. a client of Temporal deriving ids
    without the deployment's key) meet PostgreSQL's unique key: the second referral fails
    with a clear conflict, it does not retry for ever."""
    from api.commands import CaseCommands
    from api.errors import ApiError
    from domain.model import Referral

    body = referral()
    await driver.refer(body)
    keyless = CaseCommands(stack.temporal, stack.settings.temporal_task_queue)  # derives another id
    with pytest.raises(ApiError) as failure:
        await asyncio.wait_for(keyless.refer(Referral.model_validate(body), Actor(id="ayse", role="caseworker")), 30)
    assert (failure.value.status, failure.value.code) == (409, "recording_conflict")
