"""The operator's commands: migrate, and users add with the password on standard input."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx


def _itinera(stack, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ITINERA_DATABASE_URL": stack.database_url}
    return subprocess.run([sys.executable, "-m", "itinera_cli", *args], input=stdin, env=env, capture_output=True,
                          text=True, timeout=60)


async def test_migrate_reports_an_up_to_date_database(stack) -> None:
    done = _itinera(stack, "migrate")
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout


async def test_users_add_creates_an_account_that_can_log_in(stack, http: httpx.AsyncClient) -> None:
    done = _itinera(stack, "users", "add", "zeynep", "--role", "caseworker", "--office", "IZM",
                    stdin="a long enough secret\n")
    assert done.returncode == 0, done.stderr
    assert "zeynep: caseworker in IZM" in done.stdout
    assert "a long enough secret" not in done.stdout + done.stderr
    r = await http.post("/api/v1/auth/token", data={"username": "zeynep", "password": "a long enough secret"})
    assert r.status_code == 200
    me = (await http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})).json()
    assert me == {"username": "zeynep", "role": "caseworker", "offices": ["IZM"], "kind": "user"}


async def test_users_add_refuses_bad_input(stack) -> None:
    short = _itinera(stack, "users", "add", "kemal", "--role", "caseworker", "--office", "IST", stdin="short\n")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    office = _itinera(stack, "users", "add", "kemal", "--role", "caseworker", "--office", "istanbul",
                      stdin="long enough password\n")
    assert office.returncode == 2 and "invalid office" in office.stderr
    role = _itinera(stack, "users", "add", "kemal", "--role", "wizard", stdin="long enough password\n")
    assert role.returncode == 2 and "wizard" in role.stderr


async def test_rebuild_projection_rebuilds_every_case_from_its_events(stack, http: httpx.AsyncClient) -> None:
    from demo.driver import CaseDriver
    from tests.factories import referral

    driver = CaseDriver(http)
    case = await driver.complete((await driver.refer(referral()))["open_tasks"][0], "IST")
    headers = await driver.login("ayse")
    before = (await http.get(f"/api/v1/cases/{case['case_id']}", headers=headers)).json()
    done = _itinera(stack, "rebuild-projection")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("rebuilt ") and int(done.stdout.split()[1]) >= 1
    assert (await http.get(f"/api/v1/cases/{case['case_id']}", headers=headers)).json() == before
