"""The benchmark's own parts, cheaply (a few seconds): so a change to the domain, the projection
code or the workflow shape breaks a test here instead of the next `make bench`.

The whole harness (stack, four workloads, JSON) runs in CI as `python -m bench --quick`.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.baseline_workflow import STAGES, BaselineCaseWorkflow, StageCompletion
from bench.phase import Phase, ReadYourWrites
from bench.procmon import PhaseUsage
from bench.report import render_markdown, summarize
from bench.seed import BatchingConnection, SyntheticCases, UnsupportedCall
from domain.case import referral_fingerprint
from domain.identity import case_id_for
from domain.model import RESETTLEMENT_STAGES, Referral, Stage
from embedded.temporal_server import temporal_executable
from store.projection import record_case_events


@pytest.fixture(scope="module")
def synthetic() -> SyntheticCases:
    return SyntheticCases(run=1, prefix="BENCH-TEST", now=datetime(2026, 6, 1, tzinfo=UTC))


def test_synthetic_cases_are_folds_of_their_own_events(synthetic: SyntheticCases) -> None:
    stages: Counter[Stage] = Counter()
    for i in range(300):
        events, state = synthetic.make(i)
        assert state.case_id == case_id_for(f"BENCH-TEST-{i:07d}")
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert state.version == len(events)
        assert len({e.event_id for e in events}) == len(events)
        stages[state.stage] += 1
    # The fingerprint is the one `decide` would compute for this case's own referral.
    first = events[0].event
    referral = Referral(programme=first.programme, office=first.office, priority=first.priority,
                        destination_country=first.destination_country,
                        external_referral_id=first.external_referral_id,
                        members=[m.model_dump(include={"full_name", "date_of_birth", "sex", "nationality",
                                                       "relationship"}) for m in first.members])
    assert referral_fingerprint(referral) == state.referral_fingerprint
    assert set(stages) == set(RESETTLEMENT_STAGES)  # every stage of a resettlement case


async def test_batched_seeding_records_the_projection_codes_own_statements(synthetic: SyntheticCases) -> None:
    proxy = BatchingConnection()
    try:
        for i in range(20):
            events, state = synthetic.make(i)
            assert await record_case_events(proxy, events, state) == len(events)  # type: ignore[arg-type]
    except UnsupportedCall as exc:  # pragma: no cover - the seeding falls back to the direct path
        pytest.fail(f"store.projection issues a call the batched seeding does not know: {exc}")
    inserts = {sql: rows for sql, rows in proxy.calls.items() if "INTO" in sql}
    tables = [sql.split("INTO", 1)[1].split()[0] for sql in inserts]
    assert tables[0] == "case_events" and {"cases", "stage_stays"} <= set(tables)
    assert all(len(rows) == 20 for rows in inserts.values())
    # Besides the inserts, at most the webhook outbox's wake-up (when a test left a subscriber), once.
    assert [sql.split()[0] for sql in proxy.calls if sql not in inserts] in ([], ["NOTIFY"])


async def test_baseline_workflow_is_seven_validated_updates() -> None:
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=temporal_executable())
    async with env:
        queue = f"baseline-{uuid.uuid4().hex[:8]}"
        async with Worker(env.client, task_queue=queue, workflows=[BaselineCaseWorkflow]):
            handle = await env.client.start_workflow(BaselineCaseWorkflow.run, "B-1", id=f"B-1-{queue}",
                                                     task_queue=queue)
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update(BaselineCaseWorkflow.complete_stage,
                                            StageCompletion(stage="visa", form={"x": 1}))
            for n, stage in enumerate(STAGES, start=1):
                outcome = await handle.execute_update(BaselineCaseWorkflow.complete_stage,
                                                      StageCompletion(stage=stage, form={"x": 1}))
                assert outcome.version == n
            assert outcome.stage == "closed"
            assert await handle.result() == len(STAGES)


def _phase(workload: str, c: int, n: int, update_ms: float, stages: tuple[str, ...]) -> Phase:
    phase = Phase(workload=workload, concurrency=c, total=n, wall_s=1.0)
    for _ in range(n):
        phase.latencies.add("start" if workload == "baseline" else "refer", 0.02)
        for stage in stages:
            phase.latencies.add(f"update:{stage}", update_ms / 1000)
    phase.usage = PhaseUsage(seconds=phase.wall_s, cpu_seconds={"worker": 1.0, "api": 1.0, "baseline_worker": 0.5,
                                                                "temporal_server": 1.0},
                             peak_rss_mb={"worker": 90.0, "api": 100.0, "baseline_worker": 70.0})
    phase.extra["updates_per_case"] = len(stages)
    return phase


def test_report_renders_every_table_and_is_json() -> None:
    from bench.run import QUICK

    phases = {
        "baseline": {c: _phase("baseline", c, 10, 20, STAGES) for c in QUICK.concurrency},
        "itinera_http": {c: _phase("itinera_http", c, 5, 40, STAGES + ("movement",)) for c in QUICK.concurrency},
        "bulk_baseline": {c: _phase("bulk_baseline", c, 10, 0, ()) for c in QUICK.concurrency},
        "bulk_itinera": {c: _phase("bulk_itinera", c, 5, 0, ()) for c in QUICK.concurrency},
    }
    reads = {}
    for level in QUICK.levels:
        reads[level] = {"cases": level, "phases": {}}
        for c in QUICK.concurrency:
            ph = Phase("read_model", c, 10, wall_s=0.1)
            for i in range(10):
                ph.latencies.add(f"query:q{i % 2}", 0.005 * (2 if level == QUICK.levels[1] else 1))
            reads[level]["phases"][c] = ph
    ryw = ReadYourWrites(checks=40, lags_ms=[0.0] * 40)
    results = summarize(
        plan=QUICK, quick=True, members=1, started_at=datetime.now(UTC), duration_s=1.0,
        machine={"cpu_count": 2, "memory_total_mb": 4096, "python": "3.11", "temporalio_sdk": "x"},
        git={"commit": "abc"}, stack={}, phases=phases,
        extra={"history": {"baseline": {"events_per_case": 40}, "itinera": {"events_per_case": 60}}},
        readmodel={"levels": reads, "seed": [{"cases": 10, "events": 100, "seconds": 1.0, "processes": 1,
                                              "cases_per_transaction": 250, "write_path": "batched",
                                              "vacuum_analyze_s": 0.1}]},
        ryw=ryw.as_dict(), high_water_marks_mb={},
    )
    json.dumps(results)
    throughput = results["comparison"]["throughput"]["5"]
    assert throughput["ratio"] == 0.5
    assert results["comparison"]["read_model_p99_ratio"]["1"]["ratio"] == 2.0
    assert {t["id"] for t in results["targets"]} >= {"throughput_c20", "history_events", "read_your_writes"}
    text = render_markdown(results)
    for heading in ("**Targets**", "**Per stage**", "**Bulk referral", "**Read model at scale", "history events"):
        assert heading in text


def test_profile_samples_a_running_process_and_names_its_hot_function(tmp_path) -> None:
    """``python -m bench --profile``: py-spy attached from outside, summary by self and inclusive time."""
    import subprocess
    import sys
    import time

    from bench import profile

    code = ("def spin_the_cpu():\n    return sum(i * i for i in range(10_000))\n"
            "def busy_worker():\n    while True:\n        spin_the_cpu()\nbusy_worker()\n")
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        time.sleep(0.3)
        recording = profile.Recording.start(tmp_path, "itinera_http-c1", {"worker": child.pid, "temporal": 1})
        assert set(recording.procs) == {"worker"}  # only Python processes under test are sampled
        time.sleep(1.5)
        [summary] = recording.stop()
    finally:
        child.kill()
        child.wait()
    text = summary.read_text()
    assert summary.name == "itinera_http-c1-worker.txt"
    assert "# itinera_http-c1: worker" in text
    self_part, inclusive_part = text.split("## Top frames by inclusive time")
    # the CPU is spent in the generator expression and sum(), all under busy_worker/spin_the_cpu
    assert "spin_the_cpu" in self_part or "<genexpr>" in self_part
    top_inclusive = inclusive_part.strip().splitlines()[2]
    assert "busy_worker" in top_inclusive or "spin_the_cpu" in top_inclusive
    samples = int(text.split("\n\n")[1].split()[0])
    assert samples >= 50  # 1.5 s at 100 Hz of a process that never waits
