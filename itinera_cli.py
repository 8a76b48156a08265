"""The ``itinera`` command: run the whole system, or one part of it, and manage accounts.

    itinera dev                  embedded Temporal + PostgreSQL + migrations + worker + API + demo data
    itinera worker               the Temporal worker (settings from ITINERA_*)
    itinera api                  the HTTP API
    itinera migrate              apply database migrations
    itinera users add NAME --role ROLE --office OFFICE   (password from standard input)
    itinera users set-role NAME --role ROLE [--office OFFICE ...]   (effective on the next request)
    itinera users deactivate NAME   (locked out, every token refused from the next request)
    itinera rebuild-projection   rebuild the read model from case_events
    itinera check                compare workflow state, event stream and read model of every case, movement, session
    itinera import FILE          upload a CSV/JSON file of referrals to the API, follow the job (progress bar)
    itinera rollout BUILD_ID [--ramp PERCENT]   make a worker build current (worker versioning)

Every command but `dev` works on ITINERA_DATABASE_URL when it is set, else on the embedded
PostgreSQL of ITINERA_DATA_DIR (default .itinera-data): beside a running `make dev`, nothing
needs to be set.

Typer (by FastAPI's author) gives typed options and help text with no argument parsing
of our own.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import typer

from domain.model import OFFICE_PATTERN, Role
from settings import Settings, get_settings

if TYPE_CHECKING:
    import asyncpg

    from store.users import User

app = typer.Typer(help="Itinera: durable case workflows for resettlement and AVRR.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
users_app = typer.Typer(help="Manage user accounts of the embedded default.", no_args_is_help=True)
app.add_typer(users_app, name="users")


def database_url(settings: Settings, *, owner: bool = False) -> str:
    """The database a command works on, as the application role (``owner``: as the schema
    owner, for migrations).

    ITINERA_DATABASE_URL (and ITINERA_MIGRATIONS_DATABASE_URL for the owner) when set; else
    the embedded PostgreSQL of ITINERA_DATA_DIR, the one `itinera dev` runs (joined, or
    started for the command if it is not running), with the same role split as `itinera dev`.
    """
    if owner and settings.migrations_database_url:
        return settings.migrations_database_url
    if settings.database_url:
        return settings.database_url
    from embedded.postgres import NoEmbeddedDatabase, application_url, join_embedded

    try:
        owner_url = join_embedded(settings.data_dir)
    except NoEmbeddedDatabase as missing:
        typer.echo(f"no database: ITINERA_DATABASE_URL is not set, and the data folder {settings.data_dir.resolve()} "
                   f"(ITINERA_DATA_DIR, default .itinera-data where the command runs) holds no embedded PostgreSQL "
                   f"({missing.folder}).\nRun the command where `make dev` runs or set ITINERA_DATA_DIR to its data "
                   f"folder; or set ITINERA_DATABASE_URL.", err=True)
        raise typer.Exit(2) from None
    return owner_url if owner else application_url(owner_url)


def _with_temporal(settings: Settings) -> Settings:
    """``settings`` with the Temporal of a running `itinera dev` of ITINERA_DATA_DIR when neither
    ITINERA_TEMPORAL_ADDRESS nor ITINERA_TEMPORAL_PORT is set (a `make dev` on other ports)."""
    if settings.temporal_address or "temporal_port" in settings.model_fields_set:
        return settings
    from embedded.temporal_server import running_address

    address = running_address(settings.data_dir / "temporal")
    return settings.model_copy(update={"temporal_address": address}) if address else settings


def _with_database(settings: Settings) -> Settings:
    """``settings`` with the database found (see ``database_url``), for the worker and the API."""
    return settings.model_copy(update={"database_url": database_url(settings)})


@app.command()
def migrate() -> None:
    """Apply the numbered SQL files of migrations/ that are not applied yet."""
    from store.migrations import migrate as run

    applied = asyncio.run(run(database_url(get_settings(), owner=True)))
    typer.echo(f"applied: {', '.join(applied)}" if applied else "database is up to date")


@app.command()
def worker() -> None:
    """Run the Temporal worker for case workflows and their activities."""
    settings = _with_database(get_settings())
    _observe(settings, "worker")
    from worker import run_worker

    with contextlib.suppress(KeyboardInterrupt):
        _run_fast(_until_signal(run_worker, settings))


def _run_fast(main: Awaitable[None]) -> None:
    """Run a long-lived service on uvloop (libuv's event loop: less CPU per socket and thread
    wake-up than asyncio's own, which the benchmark's profiles show the worker spends much on);
    asyncio's loop where uvloop is not installed.  The API gets uvloop and httptools from uvicorn."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)  # type: ignore[arg-type]
        return
    uvloop.run(main)  # type: ignore[arg-type]


@app.command()
def api() -> None:
    """Serve the HTTP API (and its OpenAPI docs at /docs)."""
    import uvicorn

    settings = _with_database(get_settings())
    _observe(settings, "api")
    from api.app import create_app

    # SIGTERM: uvicorn stops accepting connections and answers the requests in flight (for
    # up to ITINERA_API_SHUTDOWN_SECONDS) before the app shuts down.  log_config=None: its
    # loggers go through the JSON handler of `_observe`; no access log (raw paths and query
    # strings), the app logs each request itself.
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port,
                log_level=settings.log_level.lower(), log_config=None, access_log=False,
                timeout_graceful_shutdown=settings.api_shutdown_seconds, **forwarded_header_options(settings))


def _observe(settings: Settings, service: str) -> None:
    """JSON logs (and tracing, when enabled) for a worker or API process, before anything logs."""
    from observability.logs import configure_logging
    from observability.tracing import setup_tracing

    configure_logging(settings.log_level, settings.log_format, service=service)
    setup_tracing(settings, service_name=f"itinera-{service}")


def forwarded_header_options(settings: Settings) -> dict[str, object]:
    """uvicorn's handling of X-Forwarded-For/-Proto: believed only from ITINERA_TRUSTED_PROXIES.

    uvicorn's own default believes them from any loopback peer, so a local process (or a
    proxy that passes the header through) could pick the address the login throttle and the
    audit trail see.  Every way of serving the app should pass these options.
    """
    if not settings.trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": list(settings.trusted_proxies)}


@users_app.command("add")
def users_add(
    username: str,
    role: Role = typer.Option(..., help="caseworker, medical_officer, movement_officer, supervisor or admin"),
    office: list[str] = typer.Option([], help="Office code (repeat for several), e.g. --office IST --office IZM"),
    full_name: str = typer.Option("", help="Display name"),
) -> None:
    """Create or reset an account; the password is read from standard input."""
    import asyncpg

    from store.users import add_user

    from store.users import MAX_PASSWORD_LENGTH, is_username

    _office_codes(office)
    if not is_username(username):
        # Refused here, before the database's own check, whose error printed the new password's hash.
        typer.echo(f"invalid username {username!r}: 2 to 64 lower-case letters, digits and . _ - "
                   "(starting with a letter or digit), e.g. ayse.k", err=True)
        raise typer.Exit(2)
    password = sys.stdin.readline().rstrip("\n")
    if len(password.strip()) < 10:
        typer.echo("the password (read from standard input) must have at least 10 characters besides spaces",
                   err=True)
        raise typer.Exit(2)
    if len(password) > MAX_PASSWORD_LENGTH:
        typer.echo(f"the password must have at most {MAX_PASSWORD_LENGTH} characters (the sign-in page takes no more)",
                   err=True)
        raise typer.Exit(2)

    async def run() -> None:
        conn = await asyncpg.connect(database_url(get_settings()))
        try:
            user = await add_user(conn, username, password, role, office, full_name)
        finally:
            await conn.close()
        typer.echo(f"user {user.username}: {user.role.value} in {', '.join(user.offices) or 'no office'}")

    asyncio.run(run())


def _office_codes(office: list[str]) -> list[str]:
    import re

    bad = [o for o in office if not re.match(OFFICE_PATTERN, o)]
    if bad:
        typer.echo(f"invalid office code(s) {bad}: upper-case letters/digits, e.g. IST", err=True)
        raise typer.Exit(2)
    return office


def _change_user(change: Callable[[asyncpg.Connection, str], Awaitable[User | None]], username: str) -> None:
    """Run ``change(conn, username)`` on the database; report the account as it is now."""

    async def run() -> User | None:
        from store.db import connect

        conn = await connect(database_url(get_settings()))
        try:
            return await change(conn, username)
        finally:
            await conn.close()

    user = asyncio.run(run())
    if user is None:
        typer.echo(f"no user {username}", err=True)
        raise typer.Exit(1)
    typer.echo(f"user {user.username}: {user.role.value} in {', '.join(user.offices) or 'no office'}, "
               f"{'active' if user.active else 'deactivated'}")


@users_app.command("set-role")
def users_set_role(
    username: str,
    role: Role = typer.Option(..., help="caseworker, medical_officer, movement_officer, supervisor or admin"),
    office: list[str] = typer.Option([], help="Replace the offices (repeat for several); unchanged if not given"),
) -> None:
    """Change an account's role (and offices): its tokens carry it from their next request on."""
    from store.users import set_role

    offices = _office_codes(office) or None
    _change_user(lambda conn, name: set_role(conn, name, role, offices), username)


@users_app.command("deactivate")
def users_deactivate(username: str) -> None:
    """Lock an account out: no login, and every token it holds is refused from the next request.

    `users add` with the same name reactivates it with a new password (old tokens stay dead).
    """
    from store.users import deactivate

    _change_user(deactivate, username)


@app.command("check")
def check(
    case: list[str] = typer.Option([], help="Check only this case id (repeat for several); default: everything"),
    movement: list[str] = typer.Option([], help="Check only this movement (repeat for several)"),
    session: list[str] = typer.Option([], help="Check only this orientation session (repeat for several)"),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
) -> None:
    """Compare every case's workflow state, event stream and read model, and every movement's
    and orientation session's workflow with its read model (a movement's recorded departures
    also with its cases); exit 1 on any difference.

    Read-only (a trial rebuild of the projection is rolled back), so safe in production.
    Needs the database and Temporal (ITINERA_DATABASE_URL and ITINERA_TEMPORAL_ADDRESS, or
    those of a running `itinera dev`) and a running worker (running workflows answer a query).
    Exit codes: 0 clean, 1 differences found, 2 the check could not be made (PostgreSQL or
    Temporal away: tried three times), so monitoring never reads an outage as a difference."""
    import json

    from temporalio.service import RPCError

    from api.outages import DATABASE_OUTAGES
    from consistency import check as run_check
    from store.db import connect
    from temporal_client import connect_temporal

    settings = _with_temporal(get_settings())

    async def run():  # type: ignore[no-untyped-def]
        for attempt in range(1, 4):
            try:
                conn = await connect(database_url(settings))
                try:
                    return await run_check(conn, await connect_temporal(settings), case or None, movement or None,
                                           session or None)
                finally:
                    if not conn.is_closed():
                        await conn.close()
            except (*DATABASE_OUTAGES, RPCError, RuntimeError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
                if attempt == 3:
                    typer.echo(f"itinera check could not be made: {reason}; nothing was judged. Run it again once "
                               "PostgreSQL, Temporal and a worker answer (running workflows answer the check's "
                               "queries through a worker).", err=True)
                    raise typer.Exit(2) from None
                typer.echo(f"itinera check: {reason}; starting again in {2 * attempt} s", err=True)
                await asyncio.sleep(2 * attempt)

    report = asyncio.run(run())
    if as_json:
        typer.echo(json.dumps({"cases_checked": report.cases_checked, "movements_checked": report.movements_checked,
                               "sessions_checked": report.sessions_checked, "clean": report.clean,
                               "differences": [d.__dict__ for d in report.differences]}, indent=1))
    else:
        for difference in report.differences:
            typer.echo(str(difference))
        typer.echo(f"{report.cases_checked} cases, {report.movements_checked} movements, {report.sessions_checked} "
                   f"orientation sessions checked, {len(report.differences)} differences")
    raise typer.Exit(0 if report.clean else 1)


@app.command("rebuild-projection")
def rebuild_projection() -> None:
    """Rebuild cases, members and tasks of every case from case_events alone."""

    from store.projection import rebuild_case_projection

    async def run() -> int:
        from store.db import connect

        conn = await connect(database_url(get_settings()))
        try:
            ids = [r["case_id"] for r in await conn.fetch("SELECT DISTINCT case_id FROM case_events")]
            for case_id in ids:
                await rebuild_case_projection(conn, case_id)
            return len(ids)
        finally:
            await conn.close()

    typer.echo(f"rebuilt {asyncio.run(run())} cases")


@app.command("rotate-payload-key")
def rotate_payload_key() -> None:
    """Add a new Temporal payload key (embedded key file) and make it the active one.

    Old keys stay, so history written before still decrypts.  Restart the worker and the
    API to encrypt with the new key.  With ITINERA_PAYLOAD_KEYS set, rotate there instead:
    add the new key to the JSON and point ITINERA_PAYLOAD_ACTIVE_KEY at it.
    """
    from payload_encryption import rotate_key_file

    settings = get_settings()
    if settings.payload_keys is not None:
        typer.echo("ITINERA_PAYLOAD_KEYS is set: rotate by adding a key there and setting ITINERA_PAYLOAD_ACTIVE_KEY",
                   err=True)
        raise typer.Exit(2)
    kid = rotate_key_file(settings.data_dir / "payload-keys.json")
    typer.echo(f"new active payload key {kid}; restart the worker and the API")


@app.command("import")
def import_referrals(
    file: str = typer.Argument("", help="A .csv or .json file of referrals (format: README, 'Bulk referral import')"),
    api: str = typer.Option("", help="The API's base URL (default: http://ITINERA_API_HOST:ITINERA_API_PORT)"),
    username: str = typer.Option("", help="A supervisor's username (password from ITINERA_PASSWORD or standard "
                                          "input)"),
    token: str = typer.Option("", envvar="ITINERA_TOKEN", help="A bearer token instead of a username"),
    follow: str = typer.Option("", help="Follow an import already uploaded (its id) instead of uploading"),
    show: int = typer.Option(50, help="How many invalid or failed referrals to print"),
) -> None:
    """Upload referrals through the API (POST /api/v1/imports) and show the job's progress and results.

    Exit code 0: every referral created or already referred; 1: some invalid or failed; 2: refused."""
    import os
    from pathlib import Path

    import httpx

    import import_client

    settings = get_settings()
    base = api or f"http://{settings.api_host}:{settings.api_port}"
    with httpx.Client(base_url=base, timeout=120) as client:
        if token:
            headers = {"Authorization": f"Bearer {token}"}
        elif username:
            password = os.environ.get("ITINERA_PASSWORD") or sys.stdin.readline().rstrip("\n")
            headers = import_client.login(client, username, password)
        else:
            typer.echo("give --username (password from ITINERA_PASSWORD or standard input) or --token", err=True)
            raise typer.Exit(2)
        if follow:
            import_id = follow
        elif file:
            job = import_client.upload(client, headers, Path(file))
            import_id = job["import_id"]
            typer.echo(f"uploaded {file}: import {import_id}, {job['total']} referrals "
                       f"({job['counts']['invalid']} invalid at once); the job runs in the worker")
        else:
            typer.echo("give a FILE to upload, or --follow IMPORT_ID", err=True)
            raise typer.Exit(2)
        job = import_client.follow(client, headers, import_id)
        rows = import_client.problem_rows(client, headers, import_id)
        import_client.report(job, rows, show)
        typer.echo(f"{job['total'] / max(job['seconds'], 1e-9):.1f} referrals/s while followed")
    raise typer.Exit(1 if rows else 0)


@app.command("rollout")
def rollout(
    build_id: str = typer.Argument(help="The build id the new workers run with (ITINERA_WORKER_BUILD_ID)."),
    ramp: float | None = typer.Option(None, min=0, max=100,
                                      help="Send only this percentage of new workflows to the build (a canary); "
                                           "without it the build becomes current for all."),
) -> None:
    """Roll out a worker build (worker_versioning.py): new workflows go to it, and running
    workflows move to it at their next step.  Its workers must already be polling."""
    from temporal_client import connect_temporal
    from worker_versioning import current_build_id
    from worker_versioning import rollout as roll_out

    settings = _with_temporal(get_settings())

    async def run() -> str | None:
        client = await connect_temporal(settings)
        await roll_out(client, settings.worker_deployment_name, build_id, ramp_percent=ramp)
        return await current_build_id(client, settings.worker_deployment_name)

    current = asyncio.run(run())
    what = f"ramping {ramp:g}% of new workflows to" if ramp is not None else "current build is now"
    typer.echo(f"{settings.worker_deployment_name}: {what} {build_id} (current: {current})")


@app.command()
def dev() -> None:
    """Start everything on this machine with demo data; Ctrl-C stops it all."""
    from embedded.dev_stack import run_dev

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_dev(get_settings()))


async def _until_signal(main, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await main(settings, stop=stop)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
