"""Workload 8's anchors (``bench.recorded_baseline``): the baseline workflow that writes each
stage's row to PostgreSQL before it answers, by a regular or a local activity; and the
per-Update comparison the report draws from them.  Real Temporal, real PostgreSQL."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.worker import Worker

from bench import recording_price
from bench.baseline_worker import RECORDED_STAGES_TABLE, StageRecorder
from bench.baseline_workflow import STAGES, StageCompletion
from bench.phase import Phase
from bench.procmon import PhaseUsage
from bench.recorded_baseline import LocalRecordedCaseWorkflow, RecordedCaseWorkflow
from tests.support.stack import Stack


@pytest.mark.parametrize("kind, recorded_by", [(RecordedCaseWorkflow, "ACTIVITY_TASK_SCHEDULED"),
                                                (LocalRecordedCaseWorkflow, "MARKER_RECORDED")])
async def test_each_update_is_in_postgresql_before_it_answers(stack: Stack, kind: type, recorded_by: str) -> None:
    await stack.pool.execute(RECORDED_STAGES_TABLE)
    try:
        await _run_a_recorded_case(stack, kind, recorded_by)
    finally:  # the application's schema stays the migrations' own for the other tests
        await stack.pool.execute("DROP TABLE bench_recorded_stages")


async def _run_a_recorded_case(stack: Stack, kind: type, recorded_by: str) -> None:
    bare = Client(stack.temporal.service_client, namespace=stack.settings.temporal_namespace)
    queue = f"recorded-{uuid.uuid4().hex[:8]}"
    case_id = f"B-{queue}"
    async with Worker(bare, task_queue=queue, workflows=[kind], activities=[StageRecorder(stack.pool).record_stage]):
        handle = await bare.start_workflow(kind.run, case_id, id=case_id, task_queue=queue)
        with pytest.raises(WorkflowUpdateFailedError):  # the validator refuses: nothing written
            await handle.execute_update(kind.complete_stage, StageCompletion(stage="visa", form={"x": 1}))
        assert await stack.pool.fetchval("SELECT count(*) FROM bench_recorded_stages WHERE case_id = $1", case_id) == 0
        for n, stage in enumerate(STAGES, start=1):
            outcome = await handle.execute_update(kind.complete_stage,
                                                  StageCompletion(stage=stage, form={"n": n}, actor="ayse"))
            row = await stack.pool.fetchrow("SELECT stage, form FROM bench_recorded_stages WHERE case_id = $1 AND seq = $2",
                                            case_id, n)
            assert row is not None and row["stage"] == stage  # readable once the Update answered
            assert outcome.version == n
        assert outcome.stage == "closed"
        assert await handle.result() == len(STAGES)
        history = await handle.fetch_history()
    types = Counter(EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") for e in history.events)
    assert types[recorded_by] == len(STAGES)
    assert types["WORKFLOW_EXECUTION_UPDATE_COMPLETED"] == len(STAGES)


def _phase(workload: str, cases: int, updates_per_case: int, update_ms: float, cpu: dict[str, float]) -> Phase:
    phase = Phase(workload=workload, concurrency=1, total=cases, wall_s=1.0)
    for _ in range(cases * updates_per_case):
        phase.latencies.add("update:x", update_ms / 1000)
    phase.usage = PhaseUsage(seconds=1.0, cpu_seconds=cpu, peak_rss_mb={})
    phase.extra["updates_per_case"] = updates_per_case
    return phase


def test_the_price_is_compared_per_update_on_each_variants_own_processes() -> None:
    everything = {"worker": 1.0, "api": 1.0, "baseline_worker": 0.5, "temporal_server": 1.0, "postgres": 0.5,
                  "bench_client": 2.0}
    phases = {
        "baseline": {1: _phase("baseline", 10, 7, 10, everything)},
        "recorded_baseline": {1: _phase("recorded_baseline", 5, 7, 40, everything)},
        "recorded_local_baseline": {1: _phase("recorded_local_baseline", 8, 7, 20, everything)},
        "caller_recorded_baseline": {1: _phase("caller_recorded_baseline", 8, 7, 20, everything)},
        "itinera_http": {1: _phase("itinera_http", 2, 11, 80, everything)},
    }
    history = {"baseline": {"events_per_case": 40}, "recorded_baseline": {"events_per_case": 79},
               "itinera": {"events_per_case": 141}}
    price = recording_price.summarize(phases, [1, 20], history)
    assert list(price) == [1]  # only the levels every variant ran at
    row = price[1]
    assert row["baseline"]["updates_per_s"] == 70.0 and row["itinera_http"]["updates_per_s"] == 22.0
    # server side only: the bare baseline's worker, Temporal, PostgreSQL (2.0 s over 70 updates) ...
    assert row["baseline"]["server_cpu_s_per_update"] == round(2.0 / 70, 5)
    # ... Itinera's worker, API, Temporal, PostgreSQL (3.5 s over 22 updates); the caller's write is its client's
    assert row["itinera_http"]["server_cpu_s_per_update"] == round(3.5 / 22, 5)
    assert row["caller_recorded_baseline"]["server_cpu_s_per_update"] == round(4.0 / 56, 5)
    assert row["itinera_http"]["history_events_per_case"] == 141
    assert row["ratios"]["itinera_vs_recorded_updates_per_s"] == round(22 / 35, 3)
    assert row["ratios"]["itinera_vs_recorded_p50"] == 2.0
    text = "\n".join(recording_price.render(price))
    assert "recorded by a regular activity" in text and "| 1 | Itinera through HTTP (workload 2) | 22.0 |" in text
