"""The signed-in user's dashboard (issue 17): my open tasks by due date, overdue and unassigned
counts, cases on hold; for a supervisor the office's figures (open and overdue tasks, cases per
stage, rejected integration messages).  Each figure links to the list it counts."""

from __future__ import annotations

import httpx

from tests.support.browser import signed_in
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.pages import Page
from tests.support.stack import Stack


def _figures(page: Page) -> dict[str, tuple[str, str]]:
    """label -> (count as shown, link) of each figure tile."""
    out: dict[str, tuple[str, str]] = {}
    elements = page.elements
    for i, li in enumerate(elements):
        if li["tag"] != "li" or "figure" not in li.get("class", "").split():
            continue
        link, count, label = elements[i + 1], elements[i + 2], elements[i + 3]
        assert link["tag"] == "a" and "figure__count" in count["class"] and "figure__label" in label["class"]
        out[Page.text(label)] = (Page.text(count), link["href"])
    return out


async def test_a_caseworker_sees_her_tasks_by_due_date_and_the_held_cases(
        stack: Stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(referral())
    task = case["open_tasks"][0]
    held = await driver.refer(referral())
    r = await http.post(f"/api/v1/cases/{held['case_id']}/hold", json={"reason": "Awaiting the consulate."},
                        headers=await driver.login("fatma"))
    assert r.json()["status"] == "on_hold"
    async with signed_in(stack, "ayse") as ayse:
        home = Page((await ayse.get("/ui")).text)
        assert any(a.get("href") == "/ui/dashboard" for a in home.find("a"))
        await ayse.post(f"/ui/tasks/{task['task_id']}/claim", data={"csrf_token": home.csrf})
        page = Page((await ayse.get("/ui/dashboard")).text)
        figures = _figures(page)
        assert figures["My open tasks"][1] == "/ui?assignee=me" and int(figures["My open tasks"][0].rstrip("+")) >= 1
        assert figures["Cases on hold"][1] == "/ui/cases?status=on_hold"
        assert "Mine overdue" in figures and "Not taken by anyone" in figures
        assert "Rejected integration messages" not in figures  # the office's figures are for supervisors
        mine = [a["href"] for a in page.find("a") if "next-tasks" in a["within"]]
        assert f"/ui/tasks/{task['task_id']}" in mine
        held_links = [a["href"] for a in page.find("a") if "held-cases" in a["within"]]
        assert f"/ui/cases/{held['case_id']}" in held_links
        # the figure's link is the list it counts: the inbox of my tasks lists this one
        inbox = Page((await ayse.get(figures["My open tasks"][1])).text)
        assert any(a.get("href") == f"/ui/tasks/{task['task_id']}" for a in inbox.find("a"))


async def test_a_supervisor_sees_the_offices_figures(stack: Stack, driver: CaseDriver) -> None:
    await driver.refer(referral())
    async with signed_in(stack, "fatma") as fatma:
        page = Page((await fatma.get("/ui/dashboard")).text)
        figures = _figures(page)
        assert figures["Rejected integration messages"][1] == "/ui/messages"
        assert figures["Overdue tasks"][1] == "/ui?overdue=yes"
        assert int(figures["Open tasks, every role"][0].rstrip("+")) >= 1
        stages = page.one("table", id="stages")
        assert "Verification" in Page.text(stages) or "Referral" in Page.text(stages)
        links = [a["href"] for a in page.find("a") if "stages" in a["within"]]
        assert links and all(link.startswith("/ui/cases?") for link in links)


async def test_a_supervisor_sees_referrals_and_arrivals_week_by_week(stack: Stack, driver: CaseDriver) -> None:
    await driver.refer(referral())
    async with signed_in(stack, "fatma") as fatma:
        page = Page((await fatma.get("/ui/dashboard")).text)
    weeks = page.one("table", id="weeks")
    rows = [r for r in page.find("tr") if "weeks" in r["within"]]
    assert len(rows) == 1 + 8  # the head and eight weeks
    links = [a["href"] for a in page.find("a") if "weeks" in a["within"]]
    # this week's referrals count the case just referred, and open the case list of that week
    assert links and all(link.startswith("/ui/cases?") for link in links)
    assert any("referred_since=" in link for link in links) and any("arrived_since=" in link for link in links)
    assert int(Page.text(page.find("a", href=links[-2])[0])) >= 1
    assert "Referred and arrived, week by week" in page.body_text and weeks
