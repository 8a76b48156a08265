"""Workload 8: the price of recording, measured without Itinera.

The baseline (``bench.baseline_workflow``) answers each Update from memory.  Itinera cannot:
before a case command answers, its events are in PostgreSQL, written by an activity whose
input history holds first (README, "Crashes").  These two workflows have the baseline's
shape and validators and add only that promise, with no domain code, no projection and no
HTTP API:

- ``BenchRecordedCase``: each Update runs a **regular** activity that inserts one row (the
  stage's form) into PostgreSQL, then answers: Itinera's design, nothing else.
- ``BenchLocalRecordedCase``: the same row written by a **local** activity (what Itinera did
  until wave 2; cheaper in history, but a crash between the write and the workflow task's
  completion leaves PostgreSQL ahead of history).

So a run reports three anchors for the same Temporal server: bare, recorded by a regular
activity, recorded by a local activity; Itinera's distance from the second is what its own
code costs, the distance between the first two what the promise costs.  The activity itself
(asyncpg) lives in ``bench.baseline_worker``, outside the workflow sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

from bench.baseline_workflow import STAGES, StageCompletion, StageOutcome, check_stage, outcome_after

RECORDED_WORKFLOW = "BenchRecordedCase"
LOCAL_RECORDED_WORKFLOW = "BenchLocalRecordedCase"
RECORD_STAGE = "bench_record_stage"
# As Itinera's recording retries: without limit, a transient PostgreSQL failure only delays.
RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=30), maximum_attempts=0)


@dataclass
class StageRecord:
    """One row: what the activity writes before the Update answers."""

    case_id: str
    seq: int
    stage: str
    actor: str
    form: dict[str, Any] = field(default_factory=dict)


class _RecordedCase:
    """The body both workflows share; ``_record`` says how the row is written."""

    @workflow.init
    def __init__(self, case_id: str) -> None:
        self._case_id = case_id
        self._done = 0

    async def _run(self) -> int:
        await workflow.wait_condition(lambda: self._done == len(STAGES) and workflow.all_handlers_finished())
        return self._done

    @workflow.update(name="complete_stage")
    async def complete_stage(self, request: StageCompletion) -> StageOutcome:
        record = StageRecord(case_id=self._case_id, seq=self._done + 1, stage=request.stage, actor=request.actor,
                             form=request.form)
        await self._record(record)
        self._done += 1
        return outcome_after(self._case_id, self._done)

    @complete_stage.validator
    def _validate_complete_stage(self, request: StageCompletion) -> None:
        check_stage(self._done, request)

    async def _record(self, record: StageRecord) -> None:
        raise NotImplementedError


@workflow.defn(name=RECORDED_WORKFLOW)
class RecordedCaseWorkflow(_RecordedCase):
    @workflow.run
    async def run(self, case_id: str) -> int:
        return await self._run()

    async def _record(self, record: StageRecord) -> None:
        await workflow.execute_activity(RECORD_STAGE, record, start_to_close_timeout=timedelta(seconds=10),
                                        retry_policy=RETRY)


@workflow.defn(name=LOCAL_RECORDED_WORKFLOW)
class LocalRecordedCaseWorkflow(_RecordedCase):
    @workflow.run
    async def run(self, case_id: str) -> int:
        return await self._run()

    async def _record(self, record: StageRecord) -> None:
        await workflow.execute_local_activity(RECORD_STAGE, record, start_to_close_timeout=timedelta(seconds=15),
                                              retry_policy=RETRY)
