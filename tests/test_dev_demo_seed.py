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
import sys

import httpx

from demo.cases import AVRR_DEMO_CASES, DEMO_CASES, FAMILY_DEMO_CASES
from demo.users import DEMO_PASSWORD
from tests.support.cli import PROJECT
from tests.support.stack import TEST_PAYLOAD_KEYS, data_folder, free_port
from tests.support.waiting import eventually


async def test_make_dev_seeds_every_demo_case_on_its_first_start() -> None:
    data_dir = data_folder()
    api_port = free_port()
    env = {**os.environ, "ITINERA_DATA_DIR": str(data_dir), "ITINERA_API_PORT": str(api_port),
           "ITINERA_TEMPORAL_PORT": str(free_port()), "ITINERA_TEMPORAL_UI_PORT": str(free_port()),
           "ITINERA_SEED_DEMO": "true", "ITINERA_PAYLOAD_KEYS": TEST_PAYLOAD_KEYS,
           "ITINERA_PAYLOAD_ACTIVE_KEY": "test-2"}
    env.pop("ITINERA_DATABASE_URL", None)
    env.pop("ITINERA_TEMPORAL_ADDRESS", None)
    log_path = data_dir / "dev.log"
    with open(log_path, "wb") as log:
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", "itinera_cli", "dev", env=env, cwd=PROJECT,
                                                       stdout=log, stderr=log, start_new_session=True)
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
