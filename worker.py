"""The Itinera worker: the one place that wires workflows to their activities."""

from __future__ import annotations

import asyncio

import asyncpg
import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.case_records import CaseRecordActivities
from settings import Settings, get_settings
from store.db import create_pool
from temporal_client import connect_temporal
from workflows.avrr_case import AvrrCaseWorkflow
from workflows.resettlement_case import ResettlementCaseWorkflow

log = structlog.get_logger()

WORKFLOWS = [ResettlementCaseWorkflow, AvrrCaseWorkflow]


def build_worker(client: Client, pool: asyncpg.Pool, task_queue: str) -> Worker:
    records = CaseRecordActivities(pool)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[records.record_case_events],
    )


async def run_worker(settings: Settings | None = None, *, stop: asyncio.Event | None = None) -> None:
    settings = settings or get_settings()
    client = await connect_temporal(settings)
    pool = await create_pool(settings.database_url, min_size=1, max_size=settings.database_pool_max)
    try:
        worker = build_worker(client, pool, settings.temporal_task_queue)
        log.info("worker started", task_queue=settings.temporal_task_queue, temporal=settings.temporal_target)
        async with worker:
            await (stop or asyncio.Event()).wait()
    finally:
        await pool.close()


if __name__ == "__main__":
    asyncio.run(run_worker())
