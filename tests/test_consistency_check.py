"""``itinera check`` finds every way the three records of a case can disagree, and only those."""

from __future__ import annotations

import json
import subprocess

import httpx

from consistency import check
from store.db import connect
from tests.support.cli import cli_env, itinera
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.stack import TEST_PAYLOAD_KEYS


async def _itinera_check(stack, *case_ids: str, movement: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the command as an operator would, without blocking the event loop: the test
    session's in-process worker must stay free to answer the command's queries."""
    env = cli_env(database_url=stack.database_url, temporal_address=stack.settings.temporal_address,
                  payload_keys=TEST_PAYLOAD_KEYS, payload_active_key="test-2")
    args = [a for c in case_ids for a in ("--case", c)] + (["--movement", movement] if movement else [])
    return await itinera("check", "--json", *args, env=env)


async def _case_at_interview(driver: CaseDriver) -> dict:
    case = await driver.refer(referral(size=2))
    return await driver.complete(case["open_tasks"][0], "IST")


async def test_a_consistent_case_passes_and_the_command_exits_0(stack, driver: CaseDriver) -> None:
    running = await _case_at_interview(driver)
    closed = await driver.advance(await driver.refer(referral(size=1)))
    assert closed["status"] == "closed"
    done = await _itinera_check(stack, running["case_id"], closed["case_id"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout) == {"cases_checked": 2, "movements_checked": 0, "sessions_checked": 0,
                                       "clean": True, "differences": []}


async def test_a_read_model_row_that_the_events_do_not_give_is_reported(stack, driver: CaseDriver) -> None:
    case = await _case_at_interview(driver)
    task_id = case["open_tasks"][0]["task_id"]
    conn = await connect(stack.database_url)
    try:
        await conn.execute("UPDATE tasks SET due_at = due_at + interval '1 hour' WHERE task_id = $1", task_id)
        report = await check(conn, stack.temporal, [case["case_id"]])
        assert [(d.where, d.what.split(":")[0]) for d in report.differences] == [
            ("projection", f"tasks row {task_id} differs")]
        assert "due_at" in report.differences[0].what
        done = await _itinera_check(stack, case["case_id"])
        assert done.returncode == 1 and not json.loads(done.stdout)["clean"]
        # The repair an operator would run: the projection is rebuilt from the events.
        from store.projection import rebuild_case_projection
        await rebuild_case_projection(conn, case["case_id"])
        assert (await check(conn, stack.temporal, [case["case_id"]])).clean
    finally:
        await conn.close()


async def test_an_event_that_history_does_not_hold_is_reported(stack, driver: CaseDriver) -> None:
    case = await _case_at_interview(driver)
    conn = await connect(stack.database_url)
    try:
        # What the old local-activity recording could leave behind: an event in the store
        # whose command never reached the workflow's history.
        await conn.execute(
            """INSERT INTO case_events (case_id, seq, event_id, event_type, actor_kind, actor_id, actor_role,
                                        occurred_at, payload)
               SELECT case_id, seq + 1, gen_random_uuid(), 'NoteAdded', actor_kind, actor_id, actor_role,
                      occurred_at, jsonb_build_object('type', 'NoteAdded', 'text', 'never decided')
               FROM case_events WHERE case_id = $1 ORDER BY seq DESC LIMIT 1""", case["case_id"])
        report = await check(conn, stack.temporal, [case["case_id"]])
        assert "workflow" in {d.where for d in report.differences}, report.differences
    finally:
        await conn.close()


async def test_events_without_a_workflow_are_reported(stack, http: httpx.AsyncClient) -> None:
    conn = await connect(stack.database_url)
    try:
        await conn.execute(
            """INSERT INTO case_events (case_id, seq, event_id, event_type, actor_kind, actor_id, actor_role,
                                        occurred_at, payload)
               SELECT 'C-ZZZZ-ZZZZ-ZZZZ', seq, gen_random_uuid(), event_type, actor_kind, actor_id, actor_role,
                      occurred_at, payload
               FROM case_events WHERE seq = 1 LIMIT 1""")
        report = await check(conn, stack.temporal, ["C-ZZZZ-ZZZZ-ZZZZ"])
        assert any(d.where == "workflow" and "no workflow" in d.what for d in report.differences), report.differences
    finally:
        await conn.close()


async def test_stage_stays_are_derived_from_the_events_and_checked(stack, driver: CaseDriver) -> None:
    """The stays the supervisors' median-days report reads (migrations/0046_stage_stays.sql):
    written live with the events, the same as the migration's backfill derives from the
    events, and a tampered one is found by the check and repaired by the rebuild."""
    from pathlib import Path

    closed = await driver.advance(await driver.refer(referral(size=1)))
    case_id = closed["case_id"]
    conn = await connect(stack.database_url)
    try:
        stays = await conn.fetch("SELECT stage, entered_at, left_at FROM stage_stays WHERE case_id = $1 ORDER BY seq",
                                 case_id)
        stages = await conn.fetch("SELECT payload->>'stage' AS stage, occurred_at FROM case_events "
                                  "WHERE case_id = $1 AND event_type = 'StageEntered' ORDER BY seq", case_id)
        closed_at = await conn.fetchval("SELECT closed_at FROM cases WHERE case_id = $1", case_id)
        assert [s["stage"] for s in stays] == [s["stage"] for s in stages] and len(stays) >= 5
        assert [s["entered_at"] for s in stays] == [s["occurred_at"] for s in stages]
        assert [s["left_at"] for s in stays] == [s["occurred_at"] for s in stages[1:]] + [closed_at]

        # Every case of the session: the live rows are what the migration's backfill derives.
        migration = (Path(__file__).parents[1] / "migrations" / "0046_stage_stays.sql").read_text()
        backfill = next(s for s in migration.split(";") if s.strip().startswith("INSERT INTO stage_stays"))
        everything = "SELECT case_id, seq, stage, entered_at, left_at FROM stage_stays ORDER BY case_id, seq"
        live = await conn.fetch(everything)

        class Undo(Exception):
            pass
        try:
            async with conn.transaction():
                await conn.execute("DELETE FROM stage_stays")
                await conn.execute(backfill)
                assert await conn.fetch(everything) == live
                raise Undo
        except Undo:
            pass

        first = await conn.fetchval("SELECT min(seq) FROM stage_stays WHERE case_id = $1", case_id)
        await conn.execute("UPDATE stage_stays SET left_at = left_at + interval '3 days' "
                           "WHERE case_id = $1 AND seq = $2", case_id, first)
        report = await check(conn, stack.temporal, [case_id])
        assert [(d.where, d.what.split(" differs")[0]) for d in report.differences] == [
            ("projection", f"stage_stays row {first}")]
        from store.projection import rebuild_case_projection
        await rebuild_case_projection(conn, case_id)
        assert (await check(conn, stack.temporal, [case_id])).clean
    finally:
        await conn.close()



async def test_a_movement_is_checked_against_its_read_model_and_its_cases(stack, driver: CaseDriver) -> None:
    """``itinera check`` covers movements: a clean one passes; a manifest row or a stored state
    that the workflow does not give is reported; a departure the movement recorded but its case
    does not show is reported against the case."""
    from consistency_groups import MOVEMENTS, check_group
    from domain.movements.model import FanOutResult, MovementState
    from tests.test_movements import _case_in_movement_stage, _details, _family, _ok

    case = await _case_in_movement_stage(driver, _family(2))
    movement = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=10))
    mid = movement["movement_id"]
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": case["case_id"]})
    done = await _itinera_check(stack, movement=mid)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["movements_checked"] == 1

    conn = await connect(stack.database_url)
    try:
        await conn.execute("UPDATE movement_cases SET on_manifest = false WHERE movement_id = $1", mid)
        report = await check(conn, stack.temporal, movement_ids=[mid])
        assert [(d.where, d.what) for d in report.differences] == [
            ("read model", f"movement_cases row of {case['case_id']} does not show it on the manifest (open)")]
        await conn.execute("UPDATE movement_cases SET on_manifest = true WHERE movement_id = $1", mid)
        assert (await check(conn, stack.temporal, movement_ids=[mid])).clean

        await conn.execute("UPDATE movements SET state = jsonb_set(state, '{version}', '99') WHERE movement_id = $1",
                           mid)
        report = await check(conn, stack.temporal, movement_ids=[mid])
        assert len(report.differences) == 1 and "differing fields: version" in report.differences[0].what
        done = await _itinera_check(stack, movement=mid)
        assert done.returncode == 1 and json.loads(done.stdout)["differences"][0]["group_id"] == mid

        # What a lost fan-out would leave: the movement says the family departed, the case does not.
        raw = await conn.fetchval("SELECT state FROM movements WHERE movement_id = $1", mid)
        state = MovementState.model_validate_json(raw) if isinstance(raw, str) else MovementState.model_validate(raw)
        state.manifest[0].departure = FanOutResult(case_id=case["case_id"], outcome="departed", applied=True)
        found = await MOVEMENTS.derived(conn, state)
        assert found == [f"case {case['case_id']}: the movement recorded its departure, the case shows none"]
        # A departed movement that calls a family boarded whose case never took the departure.
        from domain.movements.model import MovementStatus
        state.manifest[0].departure, state.manifest[0].boarded = None, True
        state.status = MovementStatus.DEPARTED
        found = await MOVEMENTS.derived(conn, state)
        assert any(f"case {case['case_id']}: the movement says it boarded" in f for f in found), found
        assert await check_group(conn, stack.temporal, MOVEMENTS, "MV-NOT-THERE") == []  # neither record has it
        # ... but one the operator names is said, as is a named case no record knows (a typo)
        typo = await check(conn, stack.temporal, ["C-NOPE-NOPE-NOPE"], movement_ids=["MV-NOT-THERE"])
        assert sorted(str(d) for d in typo.differences) == [
            "C-NOPE-NOPE-NOPE: [workflow] no case C-NOPE-NOPE-NOPE in Temporal, the events or the read model",
            "MV-NOT-THERE: [workflow] no movement MV-NOT-THERE in Temporal or the read model"]
    finally:
        await conn.close()


async def test_a_check_that_cannot_reach_postgresql_exits_2_not_1(stack) -> None:
    """Monitoring reads exit 1 as "the records disagree": an outage must not look like that.
    (A tester restarted PostgreSQL mid-check: a traceback and exit 1.)"""
    from tests.support.stack import free_port

    env = cli_env(database_url=f"postgresql://itinera@127.0.0.1:{free_port()}/itinera",
                  temporal_address=stack.settings.temporal_address, payload_keys=TEST_PAYLOAD_KEYS,
                  payload_active_key="test-2")
    done = await itinera("check", "--json", env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "could not be made" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.stdout == ""


async def test_beside_a_dev_stack_on_other_ports_the_check_finds_its_temporal_through_the_data_folder(
        stack, driver: CaseDriver) -> None:
    """`make dev` on another Temporal port: the check found PostgreSQL through ITINERA_DATA_DIR
    but tried Temporal at 127.0.0.1:7233 and exited 2 (explore7 #11)."""
    assert not stack.settings.temporal_address.endswith(":7233")
    case = await _case_at_interview(driver)
    env = cli_env(data_dir=str(stack.data_dir), database_url=stack.database_url, payload_keys=TEST_PAYLOAD_KEYS,
                  payload_active_key="test-2")
    done = await itinera("check", "--json", "--case", case["case_id"], env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["cases_checked"] == 1
