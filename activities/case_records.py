"""Activities that record what a case workflow decided: the only way cases reach PostgreSQL."""

from __future__ import annotations

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.records import RECORD_CASE_EVENTS, CaseEventsBatch
from store.projection import EventStoreConflict, record_case_events

# Failures that another attempt cannot fix: the value itself is refused (SQLSTATE class 22
# "data exception": a NUL byte, an untranslatable character, a number out of range; class 54:
# a value over a size limit; class 23: a constraint the value breaks) or cannot even be
# encoded (a lone surrogate).  Everything else
# (PostgreSQL down or restarting, a deadlock, a serialization failure) is retried without
# limit by the workflow's retry policy.
_REFUSED_VALUES: tuple[type[BaseException], ...] = (asyncpg.DataError, asyncpg.ProgramLimitExceededError,
                                                    asyncpg.IntegrityConstraintViolationError, UnicodeError)


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
                return await record_case_events(conn, batch.events, batch.state, batch.audit, batch.actor)
            except EventStoreConflict as exc:
                # Retrying cannot fix a diverged store: fail the command loudly instead.
                raise ApplicationError(str(exc), type="event_store_conflict", non_retryable=True) from exc
            except asyncpg.UniqueViolationError as exc:
                # E.g. another case already holds this external referral id.
                activity.logger.error("case %s: a unique key is held by another case (%s)", batch.case_id,
                                      exc.constraint_name)
                raise ApplicationError(f"another case already holds this value ({exc.constraint_name}); "
                                       "nothing was recorded", type="recording_conflict", non_retryable=True) from exc
            except _REFUSED_VALUES as exc:
                activity.logger.error("case %s: PostgreSQL refused a value (%s)", batch.case_id, type(exc).__name__)
                raise ApplicationError(
                    f"PostgreSQL refused a value of this command ({type(exc).__name__}); nothing was recorded",
                    type="unstorable_input", non_retryable=True,
                ) from exc
