"""The anchor of the benchmark: a bare Temporal workflow with the shape of a resettlement case.

Started by the client, then seven Updates with validators, one per stage (referral,
interview, health, orientation, visa, movement, arrival), then it completes.  No
activity, no database, no domain code: whatever Itinera costs on top of this is the
price of its domain logic, its event store and projections, and its HTTP API.

It lives in an importable module (not ``__main__``) because the workflow sandbox
re-imports workflow classes; ``bench.baseline_worker`` runs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

STAGES: tuple[str, ...] = ("referral", "interview", "health", "orientation", "visa", "movement", "arrival")
WORKFLOW_NAME = "BenchBaselineCase"


@dataclass
class StageCompletion:
    """What a stage's update carries: the stage it completes, the form, who completes it."""

    stage: str
    form: dict[str, Any] = field(default_factory=dict)
    actor: str = ""


@dataclass
class StageOutcome:
    case_id: str
    version: int
    stage: str


@workflow.defn(name=WORKFLOW_NAME)
class BaselineCaseWorkflow:
    @workflow.init
    def __init__(self, case_id: str) -> None:
        self._case_id = case_id
        self._done = 0  # stages completed

    @workflow.run
    async def run(self, case_id: str) -> int:
        await workflow.wait_condition(lambda: self._done == len(STAGES) and workflow.all_handlers_finished())
        return self._done

    @workflow.update(name="complete_stage")
    def complete_stage(self, request: StageCompletion) -> StageOutcome:
        self._done += 1
        return outcome_after(self._case_id, self._done)

    @complete_stage.validator
    def _validate_complete_stage(self, request: StageCompletion) -> None:
        check_stage(self._done, request)


def outcome_after(case_id: str, done: int) -> StageOutcome:
    """The answer once ``done`` stages are complete: the stage that follows (or closed)."""
    return StageOutcome(case_id=case_id, version=done, stage=STAGES[done] if done < len(STAGES) else "closed")


def check_stage(done: int, request: StageCompletion) -> None:
    """The validator every benchmark workflow shares: the stage in order, a form given."""
    if done >= len(STAGES):
        raise ApplicationError("the case is closed", type="case_closed", non_retryable=True)
    if request.stage != STAGES[done]:
        raise ApplicationError(f"the case is in stage '{STAGES[done]}', not '{request.stage}'",
                               type="wrong_stage", non_retryable=True)
    if not request.form:
        raise ApplicationError("the form is empty", type="invalid_form", non_retryable=True)
