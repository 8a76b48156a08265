"""The recording activity is idempotent: a retry writes nothing twice and never rolls back."""

from __future__ import annotations

from temporalio.testing import ActivityEnvironment

from activities.case_records import CaseRecordActivities
from domain.case import fold
from domain.records import CaseEventsBatch
from store.projection import load_events, rebuild_case_projection
from tests.support.driver import CaseDriver
from tests.support.factories import referral


async def _snapshot(conn, case_id: str) -> tuple:
    return (
        await conn.fetch("SELECT seq, event_id, recorded_at, xmin::text FROM case_events WHERE case_id = $1 ORDER BY seq",
                         case_id),
        await conn.fetchrow("SELECT version, stage, xmin::text FROM cases WHERE case_id = $1", case_id),
        await conn.fetch("SELECT task_id, status, xmin::text FROM tasks WHERE case_id = $1 ORDER BY task_id", case_id),
    )


async def test_retried_recording_writes_nothing_twice(stack, driver: CaseDriver) -> None:
    case = await driver.refer(referral())
    case = await driver.complete(case["open_tasks"][0], "IST")
    async with stack.pool.acquire() as conn:
        events = await load_events(conn, case["case_id"])
        before = await _snapshot(conn, case["case_id"])

    # Temporal retries an activity whose completion it did not see: replay the last batch
    # (and the first) exactly as the workflow sent them.
    activities = CaseRecordActivities(stack.pool)
    env = ActivityEnvironment()
    last_batch = [e for e in events if e.seq > 3]
    state = fold(events)
    assert state is not None
    new = await env.run(activities.record_case_events,
                        CaseEventsBatch(case_id=case["case_id"], events=last_batch, state=state))
    first_state = fold(events[:3])
    assert first_state is not None
    late = await env.run(activities.record_case_events,
                         CaseEventsBatch(case_id=case["case_id"], events=events[:3], state=first_state))

    async with stack.pool.acquire() as conn:
        after = await _snapshot(conn, case["case_id"])
    assert (new, late) == (0, 0)
    assert after == before  # same rows, same row versions (xmin): nothing rewritten, nothing rolled back


async def test_projection_rebuilds_from_events_alone(stack, driver: CaseDriver, http) -> None:
    case = await driver.refer(referral(size=2))
    case = await driver.advance(case, until=__import__("domain.model", fromlist=["Stage"]).Stage.ORIENTATION)
    headers = await driver.login("ayse")
    served_before = (await http.get(f"/api/v1/cases/{case['case_id']}", headers=headers)).json()
    async with stack.pool.acquire() as conn:
        await rebuild_case_projection(conn, case["case_id"])
    served_after = (await http.get(f"/api/v1/cases/{case['case_id']}", headers=headers)).json()
    assert served_after == served_before
