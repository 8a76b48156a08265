"""Figures for supervisors: ``GET /api/v1/reports/...`` (JSON, or CSV with ``?format=csv`` or
``Accept: text/csv``).  The SQL and the definitions are in ``api/reports.py``.

Who: supervisors, for their offices (or one of them, ``office=``).  There is no manager role;
a supervisor answers for an office's figures.  Admins see no case data, so no figures either.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api import policy, reports
from api.auth import CurrentPrincipal
from api.case_filters import Day
from api.errors import ERROR_RESPONSES, ApiError
from api.deps import Db
from domain.model import Country, ProgrammeName, Role
from domain.sessions.model import LanguageCode

router = APIRouter(prefix="/api/v1/reports", tags=["reports"],
                   responses={401: ERROR_RESPONSES[401], 403: ERROR_RESPONSES[403], 422: ERROR_RESPONSES[422]})

REPORTS = {
    "stages": "Cases by stage and programme now",
    "flows": "Referrals, departures, arrivals and closures per week or month",
    "nationalities": "People by nationality (every member)",
    "destinations": "Cases and people by destination",
    "origins": "Cases and people by country of origin",
    "stage-durations": "Median days per stage and SLA compliance",
    "training": "People trained in orientation (resettlement) and pre-departure counselling (AVRR)",
    "orientation-sessions": "People trained in orientation sessions by month, destination and language",
}
MAX_RANGE = timedelta(days=3660)


class ReportBody(BaseModel):
    report: str
    title: str
    offices: list[str] = Field(description="The offices counted.")
    parameters: dict[str, Any]
    columns: list[str]
    rows: list[dict[str, Any]] = Field(description="One object per row, with `links`: for each number that has "
                                                   "one, the case list (GET /api/v1/cases?...) of the cases behind it.")
    totals: dict[str, Any]
    totals_links: dict[str, str]


Office = Annotated[str | None, Query(max_length=32, description="Only this one of your offices (default: all yours).")]
Programme = Annotated[ProgrammeName | None, Query(description="Only this programme.")]
Format = Annotated[Literal["json", "csv"] | None, Query(description="csv for a CSV file (or send Accept: text/csv).")]
Since = Annotated[Day | None, Query(alias="from", description="First day (default: twelve months ago, the 1st).")]
Until = Annotated[Day | None, Query(alias="to", description="Last day, inclusive (default: today).")]


def scope(principal: CurrentPrincipal, office: str | None) -> list[str]:
    policy.require_role(principal, {Role.SUPERVISOR}, "read reports")
    offices = policy.visible_offices(principal)
    if office is None:
        return list(offices)
    if office not in offices:
        raise ApiError(403, "forbidden", f"you may read the figures of your offices only ({', '.join(offices)})",
                       [{"field": "query.office", "reason": "not one of your offices", "allowed": list(offices)}])
    return [office]


def date_range(offices: list[str], since: date | None, until: date | None) -> tuple[date, date]:
    """[since, until + 1 day): ``to`` is inclusive for people, exclusive inside."""
    first, end = reports.default_range(reports.today_in(offices))
    since = since or first
    end = until + timedelta(days=1) if until else end
    if end <= since or end - since > MAX_RANGE:
        raise ApiError(422, "invalid_request", "from must be on or before to, at most ten years apart",
                       [{"field": "query.from", "reason": "not on or before to (or more than ten years before)"}])
    return since, end


def wants_csv(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, date) else str(value)


def to_csv(report: reports.Report) -> str:
    """The rows, then for each column that links to cases a ``<column>_cases_url`` column."""
    linked = [c for c in report.columns if any(c in links for links in report.links)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(report.columns + [f"{c}_cases_url" for c in linked])
    for row, links in zip(report.rows, report.links):
        writer.writerow([_cell(row.get(c)) for c in report.columns] + [links.get(c, "") for c in linked])
    return out.getvalue()


def answer(request: Request, report: reports.Report, fmt: str | None) -> Any:
    if wants_csv(request, fmt):
        return Response(to_csv(report), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="itinera-{report.name}.csv"'})
    return report.as_json()


_CSV = {200: {"content": {"text/csv": {}}, "description": "The report (JSON, or CSV on request)."}}


@router.get("", summary="The reports there are (supervisors)")
async def list_reports(principal: CurrentPrincipal) -> list[dict[str, str]]:
    policy.require_role(principal, {Role.SUPERVISOR}, "read reports")
    return [{"report": name, "title": title, "url": f"/api/v1/reports/{name}"} for name, title in REPORTS.items()]


@router.get("/stages", response_model=ReportBody, responses=_CSV, summary=REPORTS["stages"])
async def stages_report(request: Request, principal: CurrentPrincipal, db: Db, office: Office = None,
                        programme: Programme = None, format: Format = None) -> Any:
    offices = scope(principal, office)
    return answer(request, await reports.stages(db, offices, office=office, programme=programme), format)


@router.get("/flows", response_model=ReportBody, responses=_CSV, summary=REPORTS["flows"])
async def flows_report(request: Request, principal: CurrentPrincipal, db: Db,
                       period: Annotated[Literal["week", "month"], Query(description="Weeks start on Monday.")] = "month",
                       since: Since = None, until: Until = None, office: Office = None, programme: Programme = None,
                       format: Format = None) -> Any:
    offices = scope(principal, office)
    lo, hi = date_range(offices, since, until)
    return answer(request, await reports.flows(db, offices, period=period, since=lo, until=hi, office=office,
                                               programme=programme), format)


async def _countries(kind: reports.CountryKind, request: Request, principal: CurrentPrincipal, db: Db,
                     office: str | None, programme: str | None, arrived_since: date | None,
                     arrived_before: date | None, fmt: str | None) -> Any:
    offices = scope(principal, office)
    return answer(request, await reports.countries(db, offices, kind, office=office, programme=programme,
                                                   arrived_since=arrived_since, arrived_before=arrived_before), fmt)


ArrivedSince = Annotated[Day | None, Query(description="Only cases that arrived on or after this day.")]
ArrivedBefore = Annotated[Day | None, Query(description="Only cases that arrived before this day.")]


@router.get("/nationalities", response_model=ReportBody, responses=_CSV, summary=REPORTS["nationalities"])
async def nationalities_report(request: Request, principal: CurrentPrincipal, db: Db, office: Office = None,
                               programme: Programme = None, arrived_since: ArrivedSince = None,
                               arrived_before: ArrivedBefore = None, format: Format = None) -> Any:
    return await _countries("nationalities", request, principal, db, office, programme, arrived_since,
                            arrived_before, format)


@router.get("/destinations", response_model=ReportBody, responses=_CSV, summary=REPORTS["destinations"])
async def destinations_report(request: Request, principal: CurrentPrincipal, db: Db, office: Office = None,
                              programme: Programme = None, arrived_since: ArrivedSince = None,
                              arrived_before: ArrivedBefore = None, format: Format = None) -> Any:
    return await _countries("destinations", request, principal, db, office, programme, arrived_since,
                            arrived_before, format)


@router.get("/origins", response_model=ReportBody, responses=_CSV, summary=REPORTS["origins"])
async def origins_report(request: Request, principal: CurrentPrincipal, db: Db, office: Office = None,
                         programme: Programme = None, arrived_since: ArrivedSince = None,
                         arrived_before: ArrivedBefore = None, format: Format = None) -> Any:
    return await _countries("origins", request, principal, db, office, programme, arrived_since,
                            arrived_before, format)


@router.get("/stage-durations", response_model=ReportBody, responses=_CSV, summary=REPORTS["stage-durations"])
async def stage_durations_report(request: Request, principal: CurrentPrincipal, db: Db, since: Since = None,
                                 until: Until = None, office: Office = None, programme: Programme = None,
                                 format: Format = None) -> Any:
    offices = scope(principal, office)
    lo, hi = date_range(offices, since, until)
    return answer(request, await reports.stage_durations(db, offices, since=lo, until=hi, office=office,
                                                         programme=programme), format)


@router.get("/training", response_model=ReportBody, responses=_CSV, summary=REPORTS["training"])
async def training_report(request: Request, principal: CurrentPrincipal, db: Db, since: Since = None,
                          until: Until = None, office: Office = None, format: Format = None) -> Any:
    offices = scope(principal, office)
    lo, hi = date_range(offices, since, until)
    return answer(request, await reports.training(db, offices, since=lo, until=hi, office=office), format)


@router.get("/orientation-sessions", response_model=ReportBody, responses=_CSV,
            summary=REPORTS["orientation-sessions"])
async def orientation_sessions_report(
        request: Request, principal: CurrentPrincipal, db: Db, since: Since = None, until: Until = None,
        office: Office = None, format: Format = None,
        destination_country: Annotated[Country | None, Query(description="Only sessions for this destination.")] = None,
        language: Annotated[LanguageCode | None, Query(description="Only sessions in this language.")] = None) -> Any:
    offices = scope(principal, office)
    lo, hi = date_range(offices, since, until)
    return answer(request, await reports.orientation_sessions(db, offices, since=lo, until=hi, office=office,
                                                              destination_country=destination_country,
                                                              language=language), format)
