"""How a group workflow's activities reach a case: only through Temporal (the case workflow's
``state`` query and its Updates), each call bounded, and the whole batch heartbeating.

Shared by the movement and orientation-session fan-outs.  Why bounded: a batch activity
heartbeats while it waits, so without a bound one case that never answers (its Update
lost with a killed worker, its workflow task failing) would hold the whole batch until the
activity's own time-out, minutes later, with nothing said about which case.  A call that has
not answered within ``CASE_CALL_PATIENCE`` fails the attempt, naming the case; Temporal runs
the batch again, and every Update is sent again with the same id, which the case applies
once (an Update already done answers with its first outcome).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.case import CaseState
from domain.records import CommandOutcome

# Longer than a case's slowest honest answer: its recording activity's time-out (10 s) and a
# retry after a worker crash; far shorter than a batch's five-minute time-out.
CASE_CALL_PATIENCE = timedelta(seconds=45)

T = TypeVar("T")


async def _bounded(call: Awaitable[T], case_id: str, what: str) -> T:
    patience = CASE_CALL_PATIENCE.total_seconds()
    try:
        async with asyncio.timeout(patience) as deadline:
            return await call
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):  # the SDK's word for a cancelled wait
        if not deadline.expired():
            raise  # not our bound (the activity cancelled, or the SDK's own deadline)
        raise ApplicationError(
            f"case {case_id} did not answer {what} within {patience:g} s; the batch is sent again "
            "(the same Update ids: each applied once)", type="case_unresponsive") from None


async def case_state(client: Client, case_id: str) -> CaseState | None:
    """The case as its workflow shows it; ``None`` when there is no such case (or no longer a
    running workflow to ask)."""
    try:
        return await _bounded(client.get_workflow_handle(case_id).query("state", result_type=CaseState),
                              case_id, "its state query")
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            return None
        raise


async def update_case(client: Client, case_id: str, update: str, body: Any, update_id: str) -> CommandOutcome:
    """The case's ``update`` (``complete_task`` / ``act``) with ``update_id``, the same for every
    attempt of the batch.  Raises ``WorkflowUpdateFailedError`` when the case refuses it and
    ``RPCError`` when Temporal does."""
    return await _bounded(client.get_workflow_handle(case_id).execute_update(
        update, body, id=update_id, result_type=CommandOutcome), case_id, f"its {update} Update {update_id}")


async def settled(client: Client, case_id: str, update_id: str) -> None:
    """Wait (bounded) until the case's Update ``update_id``, if Temporal knows it (an earlier
    attempt of this batch sent it), has finished, before the case is asked or sent anything else.

    Why: a retried batch's first call used to be the case's ``state`` query.  A query that a
    worker answers by replaying the case's history can include an activity result whose
    workflow task is still pending (the in-flight Update finished in that replay); the next
    Update sent on that answer is then delivered in the same workflow task as the first one's
    completion, in an order a later replay of the history does not reproduce (the SDK's
    "UpdateMachine ... transition is invalid": the case's workflow task then fails on every
    worker, and the case is stuck).  Seen in CI: a worker killed mid-way through a delay's
    fan-out (drop, then book).  Waiting for the earlier Update first keeps each Update of a
    case in a workflow task of its own."""
    handle = client.get_workflow_handle(case_id).get_update_handle(update_id)  # its answer is not read
    try:
        await _bounded(handle.result(), case_id, f"its earlier Update {update_id}")
    except WorkflowUpdateFailedError:
        return  # it finished, refused: the caller asks the case what it shows
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        # Temporal does not know it (never sent, or the case's run has finished): nothing in flight


async def heartbeating(work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` while heartbeating every second, so that a worker that dies is noticed
    within the activity's heartbeat time-out and the batch runs again elsewhere."""
    done = asyncio.Event()

    async def beat() -> None:
        while not done.is_set():
            activity.heartbeat()
            try:
                await asyncio.wait_for(done.wait(), timeout=1.0)
            except TimeoutError:
                pass

    beating = asyncio.create_task(beat())
    try:
        return await work()
    finally:
        done.set()
        await beating
