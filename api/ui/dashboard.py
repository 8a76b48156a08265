"""The signed-in user's dashboard (``/ui/dashboard``): where their day stands at a glance.

Everyone: their own open tasks by due date, how many are overdue, the tasks of their role
nobody has taken, the cases on hold.  A supervisor also sees the office's figures: open and
overdue tasks of every role, cases per stage (the ``stages`` report), and the integration
messages the case workflows rejected, waiting for them.  Every figure links to the list it
counts.  Read through the same functions as the inbox, the case list, the figures and the
messages pages; nothing here has a query of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from api import policy, readmodel, reports, task_actions
from api.auth import Principal
from api.deps import Db
from api.ui.i18n import gettext as _
from api.ui.rendering import UiRoute, render
from api.ui.reports import ui_link
from api.ui.security import UI_PREFIX
from api.ui.session import UiPrincipal
from domain.model import Role
from store import inbox as inbox_store

router = APIRouter(route_class=UiRoute)
COUNT_LIMIT = 200  # beyond this a figure reads "200+": the dashboard counts what a page lists


@dataclass(frozen=True)
class Figure:
    label: str
    count: int
    more: bool  # there are more than ``count``
    link: str
    alert: bool = False  # shown as needing attention when not zero

    @property
    def shown(self) -> str:
        return f"{self.count}+" if self.more else str(self.count)


async def _count_tasks(db: Db, principal: Principal, link: str, label: str, alert: bool = False,
                       **filters: Any) -> Figure:
    page = await task_actions.list_inbox(db, principal, limit=COUNT_LIMIT, **filters)
    return Figure(label, len(page.items), page.next_cursor is not None, link, alert)


WEEKS = 8


async def _weekly_throughput(db: Db, offices: list[str]) -> dict[str, Any]:
    """Referrals and arrivals per week over the last ``WEEKS`` weeks (the ``flows`` report),
    each count linking to its cases."""
    today = reports.today_in(offices)
    flows = await reports.flows(db, offices, period="week", since=today - timedelta(weeks=WEEKS - 1),
                                until=today + timedelta(days=1))
    weeks = [{**row, "links": {k: ui_link(v) for k, v in links.items()}} for row, links in zip(flows.rows, flows.links)]
    return {"weeks": weeks, "week_scale": max([w["referrals"] for w in weeks] + [w["arrivals"] for w in weeks] + [1])}


@router.get("/dashboard", summary="My dashboard")
async def dashboard(request: Request, principal: UiPrincipal, db: Db) -> Response:
    offices = policy.visible_offices(principal)
    mine = await task_actions.list_inbox(db, principal, assignee="me", limit=COUNT_LIMIT)
    by_due = sorted(mine.items, key=lambda t: t.due_at)
    figures = [
        Figure(_("My open tasks"), len(mine.items), mine.next_cursor is not None, f"{UI_PREFIX}?assignee=me"),
        Figure(_("Mine overdue"), sum(t.overdue for t in mine.items), False, f"{UI_PREFIX}?assignee=me&overdue=yes",
               alert=True),
        await _count_tasks(db, principal, f"{UI_PREFIX}?assignee=unassigned", _("Not taken by anyone"),
                           assignee="unassigned"),
    ]
    held = await readmodel.list_cases(db, offices=offices, status="on_hold", limit=COUNT_LIMIT)
    figures.append(Figure(_("Cases on hold"), len(held.items), held.next_cursor is not None,
                          f"{UI_PREFIX}/cases?status=on_hold", alert=True))
    office: dict[str, Any] | None = None
    if principal.role == Role.SUPERVISOR:
        rejected = await inbox_store.list_for_offices(db, offices=principal.offices, status="rejected",
                                                      limit=COUNT_LIMIT)
        stages = await reports.stages(db, offices)
        office = {
            "figures": [
                await _count_tasks(db, principal, UI_PREFIX, _("Open tasks, every role")),
                await _count_tasks(db, principal, f"{UI_PREFIX}?overdue=yes", _("Overdue tasks"), alert=True,
                                   overdue=True),
                Figure(_("Rejected integration messages"), len(rejected), len(rejected) >= COUNT_LIMIT,
                       f"{UI_PREFIX}/messages", alert=True),
            ],
            "stages": [{**row, "link": ui_link(links.get("cases"))} for row, links in zip(stages.rows, stages.links)],
            "scale": max([r["cases"] for r in stages.rows] + [1]),
            **await _weekly_throughput(db, offices),
        }
    return render(request, "dashboard.html", {
        "figures": figures, "next_tasks": by_due[:10], "held": held.items[:10], "office": office,
    }, title=_("Dashboard"))
