"""The caseworker's and the supervisor's day in a real browser (issue 17): headless Chromium
(tests/support/chromium.py) clicking through the pages the way people do, with the pages' own
JavaScript running.  The other UI tests speak HTTP to the same pages; these prove the pages
work in a browser: forms filled and submitted, rows added, the language menu that submits
itself, confirmations, the hold shown where the work is, and the phone-width layout."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from domain.model import Stage
from tests.support.chromium import browsing, chromium
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from tests.support.stack import Stack


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


async def _refer_family(page: Page, referral_id: str) -> str:
    await page.click("a[href='/ui/refer']")
    await page.select_option("[name='destination_country']", "NO")
    await page.fill("[name='external_referral_id']", referral_id)
    await page.fill("[name='members-0-full_name']", "Leyla Karimi")
    await page.fill("[name='members-0-date_of_birth']", "1990-04-02")
    await page.select_option("[name='members-0-sex']", "female")
    await page.select_option("[name='members-0-nationality']", "AF")
    await page.select_option("[name='members-0-relationship']", "principal")
    await page.click("button[name='_add'][value='members']")
    await page.fill("[name='members-1-full_name']", "Omid Karimi")
    await page.fill("[name='members-1-date_of_birth']", "2016-09-30")
    await page.select_option("[name='members-1-sex']", "male")
    await page.select_option("[name='members-1-nationality']", "AF")
    await page.select_option("[name='members-1-relationship']", "child")
    assert await page.input_value("[name='members-0-full_name']") == "Leyla Karimi"  # kept across the added row
    await page.click("button:has-text('Refer the case')")
    await page.wait_for_url("**/ui/cases/C-*")
    return page.url.rsplit("/", 1)[-1]


async def test_a_caseworker_refers_a_family_and_works_its_first_task(
        browser: Browser, stack: Stack, http, driver: CaseDriver) -> None:
    referral_id = f"UNHCR-CHR-{uuid.uuid4().hex[:8].upper()}"
    async with browsing(browser, stack, "ayse") as page:
        case_id = await _refer_family(page, referral_id)
        await expect(page.locator("h1")).to_contain_text("Leyla Karimi")
        await expect(page.locator("h1")).to_contain_text("and 1 other")

        await page.click("a.button:has-text('Open')")
        await expect(page.locator("h1")).to_have_text("Verify referral and identity documents")
        await page.click("button:has-text('Claim')")
        await page.check("[name='documents_checked']")
        await page.fill("[name='notes']", "Passports and the UNHCR registration seen.")
        await page.click("button:has-text('Complete task')")
        await page.wait_for_load_state()

    case = (await http.get(f"/api/v1/cases/{case_id}", headers=await driver.login("ayse"))).json()
    assert case["external_referral_id"] == referral_id and case["member_count"] == 2
    assert case["stage"] == "interview" and [t["task_type"] for t in case["open_tasks"]] == ["conduct_interview"]


async def test_withdrawing_asks_first_and_going_back_changes_nothing(
        browser: Browser, stack: Stack, http, driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=1))
    async with browsing(browser, stack, "ayse") as page:
        await page.goto(f"/ui/cases/{case['case_id']}")
        await page.fill("#withdraw-reason", "The family decided to stay")
        await page.click("button:has-text('Withdraw case')")
        await expect(page.locator("h1")).to_have_text("Withdraw this case?")
        await page.click("a:has-text('No, keep it open')")
        await expect(page.locator("h1")).to_contain_text("Amina Haddad")
        assert (await http.get(f"/api/v1/cases/{case['case_id']}",
                               headers=await driver.login("ayse"))).json()["status"] == "active"

        await page.fill("#withdraw-reason", "The family decided to stay")
        await page.click("button:has-text('Withdraw case')")
        await page.click("button:has-text('Yes, withdraw the case')")
        await page.wait_for_load_state()
    closed = (await http.get(f"/api/v1/cases/{case['case_id']}", headers=await driver.login("ayse"))).json()
    assert (closed["status"], closed["closure_reason"]) == ("closed", "withdrawn")


async def test_a_hold_put_by_the_supervisor_shows_on_the_caseworkers_pages(
        browser: Browser, stack: Stack, driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=1))
    task_id = case["open_tasks"][0]["task_id"]
    async with browsing(browser, stack, "fatma") as supervisor:
        await supervisor.goto(f"/ui/cases/{case['case_id']}")
        await supervisor.fill("#hold-reason", "Awaiting a family tracing result")
        await supervisor.click("button:has-text('Hold case')")
        await expect(supervisor.locator(".notice--error").first).to_contain_text("This case is on hold")
    async with browsing(browser, stack, "ayse") as caseworker:
        await caseworker.goto(f"/ui/tasks/{task_id}")
        notice = caseworker.locator(".notice--error").first
        await expect(notice).to_contain_text("This case is on hold")
        await expect(notice).to_contain_text("Awaiting a family tracing result")
        await caseworker.goto(f"/ui/cases/{case['case_id']}")
        await expect(caseworker.locator(".notice--error").first).to_contain_text("This case is on hold")


async def test_the_language_menu_switches_the_whole_page_and_arabic_reads_right_to_left(
        browser: Browser, stack: Stack) -> None:
    async with browsing(browser, stack, "ayse") as page:
        await page.goto("/ui/dashboard")
        assert await page.get_attribute("html", "dir") == "ltr"
        # The menu submits itself on a change (its script); the choice is remembered.
        async with page.expect_navigation():
            await page.select_option("#language-choice", "ar")
        assert (await page.get_attribute("html", "dir"), await page.get_attribute("html", "lang")) == ("rtl", "ar")
        await page.goto("/ui/cases")
        assert await page.get_attribute("html", "dir") == "rtl"
        heading = await page.locator("h1").inner_text()
        assert heading and heading != "Cases" and any("\u0600" <= ch <= "\u06ff" for ch in heading)
        async with page.expect_navigation():
            await page.select_option("#language-choice", "fr")
        assert await page.get_attribute("html", "lang") == "fr"
        async with page.expect_navigation():
            await page.select_option("#language-choice", "en")
        await expect(page.locator("h1")).to_have_text("Cases")


async def test_the_case_and_task_pages_fit_a_phone(browser: Browser, stack: Stack, driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=3))
    async with browsing(browser, stack, "ayse", width=390) as page:
        for path in (f"/ui/cases/{case['case_id']}", f"/ui/tasks/{case['open_tasks'][0]['task_id']}", "/ui/refer",
                     "/ui/dashboard"):
            await page.goto(path)
            overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow} px at 390 px"
        async with page.expect_navigation():  # and right to left
            await page.select_option("#language-choice", "ar")
        for path in (f"/ui/cases/{case['case_id']}", "/ui/dashboard"):
            await page.goto(path)
            overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{path} in Arabic scrolls sideways by {overflow} px at 390 px"


def _today() -> str:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    return datetime.now(UTC).astimezone(ZoneInfo("Europe/Istanbul")).date().isoformat()


async def test_a_caseworker_corrects_a_refused_form_and_completes_the_task(
        browser: Browser, stack: Stack, http, driver: CaseDriver) -> None:
    from datetime import date, timedelta

    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.INTERVIEW)
    task_id = case["open_tasks"][0]["task_id"]
    async with browsing(browser, stack, "ayse") as page:
        await page.goto(f"/ui/tasks/{task_id}")
        await page.click("button:has-text('Claim')")
        # an interview "held" next week: refused, said next to the field, what was typed kept
        await page.fill("[name='interview_date']", (date.fromisoformat(_today()) + timedelta(days=7)).isoformat())
        await page.select_option("[name='outcome']", "accepted")
        await page.fill("[name='notes']", "Family interviewed with an interpreter.")
        await page.evaluate("document.querySelector('[name=interview_date]').removeAttribute('max')")
        await page.click("button:has-text('Complete task')")
        await expect(page.locator(".field__error").first).to_be_visible()
        assert await page.input_value("[name='notes']") == "Family interviewed with an interpreter."
        await page.fill("[name='interview_date']", _today())
        await page.click("button:has-text('Complete task')")
        await page.wait_for_load_state()
    after = (await http.get(f"/api/v1/cases/{case['case_id']}", headers=await driver.login("ayse"))).json()
    assert after["stage"] == "health"


async def test_treatment_required_puts_a_hold_that_another_medical_officer_releases(
        browser: Browser, stack: Stack, http, driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.HEALTH)
    async with browsing(browser, stack, "selin") as selin:
        await selin.goto(f"/ui/tasks/{case['open_tasks'][0]['task_id']}")
        help_text = await selin.locator("#field-outcome-help").inner_text()  # what each outcome does, in words
        assert "Treatment required: medical hold" in help_text and "_" not in help_text, help_text
        await selin.click("button:has-text('Claim')")
        await selin.fill("[name='assessment_date']", _today())
        await selin.select_option("[name='outcome']", "treatment_required")
        await selin.select_option("[name='tb_classification']", "class_b1")
        await selin.fill("[name='notes']", "Treatment before travel.")
        await selin.click("button:has-text('Complete task')")
        await selin.wait_for_load_state()
        held = (await http.get(f"/api/v1/cases/{case['case_id']}", headers=await driver.login("selin"))).json()
        treatment = next(t for t in held["open_tasks"] if t["task_type"] == "record_treatment")
        await selin.goto(f"/ui/tasks/{treatment['task_id']}")
        await expect(selin.locator("main")).to_contain_text("four-eyes")  # told before she starts
    async with browsing(browser, stack, "deniz") as deniz:
        await deniz.goto(f"/ui/tasks/{treatment['task_id']}")
        await deniz.click("button:has-text('Claim')")
        await deniz.fill("[name='completed_on']", _today())
        await deniz.click("button:has-text('Complete task')")
        await deniz.wait_for_load_state()
    released = (await http.get(f"/api/v1/cases/{case['case_id']}", headers=await driver.login("deniz"))).json()
    assert [t["task_type"] for t in released["open_tasks"]] == ["assess_health"]  # the re-assessment


async def test_a_supervisor_reassigns_holds_resumes_and_reads_the_timeline(
        browser: Browser, stack: Stack, http, driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=1))
    task_id = case["open_tasks"][0]["task_id"]
    assert (await http.post(f"/api/v1/tasks/{task_id}/claim", headers=await driver.login("ayse"))).status_code == 200
    async with browsing(browser, stack, "fatma") as page:
        await page.goto(f"/ui/tasks/{task_id}")
        await page.fill("#reassign-to", "fatma")
        await page.fill("#reassign-reason", "Ayşe is on leave this week")
        await page.click("button:has-text('Reassign')")
        await page.wait_for_load_state()
        await page.goto(f"/ui/cases/{case['case_id']}")
        await page.fill("#hold-reason", "Awaiting the outcome of a family reunification request")
        await page.click("button:has-text('Hold case')")
        await expect(page.locator(".notice--error").first).to_contain_text("This case is on hold")
        await page.fill("#resume-reason", "Request answered")
        await page.click("button:has-text('Resume case')")
        await page.wait_for_load_state()
        history = page.locator("#history-title ~ *")
        await expect(history.first).to_be_visible()
        text = await page.locator("main").inner_text()
        for entry in ("Task reassigned", "Case held", "Case resumed"):
            assert entry.lower() in text.lower(), entry
    task = (await http.get(f"/api/v1/tasks/{task_id}", headers=await driver.login("fatma"))).json()
    assert task["claimed_by"] == "fatma"


async def test_another_offices_case_is_not_reachable(browser: Browser, stack: Stack, driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=1))  # Istanbul's
    async with browsing(browser, stack, "mehmet") as izmir:  # a caseworker of Izmir
        answer = await izmir.goto(f"/ui/cases/{case['case_id']}")
        assert answer is not None and answer.status == 404
        await expect(izmir.locator("main")).not_to_contain_text("Amina Haddad")
        answer = await izmir.goto(f"/ui/tasks/{case['open_tasks'][0]['task_id']}")
        assert answer is not None and answer.status == 404


async def test_screenshots_of_the_main_pages(browser: Browser, stack: Stack, driver: CaseDriver, tmp_path) -> None:
    """The README's screenshots (docs/screenshots/): ITINERA_SCREENSHOTS_DIR=docs/screenshots
    writes them there; otherwise they are taken into a temporary folder and checked."""
    import os
    from pathlib import Path

    folder = Path(os.environ.get("ITINERA_SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    case = await driver.advance(await driver.refer(referral(size=3, priority="urgent")), until=Stage.HEALTH)
    shots = {}
    async with browsing(browser, stack, "selin") as page:
        for name, path in (("inbox", "/ui"), ("dashboard", "/ui/dashboard"),
                           ("task-form", f"/ui/tasks/{case['open_tasks'][0]['task_id']}"),
                           ("case", f"/ui/cases/{case['case_id']}")):
            await page.goto(path)
            await expect(page.locator("h1")).to_be_visible()
            shots[name] = folder / f"{name}.png"
            await page.screenshot(path=str(shots[name]), full_page=name != "case")
        async with page.expect_navigation():
            await page.select_option("#language-choice", "ar")
        await page.goto("/ui/dashboard")
        await expect(page.locator("h1")).to_be_visible()
        assert await page.get_attribute("html", "dir") == "rtl"
        assert await page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        shots["arabic"] = folder / "arabic.png"
        await page.screenshot(path=str(shots["arabic"]), full_page=True)
        async with page.expect_navigation():
            await page.select_option("#language-choice", "en")
    for name, shot in shots.items():
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name


async def test_a_supervisor_reads_the_audit_trail_of_a_case(browser: Browser, stack: Stack, driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=1))
    async with browsing(browser, stack, "fatma") as page:
        await page.goto(f"/ui/cases/{case['case_id']}")
        await page.click("nav.site-nav a:has-text('Audit trail')")
        await page.fill("#audit-case", case["case_id"])
        await page.click("form.filters button:has-text('Show')")
        rows = page.locator("table.table tbody tr")
        await expect(rows.first).to_contain_text(case["case_id"])
        text = await page.locator("table.table").inner_text()
        assert "POST /api/v1/cases" in text and "GET /ui/cases/{case_id}" in text and "fatma" in text
    async with browsing(browser, stack, "ayse") as caseworker:  # supervisors only
        answer = await caseworker.goto("/ui/audit")
        assert answer is not None and answer.status == 403


async def test_a_case_summary_prints_without_the_navigation_and_the_forms(
        browser: Browser, stack: Stack, driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=2))
    async with browsing(browser, stack, "fatma") as page:
        await page.goto(f"/ui/cases/{case['case_id']}")
        await page.emulate_media(media="print")
        assert not await page.locator(".site-header").is_visible()
        assert not await page.locator("#hold-reason").is_visible()
        await expect(page.locator("h1")).to_contain_text("Amina Haddad")
        await expect(page.locator("#members-title")).to_be_visible()
        pdf = await page.pdf(format="A4")
        assert pdf[:5] == b"%PDF-" and len(pdf) > 5_000


async def test_a_caseworker_corrects_a_date_of_birth_from_the_case_page(
        browser: Browser, stack: Stack, http, driver: CaseDriver) -> None:
    from tests.support.factories import member

    body = {"programme": "avrr", "office": "IST", "priority": "normal", "origin_country": "IQ",
            "external_referral_id": f"IOM-CHR-AVRR-{uuid.uuid4().hex[:6].upper()}",
            "members": [member("Karwan Aziz", "1991-02-17", "principal", sex="male")]}
    case = await driver.refer(body)
    person = case["members"][0]["member_id"]
    async with browsing(browser, stack, "ayse") as page:
        await page.goto(f"/ui/cases/{case['case_id']}")
        await page.select_option("#correction-member", person)
        await page.select_option("#correction-field", "date_of_birth")
        await page.fill("#correction-value", "2091-02-17")  # in the future: refused, said why
        await page.fill("#correction-reason", "The passport shows another date")
        await page.click("button:has-text('Record the correction')")
        await expect(page.locator(".notice--error").first).to_be_visible()
        await page.select_option("#correction-field", "date_of_birth")
        await page.fill("#correction-value", "1991-02-07")
        await page.fill("#correction-reason", "The passport shows the 7th")
        await page.click("button:has-text('Record the correction')")
        await expect(page.locator(".notice--success").first).to_contain_text("The correction is recorded.")
    after = (await http.get(f"/api/v1/cases/{case['case_id']}", headers=await driver.login("ayse"))).json()
    assert after["members"][0]["date_of_birth"] == "1991-02-07"


async def test_a_movement_officer_creates_a_charter_with_a_transit_point(
        browser: Browser, stack: Stack, driver: CaseDriver, tmp_path) -> None:
    """The form generated from the movement's schema, in a browser: the office's zone and
    offset already chosen, a transit point row added (everything typed kept), created once."""
    import os
    from datetime import datetime, timedelta
    from pathlib import Path
    from zoneinfo import ZoneInfo

    flight = f"CH{uuid.uuid4().int % 9000 + 1000}"
    departs = (datetime.now(ZoneInfo("Europe/Istanbul")) + timedelta(days=3)).replace(hour=9, minute=40)
    async with browsing(browser, stack, "emre") as page:
        await page.goto("/ui/movements")
        assert await page.input_value("[name='departure_time_zone']") == "Europe/Istanbul"
        await page.select_option("[name='kind']", "charter")
        await page.fill("[name='flight_number']", "ch" + flight[2:].lower())  # typed in capitals by the page
        await page.fill("[name='carrier']", "Corendon")
        await page.fill("[name='departure_airport']", "ist")
        await page.fill("[name='arrival_airport']", "OSL")
        await page.fill("[name='departure_at']", departs.strftime("%Y-%m-%dT%H:%M"))
        await page.fill("[name='seat_capacity']", "12")
        await page.click("button[name='_add'][value='transit']")
        assert await page.input_value("[name='carrier']") == "Corendon"  # kept across the added row
        await page.fill("[name='transit-0-airport']", "ARN")
        await page.fill("[name='transit-0-arrives_at']", (departs + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
        await page.select_option("[name='transit-0-arrives_at__tz']", "+03:00")
        await page.fill("[name='transit-0-departs_at']", (departs + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M"))
        await page.select_option("[name='transit-0-departs_at__tz']", "+03:00")
        folder = Path(os.environ.get("ITINERA_SCREENSHOTS_DIR") or tmp_path)
        await page.screenshot(path=str(folder / "movement-form.png"), full_page=True)
        await page.click("button:has-text('Create the movement')")
        await page.wait_for_url("**/ui/movements/MV-*")
        await expect(page.locator("h1")).to_contain_text(flight)
    listed = await driver.client.get("/api/v1/movements", params={"limit": 200},
                                     headers=await driver.login("emre"))
    [created] = [m for m in listed.json()["items"] if m["flight_number"] == flight]
    assert datetime.fromisoformat(created["departure_at"]) == departs.replace(second=0, microsecond=0)
