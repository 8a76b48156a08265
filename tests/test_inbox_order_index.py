"""The inbox's order is an index's order, so a page of the inbox never sorts the offices' open tasks.

Overdue-first (issue 17) changed the inbox's ORDER BY and left the indexes in the old order: every
inbox page then sorted all open tasks of the caller's offices (141 ms for a caseworker's page,
509 ms for a supervisor's unassigned list at 100,000 cases, bench workload 4).  Plans, not timings:
with sorting priced out, the planner must still find a plan without a Sort node.
"""

from __future__ import annotations

import pytest

from api import readmodel

_FILTERS = {
    "caseworker's inbox": ("t.office = ANY($1::text[]) AND t.role = 'caseworker'", ["IST"]),
    "two offices": ("t.office = ANY($1::text[]) AND t.role = 'medical_officer'", ["IST", "IZM"]),
    "unassigned": ("t.office = ANY($1::text[]) AND k.claimed_by IS NULL", ["IST", "IZM"]),
    "one office's overdue": ("t.office = ANY($1::text[]) AND t.overdue = true", ["IST"]),
}


@pytest.mark.parametrize("name", list(_FILTERS))
async def test_an_inbox_page_is_read_in_index_order(stack, name: str) -> None:
    where, offices = _FILTERS[name]
    sql = (f"EXPLAIN {readmodel._TASK_SELECT} WHERE t.status = 'open' AND {where} "
           f"ORDER BY {readmodel._LATE_FIRST}, t.priority_rank, t.due_at, t.task_id LIMIT 51")
    async with stack.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_sort = off")
        await conn.execute("SET LOCAL enable_incremental_sort = off")
        plan = "\n".join(r[0] for r in await conn.fetch(sql, offices))
    assert "Sort" not in plan, plan
    assert "tasks_inbox" in plan, plan
