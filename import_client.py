"""``itinera import FILE``: upload a referral file to the API and follow the job with a progress bar.

The command talks HTTP to the API, as any supervisor's client would: it logs in (or uses a
bearer token), uploads the file (``POST /api/v1/imports``), polls ``GET /api/v1/imports/{id}``
and prints the per-referral results that are not ``created``.  The job itself runs in the
worker (a Temporal workflow): stopping this command, or the API, does not stop the import;
``--follow IMPORT_ID`` picks an import up again.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import typer

POLL_SECONDS = 1.0


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _error_text(answer: httpx.Response) -> str:
    try:
        error = answer.json()["error"]
        details = "; ".join(f"{d.get('field')}: {d.get('reason')}" for d in error.get("details", []))
        return f"{answer.status_code} {error['code']}: {error['message']}" + (f" ({details})" if details else "")
    except (ValueError, KeyError, TypeError):
        return f"{answer.status_code}: {answer.text[:300]}"


def login(client: httpx.Client, username: str, password: str) -> dict[str, str]:
    answer = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    if answer.status_code != 200:
        raise _fail(f"login as {username} refused: {_error_text(answer)}")
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def upload(client: httpx.Client, headers: dict[str, str], path: Path) -> dict[str, Any]:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise _fail(f"{path}: expected a .csv or .json file")
    content_type = "text/csv" if suffix == ".csv" else "application/json"
    answer = client.post("/api/v1/imports", content=path.read_bytes(), params={"file_name": path.name},
                         headers={**headers, "Content-Type": content_type})
    if answer.status_code != 202:
        raise _fail(f"upload refused: {_error_text(answer)}")
    return answer.json()


def follow(client: httpx.Client, headers: dict[str, str], import_id: str, *, quiet: bool = False) -> dict[str, Any]:
    job = _get(client, headers, f"/api/v1/imports/{import_id}")
    started = time.monotonic()
    with typer.progressbar(length=job["total"], label=f"import {import_id}", show_pos=True, file=None,
                           hidden=quiet) as bar:
        shown = 0
        while True:
            bar.update(job["done"] - shown)
            shown = job["done"]
            if job["status"] == "completed":
                break
            time.sleep(POLL_SECONDS)
            job = _get(client, headers, f"/api/v1/imports/{import_id}")
    job["seconds"] = time.monotonic() - started
    return job


def _get(client: httpx.Client, headers: dict[str, str], path: str, **params: Any) -> dict[str, Any]:
    for attempt in range(30):  # the API restarting: wait for it, the job goes on in the worker
        try:
            answer = client.get(path, headers=headers, params=params or None)
        except httpx.TransportError:
            time.sleep(1)
            continue
        if answer.status_code == 503:
            time.sleep(float(answer.headers.get("Retry-After", "1")))
            continue
        if answer.status_code != 200:
            raise _fail(f"GET {path}: {_error_text(answer)}")
        return answer.json()
    raise _fail(f"GET {path}: the API did not answer for 30 attempts")


def problem_rows(client: httpx.Client, headers: dict[str, str], import_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for outcome in ("invalid", "failed"):
        after = 0
        while True:
            page = _get(client, headers, f"/api/v1/imports/{import_id}/rows", outcome=outcome, after=after, limit=1000)
            rows += page["items"]
            if page["next_after"] is None:
                break
            after = page["next_after"]
    return sorted(rows, key=lambda r: r["item"])


def report(job: dict[str, Any], rows: list[dict[str, Any]], limit: int) -> None:
    counts = job["counts"]
    typer.echo(f"import {job['import_id']}: {job['total']} referrals: {counts['created']} created, "
               f"{counts['already_referred']} already referred, {counts['invalid']} invalid, "
               f"{counts['failed']} failed")
    for row in rows[:limit]:
        lines = ",".join(str(n) for n in row["lines"])
        for error in row["errors"] or [{"field": "", "reason": row["outcome"]}]:
            allowed = f" (allowed: {error['allowed']})" if error.get("allowed") is not None else ""
            typer.echo(f"  {row['outcome']:8} item {row['item']} line {error.get('line') or lines} "
                       f"{row['external_referral_id'] or '-'}: {error['field']}: {error['reason']}{allowed}")
    if len(rows) > limit:
        typer.echo(f"  ... and {len(rows) - limit} more: GET /api/v1/imports/{job['import_id']}/rows?outcome=invalid")
