"""The figures dashboard for supervisors (``/ui/reports``): the reports of ``GET /api/v1/reports``
drawn as bars (server-rendered SVG, no script), each number linking to the UI's case list of
the cases behind it; each table downloadable as CSV (``/ui/reports/{name}.csv``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from pydantic import Field
from starlette.responses import Response

from api import reports
from api.case_filters import Day
from api.deps import Db
from api.routes.reports import REPORTS, date_range, scope, to_csv
from api.ui.filters import _Filters
from api.ui.i18n import N_
from api.ui.i18n import gettext as _
from api.ui.rendering import UiRoute, render
from api.ui.security import UI_PREFIX
from api.ui.session import UiPrincipal

router = APIRouter(route_class=UiRoute)

# The reports' titles as api.reports names them (the API's JSON keeps them in English), marked for
# the catalogs: the page says each through ``say`` (tests/test_ui_translations_leftovers.py checks
# that every title a report gives is here).
TITLES = (
    N_("Cases by stage and programme now"), N_("Referrals, departures, arrivals and closures per week"),
    N_("Referrals, departures, arrivals and closures per month"), N_("People by nationality (every member)"),
    N_("Cases and people by destination"), N_("Cases and people by country of origin"),
    N_("Median days per stage and SLA compliance"),
    N_("People trained: orientation (resettlement) and pre-departure counselling (AVRR)"),
    N_("People trained in orientation sessions, by month, destination and language"),
)
# The flows table's columns (a report's column names, humanized) and its first column's heading.
COLUMNS = (
    N_("Referrals"), N_("Departures"), N_("Arrivals"), N_("Closures"), N_("Month from"), N_("Week from"),
    N_("Origin"),
)


class ReportFilters(_Filters):
    period: Literal["week", "month"] = "month"
    from_: Day | None = Field(default=None, alias="from")
    to: Day | None = None
    office: Annotated[str | None, Field(max_length=32)] = None


def ui_link(api_link: str | None) -> str | None:
    """The UI's case list with the API case list's query."""
    return api_link.replace(reports.CASES_URL, f"{UI_PREFIX}/cases", 1) if api_link else None


async def _build(db: Db, principal: UiPrincipal, name: str, filters: ReportFilters) -> reports.Report:
    offices = scope(principal, filters.office)
    if name == "stages":
        return await reports.stages(db, offices, office=filters.office)
    if name in ("nationalities", "destinations", "origins"):
        return await reports.countries(db, offices, name, office=filters.office)  # type: ignore[arg-type]
    since, until = date_range(offices, filters.from_, filters.to)
    if name == "flows":
        return await reports.flows(db, offices, period=filters.period, since=since, until=until, office=filters.office)
    if name == "stage-durations":
        return await reports.stage_durations(db, offices, since=since, until=until, office=filters.office)
    if name == "orientation-sessions":
        return await reports.orientation_sessions(db, offices, since=since, until=until, office=filters.office)
    return await reports.training(db, offices, since=since, until=until, office=filters.office)


def _chart(report: reports.Report, columns: list[str]) -> dict[str, Any]:
    """The report with UI links and, per column, the largest value (the bars' scale)."""
    rows = [{**row, "links": {k: ui_link(v) for k, v in links.items()}} for row, links in zip(report.rows, report.links)]
    scale = {c: max([r[c] or 0 for r in report.rows] + [0]) for c in columns}
    return {"report": report, "rows": rows, "scale": scale, "columns": columns,
            "totals_links": {k: ui_link(v) for k, v in report.totals_links.items()}}


@router.get("/reports", summary="Figures of my offices")
async def reports_page(request: Request, principal: UiPrincipal, db: Db,
                       filters: Annotated[ReportFilters, Query()]) -> Response:
    built = {name: await _build(db, principal, name, filters) for name in REPORTS}
    charts = {
        "stages": _chart(built["stages"], ["cases", "people"]),
        "flows": _chart(built["flows"], ["referrals", "departures", "arrivals", "closures"]),
        "nationalities": _chart(built["nationalities"], ["people"]),
        "destinations": _chart(built["destinations"], ["people"]),
        "origins": _chart(built["origins"], ["people"]),
        "stage-durations": _chart(built["stage-durations"], ["median_days", "sla_compliance"]),
        "training": _chart(built["training"], ["orientation_people", "predeparture_counselling_people"]),
        "orientation-sessions": _chart(built["orientation-sessions"], ["people_trained"]),
    }
    query = urlencode({k: v for k, v in filters.model_dump(mode="json", by_alias=True).items() if v not in (None, "")})
    return render(request, "reports.html", {
        "charts": charts, "titles": REPORTS, "filters": filters, "query": query,
        "office_choices": [(o, o) for o in principal.offices],
        "range": built["flows"].parameters,
    }, title=_("Figures"))


@router.get("/reports/{name}.csv", summary="A report as CSV")
async def report_csv(request: Request, principal: UiPrincipal, db: Db,
                     name: Annotated[str, Path(pattern="^(" + "|".join(REPORTS) + ")$")],
                     filters: Annotated[ReportFilters, Query()]) -> Response:
    report = await _build(db, principal, name, filters)
    return Response(to_csv(report), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="itinera-{name}-{date.today()}.csv"'})
