"""Answering a command with the case it produced.

The command's events and projection were committed before the workflow answered, so the
read model already shows them.  The connection the request held while the workflow ran
may have died meanwhile (a PostgreSQL restart): then a fresh one from the pool is used.
If PostgreSQL cannot be read at all, the command *was* applied: the answer is a 503 that
says so, and the same request sent again returns the same outcome, exactly once.
"""

from __future__ import annotations

import asyncpg

from api import readmodel
from api.errors import ApiError
from api.request_context import current_app
from api.outages import DATABASE_OUTAGES, DATABASE_RETRY_AFTER_SECONDS
from api.schemas import CaseDetail


async def case_after_command(db: asyncpg.Connection, case_id: str) -> CaseDetail:
    """Read with the request's own connection; if that one died while the workflow ran (a
    PostgreSQL restart), with a fresh one from the pool; if PostgreSQL cannot be read, 503."""
    try:
        case = await readmodel.get_case(db, case_id)
    except (*DATABASE_OUTAGES, asyncpg.InterfaceError):
        try:
            async with current_app().state.pool.acquire(timeout=5) as conn:
                case = await readmodel.get_case(conn, case_id)
        except (TimeoutError, *DATABASE_OUTAGES):  # TimeoutError: no connection became free
            raise ApiError(503, "applied_but_unreadable",
                           f"the command was applied to case {case_id}, but the case cannot be read right now; "
                           "read it again shortly (sending the same request again changes nothing)",
                           headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}) from None
    if case is None:  # cannot happen: the events were committed before the workflow answered
        raise ApiError(500, "read_model_behind", f"case {case_id} was changed but is missing from the read model")
    return case
