"""Activities that record what a case workflow decided: the only way cases reach PostgreSQL."""

from __future__ import annotations

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.records import RECORD_CASE_EVENTS, CaseEventsBatch
from store.projection import EventStoreConflict, record_case_events


class CaseRecordActivities:
    """Holds the connection pool; ``worker.py`` registers the bound methods."""

    def __init__(self, pool: asyncpg.Pool):
        self._pool = pool

    @activity.defn(name=RECORD_CASE_EVENTS)
    async def record_case_events(self, batch: CaseEventsBatch) -> int:
        """Append the batch's events and update the projections in one transaction.

        Safe to retry: events already stored are skipped, the projection only moves forward.
        Returns the number of events that were new (0 on a retry of a committed attempt).
        """
        async with self._pool.acquire() as conn:
            try:
                return await record_case_events(conn, batch.events, batch.state)
            except EventStoreConflict as exc:
                # Retrying cannot fix a diverged store: fail the command loudly instead.
                raise ApplicationError(str(exc), type="event_store_conflict", non_retryable=True) from exc
