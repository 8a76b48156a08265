"""ReferralImport: a bulk referral file as a durable job (issue 14).

The file was judged and stored at upload (``referral_import_rows``); this workflow only
walks its items in chunks and has activities refer each pending one through the case
workflow's ``refer`` Update-with-start, as ``POST /api/v1/cases`` does
(``activities/referral_import.py``).  Its history holds the import id and item ranges,
never a person's data.

* **Concurrent**: ``lanes`` chunk activities run at once, each referring its rows
  concurrently.
* **Bounded history**: after ``chunks_per_run`` chunks the workflow continues as new from
  the next item (every chunk before it is done), so a 20,000-row file keeps each run's
  history to a few hundred events.
* **Restarts**: a chunk activity interrupted by a worker restart is retried; rows it already
  decided are skipped, and a row it had sent is sent again to the (idempotent) workflow of
  its case, whose id the row carries: no duplicate case.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

START_ACTIVITY = "referral_import_start"
CHUNK_ACTIVITY = "referral_import_chunk"
FINISH_ACTIVITY = "referral_import_finish"

RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=30))  # unlimited attempts: transient outages end


def import_workflow_id(import_id: str) -> str:
    return f"referral-import-{import_id}"


class ImportInput(BaseModel):
    import_id: str
    total: int                 # items in the file
    next_item: int = 1         # where this run starts (continue-as-new)
    chunk_size: int = 50
    lanes: int = 4
    concurrency: int = 6       # referrals in flight per chunk: lanes x concurrency at once (24)
    chunks_per_run: int = 60


class ImportStarted(BaseModel):
    total: int


class ChunkInput(BaseModel):
    import_id: str
    first_item: int
    last_item: int
    concurrency: int = 6


class ChunkResult(BaseModel):
    created: int = 0
    already_referred: int = 0
    invalid: int = 0
    failed: int = 0


class ImportSummary(BaseModel):
    import_id: str
    counts: dict[str, int]


@workflow.defn(name="ReferralImport")
class ReferralImportWorkflow:
    def __init__(self) -> None:
        self._next = 1
        self._chunks = 0
        self._done_items = 0

    @workflow.query
    def progress(self) -> dict[str, int]:
        """Items handed out so far in this run (the API reads progress from PostgreSQL)."""
        return {"next_item": self._next, "chunks_this_run": self._chunks}

    @workflow.run
    async def run(self, inp: ImportInput) -> ImportSummary:
        if inp.next_item == 1:
            await workflow.execute_activity(START_ACTIVITY, inp.import_id, start_to_close_timeout=timedelta(seconds=30),
                                            retry_policy=RETRY)
        self._next = inp.next_item
        stop = False

        async def lane() -> None:
            nonlocal stop
            while not stop and self._next <= inp.total:
                first = self._next
                last = min(first + inp.chunk_size - 1, inp.total)
                self._next = last + 1
                await workflow.execute_activity(
                    CHUNK_ACTIVITY, ChunkInput(import_id=inp.import_id, first_item=first, last_item=last,
                                               concurrency=inp.concurrency),
                    start_to_close_timeout=timedelta(minutes=15), heartbeat_timeout=timedelta(seconds=60),
                    retry_policy=RETRY, result_type=ChunkResult)
                self._chunks += 1
                if self._chunks >= inp.chunks_per_run:
                    stop = True

        await asyncio.gather(*(lane() for _ in range(max(1, inp.lanes))))
        if self._next <= inp.total:
            # Every chunk handed out has finished (the lanes waited for theirs): go on from here.
            workflow.continue_as_new(inp.model_copy(update={"next_item": self._next}))
        return await workflow.execute_activity(FINISH_ACTIVITY, inp.import_id,
                                               start_to_close_timeout=timedelta(seconds=30), retry_policy=RETRY,
                                               result_type=ImportSummary)
