"""The activity that opens the case a split decided (``domain.engine.split``).

Called by the original case's workflow after its ``CaseSplit`` is recorded: the activity's
input (the new case's id, derived from the original, and what it opens with) is in the
original's history before it runs, so every attempt, after any crash, asks for the same
thing.  It is an update-with-start of the new case's workflow (id = the new case id, an
existing one used as it is) with a fixed update id: Temporal starts at most one workflow of
that id and applies the ``open_split`` Update once, and the new case itself decides nothing
when it already exists from this split.  So a retry neither loses the new case nor makes two.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from domain.records import OPEN_SPLIT_CASE, CaseWorkflowInput, CommandOutcome, OpenSplitCaseRequest


class CaseSplitActivities:
    """Holds the Temporal client; ``worker.py`` registers ``open_split_case``."""

    def __init__(self, client: Client):
        self._client = client

    @activity.defn(name=OPEN_SPLIT_CASE)
    async def open_split_case(self, request: OpenSplitCaseRequest) -> CommandOutcome:
        start = WithStartWorkflowOperation(
            request.workflow_type, CaseWorkflowInput(case_id=request.case_id), id=request.case_id,
            task_queue=activity.info().task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
        try:
            return await self._client.execute_update_with_start_workflow(
                "open_split", request, start_workflow_operation=start, id=request.update_id,
                result_type=CommandOutcome)
        except WorkflowAlreadyStartedError:
            # The new case's workflow has already finished (closed): it was opened long ago.
            return CommandOutcome(case_id=request.case_id, version=0, event_types=[])
        except WorkflowUpdateFailedError as exc:
            # The new case refused its opening: a defect (the original judged the same opening
            # before recording the split), reported on the original's command, not retried.
            cause = exc.cause
            raise ApplicationError(f"case {request.case_id} could not be opened: "
                                   f"{getattr(cause, 'message', None) or exc}", type="split_open_failed",
                                   non_retryable=True) from None
