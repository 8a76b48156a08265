"""Times in the office's time zone on every UI page (issue 17): the integration messages page
(the message's office), nested records in a case's history, the inbox's relative due times in
the reader's language."""

from __future__ import annotations

import httpx

from api.ui.formatting import display_value, due_in, fmt_datetime
from api.ui.i18n import use_language
from domain.model import Stage
from tests.support.browser import signed_in
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.inbox import send, settled
from tests.support.pages import Page
from tests.support.stack import Stack
from tests.test_inbox import _key, _result


def test_a_nested_record_in_the_history_shows_its_times_in_the_offices_zone() -> None:
    booking = {"departure_at": "2026-12-10T06:40:00+00:00", "departure_airport": "IST", "pnr": None}
    assert display_value(booking, "Europe/Istanbul") == "Departure at: 10 Dec 2026, 09:40 (Istanbul); Departure airport: IST"
    assert display_value([booking], "Europe/Istanbul").startswith("Departure at: 10 Dec 2026, 09:40 (Istanbul)")


def test_relative_due_times_follow_the_language() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    try:
        use_language("fr")
        assert due_in(now + timedelta(days=3), now) == "échéance dans 3 jours"
        assert fmt_datetime(now, "Europe/Istanbul") == "3 déc. 2026, 12:00 (Istanbul)"  # the month's name too
        use_language("ar")
        assert fmt_datetime(now, "Europe/Istanbul") == "3 ديسمبر 2026, 12:00 (Istanbul)"
        use_language("en")
        assert due_in(now - timedelta(hours=5), now) == "overdue by 5 h"
    finally:
        use_language("en")


async def test_a_rejected_message_is_shown_at_its_offices_time(
        stack: Stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    clinic = await _key(http, driver, ["health_result"])
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.HEALTH)
    fatma = await driver.login("fatma")
    await http.post(f"/api/v1/cases/{case['case_id']}/hold", headers=fatma, json={"reason": "checking documents"})
    inbox_id = (await send(http, clinic["api_key"], _result(case))).json()["inbox_id"]
    assert (await settled(http, clinic["api_key"], inbox_id))["status"] == "rejected"
    async with signed_in(stack, "fatma") as browser:
        page = Page((await browser.get("/ui/messages")).text)
        row = next(tr for tr in page.find("tr") if f"#{inbox_id}" in Page.text(tr))
        index = page.elements.index(row)
        shown = next(e for e in page.elements[index:] if e["tag"] == "time")
        assert shown["datetime"].endswith("+03:00") and Page.text(shown).endswith("(Istanbul)")
        assert shown["title"].endswith("UTC")
        dashboard = Page((await browser.get("/ui/dashboard")).text)
        tile = next(a for a in dashboard.find("a", href="/ui/messages") if "main" in a["within"])
        assert int(Page.text(tile).split()[0].rstrip("+")) >= 1
