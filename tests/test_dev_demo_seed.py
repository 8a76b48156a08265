"""``make dev`` on an empty data folder seeds the whole demo, as a new user first sees it.

Every demo case is referred and worked to its stage through the API, by the demo accounts,
with the demo's example forms: a new rule of the API that the demo's data breaks stops
``itinera dev`` at its first start (explore8: a booking's airport outside the case's
destination country did, half-way through the demo).  No other test runs the whole seeding.
"""

from __future__ import annotations

import asyncio
import os
import signal

import httpx

from demo.cases import AVRR_DEMO_CASES, DEMO_CASES, FAMILY_DEMO_CASES
from demo.users import DEMO_PASSWORD
from tests.support.processes import start_dev
from tests.support.stack import data_folder, free_port
from tests.support.waiting import eventually


async def test_make_dev_seeds_every_demo_case_on_its_first_start() -> None:
    data_dir = data_folder()
    api_port = free_port()
    process, log_path = await start_dev(data_dir, api_port, seed_demo=True)
    expected = len(DEMO_CASES) + len(AVRR_DEMO_CASES) + len(FAMILY_DEMO_CASES)

    async def seeded() -> bool:
        assert process.returncode is None, f"itinera dev stopped: {log_path.read_text()[-3000:]}"
        return f"itinera: {expected} demo cases ready" in log_path.read_text()

    try:
        await eventually(seeded, timeout=600, interval=1, what=lambda: f"the demo to be seeded: "
                                                                       f"{log_path.read_text()[-1500:]}")
        text = log_path.read_text()
        assert "Traceback" not in text, text[-3000:]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=30) as client:
            token = (await client.post("/api/v1/auth/token", data={"username": "fatma", "password": DEMO_PASSWORD}
                                       )).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            cases = (await client.get("/api/v1/cases", params={"limit": 200}, headers=headers)).json()["items"]
            assert {c["status"] for c in cases} >= {"active", "on_hold"}  # the held case of the situations
            stages = {c["stage"] for c in cases}
            assert {"referral", "health", "movement", "closed"} <= stages, stages
            assert {c["programme"] for c in cases} >= {"resettlement", "avrr", "family_reunification"}
            sessions = (await client.get("/api/v1/orientation-sessions", headers=headers)).json()["items"]
            assert sessions, "the demo's orientation session"
    finally:
        if process.returncode is None:
            os.kill(process.pid, signal.SIGINT)
            await asyncio.wait_for(process.wait(), 60)
