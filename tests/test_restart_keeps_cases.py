"""Stopping and starting the embedded stack keeps every case, and a running case goes on."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx

from api.app import create_app
from itinera_cli import forwarded_header_options
from embedded.postgres import EmbeddedPostgres
from embedded.temporal_server import EmbeddedTemporal
from store.db import create_pool
from store.migrations import apply_migrations
from temporal_client import connect_temporal
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.stack import data_folder, free_port, serving, stack_settings
from tests.support.users import seed_test_users
from worker import build_worker


async def _run_stack(data_dir: Path, ports: tuple[int, int], work) -> object:  # type: ignore[no-untyped-def]
    postgres = EmbeddedPostgres(data_dir / "pg")
    temporal = EmbeddedTemporal(data_dir / "temporal", port=ports[0], ui_port=None)
    database_url = postgres.start()
    try:
        settings = stack_settings(data_dir=data_dir, database_url=database_url, temporal_address=await temporal.start(),
                                 api_port=ports[1])
        conn = await asyncpg.connect(database_url)
        await apply_migrations(conn)
        await seed_test_users(conn)
        await conn.close()
        pool = await create_pool(database_url)
        client = await connect_temporal(settings)
        try:
            async with build_worker(client, pool, settings.temporal_task_queue), \
                    serving(create_app(settings), ports[1], **forwarded_header_options(settings)), \
                    httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[1]}", timeout=60) as http:
                return await work(CaseDriver(http), http)
        finally:
            await pool.close()
    finally:
        temporal.stop()
        postgres.stop()


async def test_cases_survive_a_restart_and_keep_running() -> None:
    tmp_path = data_folder()
    ports = (free_port(), free_port())

    async def before(driver: CaseDriver, http: httpx.AsyncClient) -> dict:
        case = await driver.refer(referral(size=1))
        return await driver.complete(case["open_tasks"][0], "IST")

    async def after(driver: CaseDriver, http: httpx.AsyncClient) -> tuple[dict, dict]:
        headers = await driver.login("ayse")
        found = (await http.get(f"/api/v1/cases/{case['case_id']}", headers=headers)).json()
        finished = await driver.advance(found)
        return found, finished

    case = await _run_stack(tmp_path, ports, before)
    found, finished = await _run_stack(tmp_path, ports, after)
    assert found["version"] == case["version"] and found["stage"] == "interview"
    assert finished["status"] == "closed"  # the same workflow, picked up after the restart
