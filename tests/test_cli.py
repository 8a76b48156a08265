"""The operator's commands: migrate, and users add with the password on standard input; beside
a running `itinera dev`, every command finds its embedded PostgreSQL with nothing set."""

from __future__ import annotations

import shutil
import subprocess

import asyncpg
import httpx

from embedded.postgres import EmbeddedPostgres, database_folder
from itinera_cli import database_url
from settings import Settings
from tests.support.cli import cli_env, itinera
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.stack import data_folder


async def _itinera(stack, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return await itinera(*args, env=cli_env(database_url=stack.database_url), stdin=stdin)


async def test_migrate_reports_an_up_to_date_database(stack) -> None:
    done = await _itinera(stack, "migrate")
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout


async def test_users_add_creates_an_account_that_can_log_in(stack, http: httpx.AsyncClient) -> None:
    done = await _itinera(stack, "users", "add", "zeynep", "--role", "caseworker", "--office", "IZM",
                          stdin="a long enough secret\n")
    assert done.returncode == 0, done.stderr
    assert "zeynep: caseworker in IZM" in done.stdout
    assert "a long enough secret" not in done.stdout + done.stderr
    r = await http.post("/api/v1/auth/token", data={"username": "zeynep", "password": "a long enough secret"})
    assert r.status_code == 200
    me = (await http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})).json()
    assert me == {"username": "zeynep", "role": "caseworker", "offices": ["IZM"], "kind": "user"}


async def test_users_add_refuses_bad_input(stack) -> None:
    short = await _itinera(stack, "users", "add", "kemal", "--role", "caseworker", "--office", "IST", stdin="short\n")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    office = await _itinera(stack, "users", "add", "kemal", "--role", "caseworker", "--office", "istanbul",
                            stdin="long enough password\n")
    assert office.returncode == 2 and "invalid office" in office.stderr
    role = await _itinera(stack, "users", "add", "kemal", "--role", "wizard", stdin="long enough password\n")
    assert role.returncode == 2 and "wizard" in role.stderr
    # explore11: blank passwords were taken; a username the database refuses crashed with a
    # traceback that printed the new password's hash; a password the sign-in page cuts.
    blank = await _itinera(stack, "users", "add", "kemal", "--role", "caseworker", "--office", "IST",
                           stdin=" " * 12 + "\n")
    assert blank.returncode == 2 and "besides spaces" in blank.stderr
    for name in ("kemal yilmaz", "Özlem", "k"):
        bad = await _itinera(stack, "users", "add", name, "--role", "caseworker", "--office", "IST",
                             stdin="long enough password\n")
        assert bad.returncode == 2 and "invalid username" in bad.stderr, (name, bad.stderr)
        assert "Traceback" not in bad.stderr and "argon2" not in bad.stderr
    long = await _itinera(stack, "users", "add", "kemal", "--role", "caseworker", "--office", "IST",
                          stdin="x" * 300 + "\n")
    assert long.returncode == 2 and "at most 256 characters" in long.stderr


async def test_rebuild_projection_rebuilds_every_case_from_its_events(stack, http: httpx.AsyncClient) -> None:
    driver = CaseDriver(http)
    case = await driver.complete((await driver.refer(referral()))["open_tasks"][0], "IST")
    headers = await driver.login("ayse")
    before = (await http.get(f"/api/v1/cases/{case['case_id']}", headers=headers)).json()
    done = await _itinera(stack, "rebuild-projection")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("rebuilt ") and int(done.stdout.split()[1]) >= 1
    assert (await http.get(f"/api/v1/cases/{case['case_id']}", headers=headers)).json() == before


# --- beside `itinera dev`: the embedded PostgreSQL of ITINERA_DATA_DIR -------------------------


async def test_commands_find_the_embedded_database_of_the_data_folder_without_a_database_url() -> None:
    """As beside a running `make dev`: its PostgreSQL runs in DATA/postgres, and the commands
    get ITINERA_DATA_DIR only (no ITINERA_DATABASE_URL, no ITINERA_* at all)."""
    data_dir = data_folder()
    postgres = EmbeddedPostgres(database_folder(data_dir))  # the folder and server `itinera dev` keeps
    owner_url = postgres.start()
    env = cli_env(data_dir=str(data_dir))
    try:
        # Migrations as the schema owner: the application role may not create tables.
        migrated = await itinera("migrate", env=env, cwd=data_dir)
        assert migrated.returncode == 0, migrated.stderr
        assert migrated.stdout.startswith("applied: 0001_event_store")
        # Every other command as the application role, as the API and the worker of `itinera dev`.
        settings = Settings(data_dir=data_dir, database_url="", migrations_database_url="")
        assert database_url(settings).startswith("postgresql://itinera_app:@/")
        assert database_url(settings, owner=True) == owner_url

        added = await itinera("users", "add", "zeynep", "--role", "supervisor", "--office", "IZM", env=env,
                              stdin="a long enough secret\n", cwd=data_dir)
        assert added.returncode == 0, added.stderr
        assert "zeynep: supervisor in IZM" in added.stdout
        # The command joined the running server and left it running.
        conn = await asyncpg.connect(owner_url)
        try:
            row = await conn.fetchrow("SELECT role, offices, active FROM users WHERE username = 'zeynep'")
        finally:
            await conn.close()
        assert row is not None and (row["role"], list(row["offices"]), row["active"]) == ("supervisor", ["IZM"], True)

        # With no server running (`itinera dev` stopped), the command starts it for its own
        # run and stops it again.
        postgres.stop()
        added = await itinera("users", "add", "kemal", "--role", "caseworker", "--office", "IST", env=env,
                              stdin="another long secret\n", cwd=data_dir)
        assert added.returncode == 0, added.stderr
        assert not (database_folder(data_dir) / "postmaster.pid").exists(), "the command left PostgreSQL running"
        conn = await asyncpg.connect(postgres.start())
        try:
            names = [r["username"] for r in await conn.fetch("SELECT username FROM users ORDER BY username")]
        finally:
            await conn.close()
        assert names == ["kemal", "zeynep"]
    finally:
        postgres.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


async def test_without_an_embedded_database_the_commands_say_what_to_set() -> None:
    data_dir = data_folder()
    try:
        for args in (["users", "add", "zeynep", "--role", "caseworker"], ["migrate"], ["rebuild-projection"]):
            done = await itinera(*args, env=cli_env(data_dir=str(data_dir)), stdin="a long enough secret\n",
                                 cwd=data_dir)
            assert done.returncode == 2, done.stdout + done.stderr
            assert "ITINERA_DATABASE_URL" in done.stderr and "ITINERA_DATA_DIR" in done.stderr, done.stderr
            assert str(data_dir) in done.stderr
        assert not database_folder(data_dir).exists(), "a command created a database where none was"
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
