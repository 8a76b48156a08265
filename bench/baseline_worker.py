"""The baseline's worker, run as its own process (like Itinera's worker) so its CPU time and
memory are measured the same way:

    ITINERA_TEMPORAL_ADDRESS=127.0.0.1:7233 ITINERA_DATABASE_URL=postgresql://... \
        BENCH_TASK_QUEUE=bench-baseline python -m bench.baseline_worker

Connects like every Itinera process (``ITINERA_*`` settings: address, namespace, TLS, API
key) but with the SDK's default data converter: a bare worker.  It runs the bare baseline and
the two recorded baselines of workload 8 (``bench.recorded_baseline``), whose one activity
writes a row to the stack's PostgreSQL.  Stops on SIGTERM / SIGINT.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal

import asyncpg
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from bench.baseline_workflow import BaselineCaseWorkflow
from bench.recorded_baseline import RECORD_STAGE, LocalRecordedCaseWorkflow, RecordedCaseWorkflow, StageRecord

# The smallest honest event store: one row per stage, written once (a retry finds it there).
RECORDED_STAGES_TABLE = """
CREATE TABLE IF NOT EXISTS bench_recorded_stages (
    case_id     text        NOT NULL,
    seq         integer     NOT NULL,
    stage       text        NOT NULL,
    actor       text        NOT NULL,
    form        jsonb       NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, seq)
)"""


class StageRecorder:
    def __init__(self, pool: asyncpg.Pool):
        self._pool = pool

    @activity.defn(name=RECORD_STAGE)
    async def record_stage(self, record: StageRecord) -> None:
        await self._pool.execute(
            "INSERT INTO bench_recorded_stages (case_id, seq, stage, actor, form) VALUES ($1, $2, $3, $4, $5::jsonb) "
            "ON CONFLICT (case_id, seq) DO NOTHING",
            record.case_id, record.seq, record.stage, record.actor, json.dumps(record.form))


async def bare_client() -> Client:
    """A client on the ITINERA_* Temporal settings, with the default (JSON) data converter."""
    from settings import Settings
    from temporal_client import connect_temporal

    settings = Settings()
    itinera = await connect_temporal(settings)
    return Client(itinera.service_client, namespace=settings.temporal_namespace)


async def main() -> None:
    client = await bare_client()
    pool = await asyncpg.create_pool(os.environ["ITINERA_DATABASE_URL"], min_size=1, max_size=10)
    assert pool is not None
    await pool.execute(RECORDED_STAGES_TABLE)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with Worker(client, task_queue=os.environ["BENCH_TASK_QUEUE"],
                          workflows=[BaselineCaseWorkflow, RecordedCaseWorkflow, LocalRecordedCaseWorkflow],
                          activities=[StageRecorder(pool).record_stage]):
            print("baseline worker started", flush=True)
            await stop.wait()
    finally:
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
