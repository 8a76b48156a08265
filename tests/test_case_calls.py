"""A group fan-out's calls to a case are bounded (activities/case_calls.py): a case workflow
that no worker runs (as after a crash that left its Update unanswered) makes the call fail
within the patience, naming the case, as a retryable failure, instead of holding the batch
until the activity's own time-out.  Real Temporal: a workflow started on a task queue that
nobody polls."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from temporalio.exceptions import ApplicationError

from activities import case_calls
from domain.records import CompleteTaskRequest
from domain.model import Actor
from tests.support.stack import Stack


@pytest.fixture
async def unanswered_case(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(case_calls, "CASE_CALL_PATIENCE", timedelta(seconds=1))
    case_id = f"C-UNANSWERED-{uuid.uuid4().hex[:8]}"
    await stack.temporal.start_workflow("NobodyRunsThis", id=case_id, task_queue=f"nobody-{uuid.uuid4().hex}",
                                        execution_timeout=timedelta(minutes=5))
    return case_id


async def test_an_update_the_case_never_answers_fails_in_time_naming_the_case(stack: Stack,
                                                                               unanswered_case: str) -> None:
    body = CompleteTaskRequest(task_id="T-1", form={}, actor=Actor.system())
    started = time.monotonic()
    with pytest.raises(ApplicationError) as raised:
        await case_calls.update_case(stack.temporal, unanswered_case, "complete_task", body, "movement-x-departure")
    assert time.monotonic() - started < 30  # bounded: not the SDK's or the batch's own time-out
    assert raised.value.type == "case_unresponsive"
    assert not raised.value.non_retryable  # Temporal runs the batch again
    assert unanswered_case in raised.value.message and "movement-x-departure" in raised.value.message


async def test_a_state_query_the_case_never_answers_fails_in_time(stack: Stack, unanswered_case: str) -> None:
    with pytest.raises(ApplicationError) as raised:
        await case_calls.case_state(stack.temporal, unanswered_case)
    assert raised.value.type == "case_unresponsive"
    assert unanswered_case in raised.value.message


async def test_no_such_case_is_none(stack: Stack) -> None:
    assert await case_calls.case_state(stack.temporal, f"C-NONE-{uuid.uuid4().hex[:8]}") is None


async def test_settled_passes_an_update_temporal_does_not_know_and_one_that_finished(stack: Stack, driver) -> None:
    """``settled``: an Update this batch never sent is no wait (NOT_FOUND); one that finished
    (here the case's referral and a caseworker's completion, by their update ids from the
    case's history) answers at once; neither is an error."""
    from tests.support.factories import referral

    case = await driver.refer(referral(size=1))
    await driver.complete(case["open_tasks"][0], "IST")
    started = time.monotonic()
    await case_calls.settled(stack.temporal, case["case_id"], "movement-never-sent-booking-x")
    history = await stack.temporal.get_workflow_handle(case["case_id"]).fetch_history()
    finished = [e.workflow_execution_update_completed_event_attributes.meta.update_id for e in history.events
                if e.HasField("workflow_execution_update_completed_event_attributes")]
    assert len(finished) >= 2
    for update_id in finished:
        await case_calls.settled(stack.temporal, case["case_id"], update_id)
    assert time.monotonic() - started < 30
