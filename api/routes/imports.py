"""Bulk referral import (issue 14): upload a CSV or JSON file of referrals, follow the job.

The upload is judged at once (each referral on its own: invalid ones never hold back the
others; office scope; a referral id another office's case holds; a repeat within the file),
stored in one transaction (``referral_imports`` and one ``referral_import_rows`` row per
referral), and a ``ReferralImport`` workflow is started to refer the valid ones through the
case workflows (``workflows/referral_import.py``).  ``GET /api/v1/imports/{id}`` shows the
progress; ``/rows`` the per-referral results.  Supervisors only, their offices only.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from api import policy
from api.auth import CurrentPrincipal, Principal
from api.commands import CaseCommands
from api.deps import Commands, Db, lent_back
from api.errors import ERROR_RESPONSES, ApiError
from api.office_time import edge_today_anywhere
from api.referral_import_file import CSV_TEMPLATE, JSON_TEMPLATE, MAX_FILE_BYTES, FileUnreadable, read_file
from domain.case import referral_fingerprint
from domain.model import Referral, Role
from store import referral_imports as store
from workflows.referral_import import ImportInput, ReferralImportWorkflow, import_workflow_id

router = APIRouter(prefix="/api/v1/imports", tags=["imports"],
                   responses={401: ERROR_RESPONSES[401], 403: ERROR_RESPONSES[403]})

Outcome = Literal["pending", "created", "already_referred", "invalid", "failed"]


class ImportCounts(BaseModel):
    pending: int
    created: int
    already_referred: int
    invalid: int
    failed: int


class ImportView(BaseModel):
    import_id: str
    status: Literal["queued", "running", "completed"] = Field(
        description="queued: stored, its job not started yet; running; completed: every referral decided.")
    file_name: str | None
    file_format: Literal["csv", "json"]
    file_sha256: str
    uploaded_by: str
    offices: list[str]
    total: int = Field(description="Referrals in the file.")
    done: int = Field(description="Referrals decided so far (total - pending).")
    counts: ImportCounts
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    rows_url: str


class RowError(BaseModel):
    line: int | None = None
    field: str
    reason: str
    allowed: Any | None = None


class ImportRow(BaseModel):
    item: int = Field(description="Position of the referral in the file (1-based).")
    lines: list[int] = Field(description="CSV: the file's line numbers (the header is line 1); JSON: [item].")
    external_referral_id: str | None
    case_id: str | None
    outcome: Outcome
    errors: list[RowError] = Field(description="Why it is invalid or failed (or, for a repeat within the file, "
                                               "which item it repeats).")


class ImportRows(BaseModel):
    items: list[ImportRow]
    next_after: int | None = Field(description="Pass as `after` for the next page.")


def _view(job: Any, counts: dict[str, int]) -> ImportView:
    return ImportView(import_id=job["import_id"], status=job["status"], file_name=job["file_name"],
                      file_format=job["file_format"], file_sha256=job["file_sha256"], uploaded_by=job["uploaded_by"],
                      offices=list(job["offices"]), total=job["total"], done=job["total"] - counts["pending"],
                      counts=ImportCounts(**counts), created_at=job["created_at"], started_at=job["started_at"],
                      finished_at=job["finished_at"], rows_url=f"/api/v1/imports/{job['import_id']}/rows")


async def _visible_job(db: Db, principal: Principal, import_id: str) -> Any:
    policy.require_role(principal, {Role.SUPERVISOR}, "import referrals")
    job = await store.get_import(db, import_id) if len(import_id) <= 64 else None
    if job is None or not set(job["offices"]) & set(principal.offices):
        raise ApiError(404, "import_not_found", f"no import {import_id}")
    return job


async def _start(request: Request, import_id: str, total: int) -> None:
    """Start the job's workflow (idempotent: an import whose workflow runs keeps it)."""
    settings = request.app.state.settings
    try:
        await request.app.state.temporal.start_workflow(
            ReferralImportWorkflow.run, ImportInput(import_id=import_id, total=total),
            id=import_workflow_id(import_id), task_queue=settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
    except RPCError as exc:
        # Stored: the job starts when Temporal answers again (any GET of the import starts it).
        request.state.import_start_error = exc.message


_BODY_DOC = {"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string"}, "example": CSV_TEMPLATE},
    "application/json": {"schema": {"type": "object"}, "example": JSON_TEMPLATE}}}}


@router.post("", status_code=202, response_model=ImportView, openapi_extra=_BODY_DOC,
             summary="Upload a CSV or JSON file of referrals: judged now, referred by a durable job",
             responses={413: {"description": "File over 16 MiB."}, 422: {**ERROR_RESPONSES[422], "description": (
                 "file_unreadable: the file as a whole cannot be read (not UTF-8: e.g. UTF-16, Excel's \"Unicode "
                 "Text\", or Windows-1254; an Excel workbook; another separator than commas; a column twice; a "
                 "header that is not the template's; not JSON; more than 20,000 referrals); unsupported_file: "
                 "another Content-Type; file_empty: no referral in it; invalid_request: a string in a JSON file "
                 "that cannot be stored, named by its field. A bad cell does not refuse the file: its referral is "
                 "invalid, named by line and field.")}})
async def upload(request: Request, response: Response, principal: CurrentPrincipal, db: Db, commands: Commands,
                 file_name: Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00-\x1f]*$",
                                                        description="The file's name, for the record.")] = None
                 ) -> ImportView:
    policy.require_role(principal, {Role.SUPERVISOR}, "import referrals")
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type in ("text/csv", "application/csv", "text/plain"):
        file_format = "csv"
    elif content_type == "application/json":
        file_format = "json"
    else:
        raise ApiError(422, "unsupported_file", "send the file as the body with Content-Type text/csv or "
                       "application/json", [{"field": "header.content-type", "reason": f"'{content_type}'",
                                             "allowed": ["text/csv", "application/json"]}])
    raw = await request.body()
    if len(raw) > MAX_FILE_BYTES:
        raise ApiError(413, "body_too_large", f"file over {MAX_FILE_BYTES} bytes")
    try:
        items = read_file(raw, file_format, edge_today_anywhere())
    except FileUnreadable as exc:
        raise ApiError(422, "file_unreadable", str(exc), [{"field": "body", "reason": str(exc)}]) from None
    if not items:
        raise ApiError(422, "file_empty", "the file holds no referral", [{"field": "body", "reason": "no referral"}])

    ids = sorted({i.external_referral_id for i in items if i.valid and i.external_referral_id})
    known = {r["external_referral_id"]: r for r in await db.fetch(
        "SELECT external_referral_id, case_id, referral_fingerprint, office FROM cases "
        "WHERE external_referral_id = ANY($1::text[])", ids)}
    rows: list[store.NewRow] = []
    for item in items:
        errors, outcome, case_id, referral = list(item.errors), item.outcome, None, item.referral
        if referral is not None:
            prior = known.get(referral.external_referral_id)
            line = item.lines[0]
            if referral.office not in principal.offices:
                errors = [{"line": line, "field": "office", "reason": "not one of your offices",
                           "allowed": principal.offices}]
                outcome, referral = "invalid", None
            elif (refused := _host_country(commands, referral, line)) is not None:
                # Judged at upload, as for a referral sent alone (it was counted pending, then
                # failed in the import's workflow with no line).
                errors, outcome, referral = [refused], "invalid", None
            elif prior is not None and prior["office"] not in principal.offices:
                errors = [{"line": line, "field": "external_referral_id",
                           "reason": "already used by a case your offices do not work on; check the id with the "
                                     "referring organisation"}]
                outcome, referral = "invalid", None
            elif prior is not None and prior["referral_fingerprint"] != referral_fingerprint(referral):
                errors = [{"line": line, "field": "external_referral_id",
                           "reason": f"already opened case {prior['case_id']} with different data; correct the "
                                     "case instead of referring it again"}]
                outcome, referral = "invalid", None
            else:
                case_id = prior["case_id"] if prior is not None else commands.case_id_for(referral.external_referral_id)
        if referral is None and outcome is None:
            outcome = "invalid"
        rows.append(store.NewRow(
            item=item.item, lines=item.lines, external_referral_id=item.external_referral_id, case_id=case_id,
            referral=referral.model_dump(mode="json") if referral is not None and outcome is None else None,
            known_before=case_id is not None and referral is not None and referral.external_referral_id in known,
            outcome=outcome or "pending", errors=errors))

    settings = request.app.state.settings
    terms = {"timeout_seconds": settings.command_timeout_seconds,
             "arrival_confirmation_days": settings.arrival_confirmation_days,
             "monitoring_months": list(settings.avrr_monitoring_months),
             "office_time_zones": dict(settings.office_time_zones), "default_time_zone": settings.default_time_zone,
             "exit_permissions": dict(settings.exit_permissions), "office_countries": dict(settings.office_countries)}
    import_id = f"imp-{uuid.uuid4().hex[:16]}"
    client = request.client
    async with db.transaction():
        await store.create_import(
            db, import_id=import_id, offices=list(principal.offices), uploaded_by=principal.username,
            actor=principal.actor.model_dump(mode="json"),
            source_ip=getattr(request.state, "client_ip", None) or (client.host if client else None),
            file_name=file_name, file_format=file_format, file_sha256=hashlib.sha256(raw).hexdigest(), terms=terms,
            rows=rows)
    async with lent_back(db):  # not held while Temporal answers (api.deps)
        await _start(request, import_id, len(rows))
    job = await store.get_import(db, import_id)
    response.headers["Location"] = f"/api/v1/imports/{import_id}"
    return _view(job, await store.counts(db, import_id))


@router.get("/template", summary="A template file to fill in (CSV or JSON)",
            responses={200: {"content": {"text/csv": {}, "application/json": {}}}})
async def template(principal: CurrentPrincipal,
                   format: Annotated[Literal["csv", "json"], Query()] = "csv") -> Response:  # noqa: A002
    policy.require_role(principal, {Role.SUPERVISOR}, "import referrals")
    if format == "json":
        return JSONResponse(JSON_TEMPLATE, headers={
            "Content-Disposition": 'attachment; filename="referrals-template.json"'})
    return PlainTextResponse(CSV_TEMPLATE, media_type="text/csv", headers={
        "Content-Disposition": 'attachment; filename="referrals-template.csv"'})


@router.get("", response_model=list[ImportView], summary="Imports of your offices, newest first")
async def list_imports(principal: CurrentPrincipal, db: Db,
                       limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[ImportView]:
    policy.require_role(principal, {Role.SUPERVISOR}, "import referrals")
    return [_view(job, await store.counts(db, job["import_id"]))
            for job in await store.list_imports(db, principal.offices, limit)]


@router.get("/{import_id}", response_model=ImportView, responses={404: ERROR_RESPONSES[404]},
            summary="An import's progress: how many referrals are created, already referred, invalid, pending")
async def get_import(import_id: str, request: Request, principal: CurrentPrincipal, db: Db) -> ImportView:
    job = await _visible_job(db, principal, import_id)
    if job["status"] == "queued":
        async with lent_back(db):
            await _start(request, import_id, job["total"])  # stored, but its job may not have started (an outage)
    return _view(job, await store.counts(db, import_id))


@router.get("/{import_id}/rows", response_model=ImportRows, responses={404: ERROR_RESPONSES[404]},
            summary="Per-referral results: created / already_referred / invalid (line, field, reason, allowed)")
async def import_rows(import_id: str, principal: CurrentPrincipal, db: Db, outcome: Outcome | None = None,
                      after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> ImportRows:
    await _visible_job(db, principal, import_id)
    found = await store.rows(db, import_id, outcome=outcome, after_item=after, limit=limit)
    items = [ImportRow(item=r["item"], lines=list(r["lines"]), external_referral_id=r["external_referral_id"],
                       case_id=r["case_id"], outcome=r["outcome"], errors=_json(r["errors"])) for r in found]
    return ImportRows(items=items, next_after=items[-1].item if len(items) == limit else None)


def _json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


def _host_country(commands: CaseCommands, referral: Referral, line: int) -> dict[str, Any] | None:
    """The host-country rule (``CaseCommands.check_admission``) as an import row's error."""
    try:
        commands.check_admission(referral)
    except ApiError as refused:
        [detail] = refused.details
        return {"line": line, **detail}
    return None
