"""The caseworker web UI, driven over real HTTP like a browser: cookies kept, redirects followed.

Every check that something "changed nothing" reads the case back through the JSON API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import AwareDatetime, BaseModel, Field

from api.ui.schema_form import BoundForm
from domain.model import Stage
from domain.tasks import TASK_SPECS, TaskType
from tests.support.driver import CaseDriver
from tests.support.factories import member, referral
from tests.support.browser import sign_in, signed_in
from tests.support.pages import Page
from tests.support.stack import Stack
from tests.support.users import TEST_PASSWORD

# --- signing in --------------------------------------------------------------------------------


@pytest.fixture
async def browser(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.base_url, follow_redirects=True, timeout=60) as client:
        yield client


async def api_case(http: httpx.AsyncClient, driver: CaseDriver, case_id: str) -> dict[str, Any]:
    r = await http.get(f"/api/v1/cases/{case_id}", headers=await driver.login("fatma"))
    r.raise_for_status()
    return r.json()


async def api_task(http: httpx.AsyncClient, driver: CaseDriver, task_id: str) -> dict[str, Any]:
    r = await http.get(f"/api/v1/tasks/{task_id}", headers=await driver.login("fatma"))
    r.raise_for_status()
    return r.json()


def family(size: int = 2, surname: str = "Haddad", **overrides: Any) -> dict[str, Any]:
    """A referral (``tests.support.factories.referral``) of a mother and ``size - 1`` children."""
    people = [member(f"Amina {surname}", "1987-05-12", "principal")]
    people += [member(f"Child{i} {surname}", f"{2008 + i}-03-0{i}", "child", sex="male") for i in range(1, size)]
    return referral(**overrides) | {"members": people}


def today(days: int = 0) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


# --- tests -----------------------------------------------------------------------------------


async def test_login_fails_with_a_wrong_password_and_succeeds_with_the_right_one(
        stack: Stack, browser: httpx.AsyncClient) -> None:
    wrong = await sign_in(browser, "ayse", "not-the-password")
    assert wrong.status_code == 400
    assert "Unknown username or wrong password" in Page(wrong.text).body_text
    assert Page(wrong.text).field("username")["value"] == "ayse"  # the username is kept, the password never
    assert Page(wrong.text).field("password").get("value") is None
    assert "itinera_session" not in browser.cookies
    assert (await browser.get("/ui")).url.path == "/ui/login"

    login = Page((await browser.get("/ui/login")).text)
    right = await browser.post("/ui/login", follow_redirects=False, data={
        "username": "ayse", "password": TEST_PASSWORD, "csrf_token": login.csrf, "next": "/ui/cases"})
    assert right.status_code == 303 and right.headers["location"] == "/ui/cases"
    session_cookie = next(c for c in right.headers.get_list("set-cookie") if c.startswith("itinera_session="))
    assert "HttpOnly" in session_cookie and "SameSite=strict" in session_cookie and "Path=/ui" in session_cookie
    # The cookie holds the same JWT the API issues: it names the user, role and offices.
    me = await browser.get("/api/v1/auth/me",
                           headers={"Authorization": f"Bearer {browser.cookies.get('itinera_session', path='/ui')}"})
    assert me.json() == {"username": "ayse", "role": "caseworker", "offices": ["IST"], "kind": "user"}

    inbox = Page((await browser.get("/ui")).text)
    header = Page.text(inbox.one("header"))
    assert "ayse" in header and "Caseworker" in header and "IST" in header
    assert "Log out" in header
    nav = [(a["href"], Page.text(a), a.get("aria-current")) for a in inbox.find("a") if "main" not in a["within"]
           and a["href"] in ("/ui", "/ui/cases") and a.get("class") is None]
    assert nav == [("/ui", "Inbox", "page"), ("/ui/cases", "Cases", None)]

    # A login page offered to someone signed in goes straight on; an off-site "next" is ignored.
    assert (await browser.get("/ui/login?next=//evil.example/x")).url.path == "/ui"

    logout = await browser.post("/ui/logout", data={"csrf_token": inbox.csrf})
    assert logout.url.path == "/ui/login" and "You have signed out" in Page(logout.text).body_text
    assert (await browser.get("/ui/cases")).url.path == "/ui/login"


async def test_pages_redirect_to_login_without_a_valid_session(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as client:
        for path in ("/ui", "/ui/cases?stage=visa", "/ui/cases/C-AAAA-BBBB-CCCC", "/ui/tasks/C-AAAA-BBBB-CCCC-T01",
                     "/ui/no-such-page"):
            r = await client.get(path)
            assert r.status_code == 303, path
            assert r.headers["location"].startswith("/ui/login"), path
        assert (await client.get("/ui/cases?stage=visa")).headers["location"] == "/ui/login?next=/ui/cases%3Fstage%3Dvisa"
        client.cookies.set("itinera_session", "not-a-jwt")
        r = await client.get("/ui/cases")
        assert r.status_code == 303 and r.headers["location"] == "/ui/login?next=/ui/cases&expired=1"
        assert (await client.get("/")).headers["location"] == "/ui"


async def test_posts_without_the_csrf_token_are_refused_and_change_nothing(
        stack: Stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(family(1))
    task_id = case["open_tasks"][0]["task_id"]
    async with signed_in(stack, "ayse") as ayse:
        page = Page((await ayse.get(f"/ui/tasks/{task_id}")).text)
        assert page.csrf == ayse.cookies["itinera_csrf"]
        valid_form = {"documents_checked": "true", "notes": "All documents seen."}

        for token in (None, "", "x" * 43, page.csrf[:-1] + ("A" if page.csrf[-1] != "A" else "B")):
            data = dict(valid_form) | ({} if token is None else {"csrf_token": token})
            completed = await ayse.post(f"/ui/tasks/{task_id}", data=data)
            assert completed.status_code == 403, token
            assert "did not come from Itinera" in Page(completed.text).body_text
            claimed = await ayse.post(f"/ui/tasks/{task_id}/claim", data={k: v for k, v in data.items()
                                                                            if k == "csrf_token"})
            assert claimed.status_code == 403
        assert (await ayse.post("/ui/logout")).status_code == 403
        assert (await ayse.get("/ui")).url.path == "/ui"  # still signed in

        # A cross-site form cannot carry the cookie's token, and a missing cookie fails too.
        bare = httpx.AsyncClient(base_url=stack.base_url, timeout=60,
                                 cookies={"itinera_session": ayse.cookies.get("itinera_session", path="/ui")})
        async with bare:
            assert (await bare.post(f"/ui/tasks/{task_id}", data=valid_form | {"csrf_token": page.csrf})).status_code == 403

    after = await api_case(http, driver, case["case_id"])
    assert after["version"] == case["version"] and after["stage"] == "referral"
    task = await api_task(http, driver, task_id)
    assert task["status"] == "open" and task["claimed_by"] is None


async def test_inbox_lists_a_referred_cases_task_with_priority_and_due_date(
        stack: Stack, driver: CaseDriver) -> None:
    case = await driver.refer(family(2, priority="emergency"))
    task = case["open_tasks"][0]

    async def inbox_pages(client: httpx.AsyncClient, url: str) -> list[set[str]]:
        """The task links of each inbox page, following "Next page" to the end."""
        pages: list[set[str]] = []
        while url:
            page = Page((await client.get(url)).text)
            pages.append({a["href"] for a in page.find("a") if a.get("href", "").startswith("/ui/tasks/")})
            following = page.find("a", rel="next")
            url = following[0]["href"] if following else ""
        return pages

    async with signed_in(stack, "ayse") as ayse:
        page = Page((await ayse.get("/ui?stage=referral&assignee=unassigned")).text)
        links = [a for a in page.find("a") if a.get("href") == f"/ui/tasks/{task['task_id']}"]
        assert links and Page.text(links[0]) == "Verify referral and identity documents"
        row = Page.text(next(r for r in page.find("tr") if case["case_id"] in Page.text(r)))
        assert "Emergency" in row and "Referral" in row and "Unassigned" in row
        due = datetime.fromisoformat(task["due_at"]).astimezone(ZoneInfo("Europe/Istanbul"))  # the office's time
        assert f"{due.day} {due:%b %Y, %H:%M} (Istanbul)" in row and "due " in row
        claim_forms = [f for f in page.find("form") if f.get("action") == f"/ui/tasks/{task['task_id']}/claim"]
        assert len(claim_forms) == 1

        # Unfiltered, page by page ("Next page"): the task is on exactly one page.
        pages = await inbox_pages(ayse, "/ui")
        assert sum(f"/ui/tasks/{task['task_id']}" in links for links in pages) == 1
        assert all(not (a & b) for i, a in enumerate(pages) for b in pages[i + 1:])

        # Filters exclude it: another stage, overdue only, assigned to me.
        for query in ("stage=interview", "overdue=yes", "assignee=me"):
            assert f"/ui/tasks/{task['task_id']}" not in (await ayse.get(f"/ui?{query}")).text, query
        assert (await ayse.get("/ui?stage=nonsense")).status_code == 422

        # Claiming it from the inbox keeps the user on the inbox, now "assigned to me".
        claimed = await ayse.post(f"/ui/tasks/{task['task_id']}/claim",
                                  data={"csrf_token": page.csrf, "next": "/ui?assignee=me"})
        assert claimed.url.path == "/ui" and claimed.url.params["assignee"] == "me"
        assert "You claimed" in Page(claimed.text).body_text
        assert f"/ui/tasks/{task['task_id']}" in claimed.text

    for username, sees in (("fatma", True), ("selin", False), ("mehmet", False)):
        async with signed_in(stack, username) as client:
            html = (await client.get("/ui?stage=referral")).text
            assert (f"/ui/tasks/{task['task_id']}" in html) is sees, username


async def test_task_page_renders_a_form_with_the_fields_of_the_json_schema(
        stack: Stack, driver: CaseDriver) -> None:
    case = await driver.refer(family(1))
    verify = case["open_tasks"][0]
    async with signed_in(stack, "ayse") as ayse:
        page = Page((await ayse.get(f"/ui/tasks/{verify['task_id']}")).text)
        form = page.one("form", id="task-form")
        assert form["action"] == f"/ui/tasks/{verify['task_id']}" and form["method"] == "post"
        schema = TASK_SPECS[TaskType.VERIFY_REFERRAL].form.model_json_schema()
        checkbox = page.field("documents_checked")
        assert checkbox["type"] == "checkbox" and "required" in checkbox  # Literal[True]: must be ticked
        assert page.field("notes")["tag"] == "textarea" and "required" not in page.field("notes")
        assert page.controls("task-form") == list(schema["properties"])
        help_text = Page.text(page.one("p", id="field-documents_checked-help"))
        assert help_text == schema["properties"]["documents_checked"]["description"]
        assert page.one("label", for_="field-documents_checked")  # labels tied to their inputs

    health = await driver.advance(case, Stage.HEALTH)
    task = health["open_tasks"][0]
    assert task["task_type"] == "assess_health"
    async with signed_in(stack, "selin") as selin:
        page = Page((await selin.get(f"/ui/tasks/{task['task_id']}")).text)
        schema = TASK_SPECS[TaskType.ASSESS_HEALTH].form.model_json_schema()
        # one control per property, in the model's order (a date-time would add its UTC offset)
        assert page.controls("task-form") == list(schema["properties"])
        for name in schema["properties"]:
            control = page.field(name)
            assert ("required" in control) is (name in schema["required"]), name
            assert page.find("label", for_=control["id"]), name
        assert page.field("assessment_date")["type"] == "date"
        assert page.field("clearance_valid_until")["type"] == "date"
        assert page.field("follow_up_needed")["type"] == "checkbox" and "required" not in page.field("follow_up_needed")
        assert page.field("notes")["tag"] == "textarea"
        for name, prop in schema["properties"].items():  # Literal fields: a select of exactly their values
            prop = next((p for p in prop.get("anyOf", []) if p.get("type") != "null"), prop)
            if "enum" in prop or "const" in prop:
                values = prop.get("enum", [prop.get("const")])
                offered = page.options(f"field-{name}")
                assert [v for v, _ in offered if v] == values, name
                chosen = [v for v, selected in offered if selected]
                default = schema["properties"][name].get("default", prop.get("const"))
                assert chosen == ([default] if default is not None else []), name
        assert "Clinical notes; visible to medical staff only." in page.body_text

    # A caseworker can read the task but gets no form: the role that works it is a medical officer.
    async with signed_in(stack, "ayse") as ayse:
        page = Page((await ayse.get(f"/ui/tasks/{task['task_id']}")).text)
        assert not page.find("form", id="task-form")
        assert "worked by a medical officer" in page.body_text


async def test_an_invalid_form_shows_each_field_error_keeps_the_input_and_changes_nothing(
        stack: Stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(family(1))
    verify = case["open_tasks"][0]
    async with signed_in(stack, "ayse") as ayse:
        page = Page((await ayse.get(f"/ui/tasks/{verify['task_id']}")).text)
        r = await ayse.post(f"/ui/tasks/{verify['task_id']}",
                            data={"csrf_token": page.csrf, "notes": "Passport of the principal only."})
        assert r.status_code == 422
        page = Page(r.text)
        assert page.field_error("documents_checked") == "Error in Documents checked: Please tick this box."
        assert page.field("documents_checked").get("aria-invalid") == "true"
        assert Page.text(page.field("notes")) == "Passport of the principal only."
        assert "There is a problem" in page.body_text

    interview = await driver.advance(case, Stage.INTERVIEW)
    task = interview["open_tasks"][0]
    before = await api_case(http, driver, case["case_id"])
    async with signed_in(stack, "ayse") as ayse:
        page = Page((await ayse.get(f"/ui/tasks/{task['task_id']}")).text)
        r = await ayse.post(f"/ui/tasks/{task['task_id']}", data={
            "csrf_token": page.csrf, "interview_date": today(+3), "outcome": "accepted",
            "interpreter_language": "arabic", "notes": "Family interviewed together."})
        assert r.status_code == 422
        page = Page(r.text)
        assert "must not be in the future" in page.field_error("interview_date")
        assert page.field_error("interpreter_language").endswith("Please choose one of the listed options.")
        assert page.field("interview_date")["value"] == today(+3)  # what the user typed is kept
        assert ("ar", False) in page.options("field-interpreter_language")  # languages by name, not typed codes
        assert Page.text(page.field("notes")) == "Family interviewed together."
        summary = [a["href"] for a in page.find("a") if a.get("href", "").startswith("#field-")]
        assert summary == ["#field-interview_date", "#field-interpreter_language"]

    after = await api_case(http, driver, case["case_id"])
    assert after["version"] == before["version"] and after["stage"] == "interview"
    assert (await api_task(http, driver, task["task_id"]))["status"] == "open"


async def test_a_valid_form_completes_the_task_through_the_api_code_path(
        stack: Stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(family(2))
    verify = case["open_tasks"][0]
    async with signed_in(stack, "ayse") as ayse:
        page = Page((await ayse.get(f"/ui/tasks/{verify['task_id']}")).text)
        claimed = await ayse.post(f"/ui/tasks/{verify['task_id']}/claim", data={"csrf_token": page.csrf})
        assert claimed.url.path == f"/ui/tasks/{verify['task_id']}" and "You claimed" in claimed.text
        assert (await api_task(http, driver, verify["task_id"]))["claimed_by"] == "ayse"

        page = Page(claimed.text)
        done = await ayse.post(f"/ui/tasks/{verify['task_id']}", data={
            "csrf_token": page.csrf, "documents_checked": "true", "notes": "Passports of both members seen."})
        assert done.status_code == 200 and done.url.path == f"/ui/cases/{case['case_id']}"
        notice = Page.text(Page(done.text).one("div", role="status"))
        assert notice == "“Verify referral and identity documents” completed. The case is now at stage Interview."
        assert not Page((await ayse.get(done.url.path)).text).find("div", role="status")  # shown once

    after = await api_case(http, driver, case["case_id"])
    assert after["stage"] == "interview" and after["version"] > case["version"]
    assert [t["task_type"] for t in after["open_tasks"]] == ["conduct_interview"]
    events = (await http.get(f"/api/v1/cases/{case['case_id']}/events", headers=await driver.login("ayse"))).json()
    verified = next(e for e in events if e["type"] == "ReferralVerified")
    assert verified["actor"]["id"] == "ayse"
    assert verified["data"]["documents_checked"] is True and verified["data"]["notes"] == "Passports of both members seen."

    # The interview form, with an optional field left empty: it is left out, not sent as "".
    interview = after["open_tasks"][0]
    async with signed_in(stack, "ayse") as ayse:
        page = Page((await ayse.get(f"/ui/tasks/{interview['task_id']}")).text)
        done = await ayse.post(f"/ui/tasks/{interview['task_id']}", data={
            "csrf_token": page.csrf, "interview_date": today(), "outcome": "accepted", "interpreter_language": ""})
        assert done.url.path == f"/ui/cases/{case['case_id']}"
    assert (await api_case(http, driver, case["case_id"]))["stage"] == "health"


async def test_conflicts_are_shown_as_a_clear_message(stack: Stack, http: httpx.AsyncClient,
                                                     driver: CaseDriver) -> None:
    case = await driver.refer(family(1))
    task_id = case["open_tasks"][0]["task_id"]
    (await http.post(f"/api/v1/tasks/{task_id}/claim", headers=await driver.login("fatma"))).raise_for_status()
    form = {"documents_checked": "true"}
    async with signed_in(stack, "ayse") as ayse:
        page = Page((await ayse.get(f"/ui/tasks/{task_id}")).text)
        assert "fatma has claimed this task" in page.body_text and not page.find("form", id="task-form")
        r = await ayse.post(f"/ui/tasks/{task_id}", data=form | {"csrf_token": page.csrf})
        assert r.status_code == 409
        assert f"Task {task_id} is claimed by fatma." in Page.text(Page(r.text).one("div", role="alert"))
        # The JSON API refuses the same thing, the same way: one code path.
        api = await http.post(f"/api/v1/tasks/{task_id}/complete", json={"form": {"documents_checked": True}},
                              headers=await driver.login("ayse"))
        assert api.status_code == 409 and api.json()["error"]["code"] == "task_claimed"

        r = await ayse.post(f"/ui/tasks/{task_id}/claim", data={"csrf_token": page.csrf})
        assert f"Task {task_id} is claimed by fatma." in Page.text(Page(r.text).one("div", role="alert"))

    async with signed_in(stack, "fatma") as fatma:
        page = Page((await fatma.get(f"/ui/tasks/{task_id}")).text)
        assert (await fatma.post(f"/ui/tasks/{task_id}", data=form | {"csrf_token": page.csrf})).status_code == 200
        # The same completion sent again (a double submit, a retry) answers as the first did ...
        same = await fatma.post(f"/ui/tasks/{task_id}", data=form | {"csrf_token": page.csrf})
        assert same.status_code == 200 and same.url.path == f"/ui/cases/{case['case_id']}", same.text
        # ... another one is refused, naming who completed the task.
        again = await fatma.post(f"/ui/tasks/{task_id}", data=form | {"notes": "Seen again.", "csrf_token": page.csrf})
        assert again.status_code == 409
        assert "is already completed (by fatma)" in Page(again.text).body_text
    assert (await api_case(http, driver, case["case_id"]))["stage"] == "interview"


async def test_health_details_are_shown_only_to_medical_officers_and_supervisors(
        stack: Stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(family(1)), Stage.HEALTH)
    task = case["open_tasks"][0]
    note = "Latent TB under treatment; clinical note 7f3a."
    async with signed_in(stack, "selin") as selin:
        page = Page((await selin.get(f"/ui/tasks/{task['task_id']}")).text)
        done = await selin.post(f"/ui/tasks/{task['task_id']}", data={
            "csrf_token": page.csrf, "assessment_date": today(), "outcome": "cleared",
            "clearance_valid_until": today(+180), "tb_classification": "class_b1", "follow_up_needed": "true",
            "notes": note})
        assert done.url.path == f"/ui/cases/{case['case_id']}", done.text
        assert note in done.text and "Class B1" in done.text

    events = (await http.get(f"/api/v1/cases/{case['case_id']}/events", headers=await driver.login("selin"))).json()
    recorded = next(e for e in events if e["type"] == "HealthAssessmentRecorded")
    assert recorded["data"]["notes"] == note and recorded["data"]["tb_classification"] == "class_b1"

    for username, reads in (("ayse", False), ("emre", False), ("selin", True), ("fatma", True)):
        async with signed_in(stack, username) as client:
            page = Page((await client.get(f"/ui/cases/{case['case_id']}")).text)
            text = page.body_text
            assert "Health assessment recorded" in text and "Cleared" in text, username
            assert (note in page.html) is reads, username
            assert ("Class B1" in text) is reads, username
            assert ("Follow-up on arrival" in text) is reads, username
            assert ("Health details are withheld" in text) is not reads, username


async def test_security_headers_and_escaping(stack: Stack, driver: CaseDriver) -> None:
    surname = "Zq" + datetime.now(UTC).strftime("%H%M%S%f")
    hostile = f"<script>alert('x')</script> {surname}"
    case = await driver.refer(family(1) | {"members": [member(hostile, "1990-01-01", "principal")]})
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as anonymous:
        responses = [await anonymous.get("/ui/login"), await anonymous.get("/ui"),
                     await anonymous.get("/ui/static/ui.css")]
    async with signed_in(stack, "ayse") as ayse:
        case_page = await ayse.get(f"/ui/cases/{case['case_id']}")
        responses += [await ayse.get("/ui"), case_page, await ayse.get("/ui/cases/C-NONE-NONE-NONE"),
                      await ayse.post("/ui/logout")]
        listing = await ayse.get(f"/ui/cases?q={surname}")
    for r in responses:
        assert r.headers["content-security-policy"].startswith("default-src 'self'"), r.url
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert "unsafe-inline" not in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY", r.url
        assert r.headers["x-content-type-options"] == "nosniff", r.url
        assert r.headers["referrer-policy"] == "same-origin", r.url
    assert [r.status_code for r in responses] == [200, 303, 200, 200, 200, 404, 403]
    assert responses[1].headers["cache-control"] == "no-store" and "no-store" not in responses[2].headers.get(
        "cache-control", "")
    # The API's own responses are left as they were.
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as anonymous:
        assert "content-security-policy" not in (await anonymous.get("/api/v1/auth/me")).headers

    assert hostile not in case_page.text and "<script>alert" not in case_page.text
    assert f"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; {surname}" in case_page.text
    assert hostile in Page(listing.text).body_text  # escaped in HTML, intact as text


async def test_case_list_filters_and_case_page(stack: Stack, driver: CaseDriver) -> None:
    surname = "Qx" + datetime.now(UTC).strftime("%H%M%S%f")
    people = [member(f"Rania {surname}", "1992-06-30", "principal"),
              member(f"Sami {surname}", "2018-10-10", "child", sex="male")]
    case = await driver.refer(referral(priority="urgent", destination_country="CA") | {"members": people})
    async with signed_in(stack, "ayse") as ayse:
        page = Page((await ayse.get(f"/ui/cases?q={surname}")).text)
        links = [a["href"] for a in page.find("a") if a.get("href", "").startswith("/ui/cases/C-")]
        assert links == [f"/ui/cases/{case['case_id']}"]
        assert "Urgent" in page.body_text and "Referral" in page.body_text and "2 people" in page.body_text
        for query, found in ((f"q={surname}&stage=referral&status=active&priority=urgent&office=IST", True),
                             (f"q={surname}&stage=visa", False), (f"q={surname}&priority=emergency", False),
                             (f"q={surname}&status=closed", False), (f"q={case['external_referral_id']}", True),
                             (f"q={surname}&stage=&status=&priority=&office=", True)):
            assert (f"/ui/cases/{case['case_id']}" in (await ayse.get(f"/ui/cases?{query}")).text) is found, query

        page = Page((await ayse.get(f"/ui/cases/{case['case_id']}")).text)
        text = page.body_text
        assert f"Rania {surname}" in text and f"Sami {surname}" in text
        assert "30 Jun 1992" in text and "Child" in text and "Pending" in text and "Referral" in text
        assert "Verify referral and identity documents" in text
        assert "Case referred" in text and "Stage entered" in text and "ayse (caseworker)" in text
        assert [Page.text(h) for h in page.find("h2")][:3] == ["People on this case", "Open tasks", "Key dates"]

    async with signed_in(stack, "mehmet") as mehmet:  # another office's case is not revealed
        assert (await mehmet.get(f"/ui/cases/{case['case_id']}")).status_code == 404
        assert f"/ui/cases/{case['case_id']}" not in (await mehmet.get(f"/ui/cases?q={surname}")).text


def test_schema_form_handles_defs_enums_optionals_and_date_times() -> None:
    """Forms to come may use enums ($defs), optional enums, numbers and date-times: the
    generator must turn each into the right control and back into the right JSON."""

    class Mode(StrEnum):
        AIR = "air"
        LAND = "land"

    class FutureForm(BaseModel):
        mode: Mode = Field(description="How the family travels.")
        escort: Mode | None = None
        seats: int
        departure_at: AwareDatetime
        consent: Literal[True]
        wheelchair: bool = False

    schema = FutureForm.model_json_schema()
    assert "$defs" in schema
    form = BoundForm.blank(schema)
    kinds = {f.name: (f.kind, f.required) for f in form.fields}
    assert kinds == {"mode": ("select", True), "escort": ("select", False), "seats": ("number", True),
                     "departure_at": ("datetime", True), "consent": ("confirm", True),
                     "wheelchair": ("checkbox", False)}
    assert [o.value for o in form.fields[0].options] == ["air", "land"]
    assert form.fields[0].help == "How the family travels."

    sent = BoundForm.submitted(schema, {"mode": "air", "escort": "", "seats": "3", "departure_at": "2026-12-10T09:40",
                                        "departure_at__tz": "+03:00", "consent": "true"})
    payload = sent.payload()
    assert payload == {"mode": "air", "seats": 3, "departure_at": "2026-12-10T09:40+03:00", "consent": True,
                       "wheelchair": False}
    model = FutureForm.model_validate(payload)
    assert model.departure_at.utcoffset() == timedelta(hours=3)

    naive = BoundForm.submitted(schema, {"mode": "air", "seats": "two", "departure_at": "2026-12-10T09:40"})
    naive.add_errors([{"field": "seats", "reason": "Input should be a valid integer"},
                      {"field": "departure_at", "reason": "Input should have timezone info"},
                      {"field": "form", "reason": "Value error, escort is needed by air"}])
    assert naive.payload()["seats"] == "two" and naive.payload()["departure_at"] == "2026-12-10T09:40"
    assert naive.errors == {"seats": ["Enter a whole number."],  # the validator's message in plain words
                            "departure_at": ["Choose the time zone (UTC offset) of this time."]}
    assert naive.form_errors == ["Escort is needed by air."]


async def test_case_actions_on_the_case_page_follow_the_roles(stack: Stack, http: httpx.AsyncClient,
                                                              driver: CaseDriver) -> None:
    case = await driver.refer(family(1))
    url = f"/ui/cases/{case['case_id']}"
    async with signed_in(stack, "ayse") as ayse:
        page = Page((await ayse.get(url)).text)
        forms = {f["action"] for f in page.find("form") if "/actions/" in (f.get("action") or "")}
        assert forms == {f"{url}/actions/note", f"{url}/actions/withdraw"}  # no hold for a caseworker
        noted = await ayse.post(f"{url}/actions/note", data={"csrf_token": page.csrf, "text": "Called the family."})
        assert noted.url.path == url and "Note added." in noted.text
        refused = await ayse.post(f"{url}/actions/hold", data={"csrf_token": page.csrf, "text": "Pause."})
        assert "may not hold" in refused.text
    async with signed_in(stack, "fatma") as fatma:
        page = Page((await fatma.get(url)).text)
        held = await fatma.post(f"{url}/actions/hold", data={"csrf_token": page.csrf, "text": "Office closed today."})
        assert "SLA clocks are paused" in held.text
        assert "This case is on hold" in Page(held.text).body_text and "Office closed today." in held.text
        task_page = await fatma.get(f"/ui/tasks/{case['open_tasks'][0]['task_id']}")
        assert "This case is on hold" in Page(task_page.text).body_text
        # The browser tab names the task, the family and the case.
        assert f"<title>Verify referral and identity documents · {case['principal_name']} · {case['case_id']}" in task_page.text
        resume_forms = [f for f in Page(held.text).find("form") if (f.get("action") or "").endswith("/resume")]
        assert resume_forms
    after = await api_case(http, driver, case["case_id"])
    assert after["status"] == "on_hold" and after["hold_reason"] == "Office closed today."
    events = (await http.get(f"/api/v1/cases/{case['case_id']}/events", headers=await driver.login("fatma"))).json()
    assert [e["type"] for e in events][-2:] == ["NoteAdded", "CaseHeld"]


async def test_withdrawing_a_case_asks_first_and_says_what_will_happen(stack: Stack, http: httpx.AsyncClient,
                                                                       driver: CaseDriver) -> None:
    case = await driver.refer(family(2))
    url = f"/ui/cases/{case['case_id']}"
    async with signed_in(stack, "ayse") as ayse:
        page = Page((await ayse.get(url)).text)
        asked = await ayse.post(f"{url}/actions/withdraw", data={"csrf_token": page.csrf, "text": "They stay."})
        assert asked.status_code == 200 and "Withdraw this case?" in asked.text
        question = Page(asked.text)
        assert "cannot be undone" in question.body_text and "Verify referral" in question.body_text
        assert (await api_case(http, driver, case["case_id"]))["status"] == "active"  # nothing changed yet
        [confirm] = [f for f in question.find("form") if (f.get("action") or "").endswith("/actions/withdraw")]
        done = await ayse.post(f"{url}/actions/withdraw", data={"csrf_token": question.csrf, "text": "They stay.",
                                                                "confirmed": "yes"})
        assert "withdrawn and closed" in done.text
    after = await api_case(http, driver, case["case_id"])
    assert (after["status"], after["closure_reason"]) == ("closed", "withdrawn")


async def test_the_case_page_as_it_stood_at_a_past_moment(stack: Stack, driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=1))
    moment = datetime.now(UTC)
    await driver.complete(case["open_tasks"][0], "IST")  # the case moves on to the interview
    async with signed_in(stack, "fatma") as fatma:
        today_page = Page((await fatma.get(f"/ui/cases/{case['case_id']}")).text)
        assert "Conduct interview" in today_page.body_text and "Case actions" in today_page.body_text
        typed = moment.astimezone(ZoneInfo("Europe/Istanbul")).strftime("%Y-%m-%dT%H:%M:%S.%f")  # the office's time
        then = await fatma.get(f"/ui/cases/{case['case_id']}", params={"as_of": typed})
        assert then.status_code == 200
        page = Page(then.text)
        assert "As it stood on" in page.body_text and "read-only" in page.body_text
        assert "Verify referral and identity documents" in page.body_text
        assert "Conduct interview" not in page.body_text and "Case actions" not in page.body_text
        assert (await fatma.get(f"/ui/cases/{case['case_id']}", params={"as_of": "yesterday"})).status_code == 422


async def test_the_four_eyes_rule_is_said_before_the_work_and_a_refusal_keeps_what_was_typed(
        stack: Stack, driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=1)), until=Stage.HEALTH)
    task = next(t for t in case["open_tasks"] if t["task_type"] == "assess_health")
    case = await driver.complete(task, "IST", form={"assessment_date": today(), "outcome": "treatment_required",
                                                    "notes": "Treatment first."})  # by selin
    treatment = next(t for t in case["open_tasks"] if t["task_type"] == "record_treatment")
    async with signed_in(stack, "selin") as selin:
        page = await selin.get(f"/ui/tasks/{treatment['task_id']}")
        assert "Four-eyes rule: you recorded the decision this task releases" in Page(page.text).body_text
        typed = "Course of antibiotics finished on schedule."
        refused = await selin.post(f"/ui/tasks/{treatment['task_id']}", data={
            "csrf_token": Page(page.text).csrf, "completed_on": today(), "notes": typed})
        assert refused.status_code == 403 and "four-eyes rule" in refused.text.lower()
        assert typed in refused.text  # what the medical officer typed is still in the form
    async with signed_in(stack, "deniz") as deniz:
        page = await deniz.get(f"/ui/tasks/{treatment['task_id']}")
        assert "Four-eyes rule" not in Page(page.text).body_text


async def test_a_supervisor_releases_or_reassigns_a_task_someone_else_holds(stack: Stack, http: httpx.AsyncClient,
                                                                            driver: CaseDriver) -> None:
    case = await driver.refer(family(1))
    task_id = case["open_tasks"][0]["task_id"]
    claimed = await http.post(f"/api/v1/tasks/{task_id}/claim", headers=await driver.login("ayse"))
    assert claimed.status_code == 200

    async def holder() -> str | None:
        r = await http.get(f"/api/v1/tasks/{task_id}", headers=await driver.login("fatma"))
        return r.json()["claimed_by"]

    async with signed_in(stack, "fatma") as fatma:
        page = Page((await fatma.get(f"/ui/tasks/{task_id}")).text)
        assert "ayse holds this task" in page.body_text
        released = await fatma.post(f"/ui/tasks/{task_id}/release", data={"csrf_token": page.csrf,
                                                                          "next": f"/ui/tasks/{task_id}"})
        assert "released" in released.text and await holder() is None
        page = Page((await fatma.get(f"/ui/tasks/{task_id}")).text)
        moved = await fatma.post(f"/ui/tasks/{task_id}/reassign", data={
            "csrf_token": page.csrf, "assignee": "ayse", "reason": "She knows the family."})
        assert "is now ayse" in moved.text and await holder() == "ayse"
    async with signed_in(stack, "ayse") as ayse:  # a caseworker sees no supervisor panel
        assert "Reassign to" not in (await ayse.get(f"/ui/tasks/{task_id}")).text
