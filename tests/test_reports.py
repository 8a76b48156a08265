"""Figures (GET /api/v1/reports/...): checked against a hand-counted set of cases worked
through the API in an office of their own (so the session's other tests add nothing to it),
office scoping, who may read them, the links to the cases behind each number, CSV."""

from __future__ import annotations

import csv
import io
import statistics
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from case_client import CaseClient
from domain.model import Role, Stage
from store.users import add_user
from tests.support.factories import member, referral
from tests.support.forms import example_form
from tests.support.users import TEST_PASSWORD

ROLES = (Role.CASEWORKER, Role.MEDICAL_OFFICER, Role.MOVEMENT_OFFICER, Role.SUPERVISOR)


class OfficeDriver(CaseClient):
    """Works cases of new offices as their own accounts: ``<role>-<office>``."""

    def __init__(self, client: httpx.AsyncClient):
        super().__init__(client, password=TEST_PASSWORD, worker_for=self._worker, form_for=example_form)

    @staticmethod
    def _worker(task: Mapping[str, Any], office: str) -> str:
        return f"{task['role']}-{office}".lower()


def _avrr(office: str, size: int, origin: str) -> dict[str, Any]:
    body = referral(office=office, size=size, programme="avrr", destination_country=None, origin_country=origin)
    body["members"] = [member("Karwan Aziz", "1991-02-17", "principal", sex="male", nationality=origin)] + [
        member(f"Child {i} Aziz", f"{2010 + i}-01-01", "child", nationality=origin) for i in range(1, size)]
    return body


@pytest.fixture(scope="module")
async def figures(stack) -> dict[str, Any]:
    """Two new offices; the cases of the first are hand-counted below, the second's must
    never appear in the first's figures."""
    office, other = f"R{uuid.uuid4().hex[:6].upper()}", f"S{uuid.uuid4().hex[:6].upper()}"
    async with stack.pool.acquire() as conn:
        for o in (office, other):
            for role in ROLES:
                await add_user(conn, f"{role.value}-{o}".lower(), TEST_PASSWORD, role, [o])
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as http:
        d = OfficeDriver(http)
        # A: resettlement, 2 people (SY, SY) to Norway, worked to closure (departed, arrived).
        a = await d.advance(await d.refer(referral(office=office, size=2, destination_country="NO"),
                                          f"caseworker-{office}".lower()))
        # B: resettlement, 1 person (AF) to Canada, at orientation (nobody trained yet).
        b = await d.advance(await d.refer(referral(office=office, size=1, destination_country="CA", members=[
            member("Farid Ahmadi", "1980-01-01", "principal", sex="male", nationality="AF")]),
            f"caseworker-{office}".lower()), until=Stage.ORIENTATION)
        # C: resettlement, 3 people (SY principal, IQ spouse, SY child) to Norway, at visa: 3 trained.
        c = await d.advance(await d.refer(referral(office=office, destination_country="NO", members=[
            member("Rana Saleh", "1985-01-01", "principal", nationality="SY"),
            member("Omar Saleh", "1983-01-01", "spouse", sex="male", nationality="IQ"),
            member("Lina Saleh", "2015-01-01", "child", nationality="SY")]), f"caseworker-{office}".lower()),
            until=Stage.VISA)
        # D: AVRR, 2 people returning to Iraq (IQ), at travel documents: one pre-departure session.
        dd = await d.advance(await d.refer(_avrr(office, 2, "IQ"), f"caseworker-{office}".lower()), until=Stage.VISA)
        # E: resettlement, 1 person (ER) to Sweden, just referred.
        e = await d.refer(referral(office=office, size=1, destination_country="SE", members=[
            member("Senait Tesfay", "1990-01-01", "principal", nationality="ER")]), f"caseworker-{office}".lower())
        # The other office: one closed case (2 people, SY, to Norway), one at orientation.
        await d.advance(await d.refer(referral(office=other, size=2, destination_country="NO"),
                                      f"caseworker-{other}".lower()))
        await d.advance(await d.refer(referral(office=other, size=1, destination_country="DE"),
                                      f"caseworker-{other}".lower()), until=Stage.VISA)
        events = {}
        sup = await d.login(f"supervisor-{office}".lower())
        for case in (a, b, c, dd, e):
            r = await http.get(f"/api/v1/cases/{case['case_id']}/events", headers=sup)
            events[case["case_id"]] = r.json()
    return {"office": office, "other": other, "a": a, "b": b, "c": c, "d": dd, "e": e, "events": events}


@pytest.fixture
async def sup(figures, http: httpx.AsyncClient) -> dict[str, str]:
    return await OfficeDriver(http).login(f"supervisor-{figures['office']}".lower())


async def _get(http: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = await http.get(f"/api/v1/reports/{path}", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def _cases_behind(http: httpx.AsyncClient, link: str, headers: dict[str, str]) -> set[str]:
    r = await http.get(link + ("&" if "?" in link else "?") + "limit=200", headers=headers)
    assert r.status_code == 200, r.text
    return {c["case_id"] for c in r.json()["items"]}


def _range() -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {"from": (today.replace(day=1) - timedelta(days=1)).replace(day=1).isoformat(),
            "to": (today + timedelta(days=1)).isoformat()}


async def test_cases_by_stage_and_programme_now(figures, http: httpx.AsyncClient, sup: dict[str, str]) -> None:
    report = await _get(http, "stages", sup)
    got = {(r["programme"], r["stage"]): (r["cases"], r["people"]) for r in report["rows"]}
    assert got == {("resettlement", "closed"): (1, 2), ("resettlement", "orientation"): (1, 1),
                   ("resettlement", "visa"): (1, 3), ("resettlement", "referral"): (1, 1), ("avrr", "visa"): (1, 2)}
    assert report["offices"] == [figures["office"]] and report["totals"] == {"cases": 5, "people": 9}
    visa = next(r for r in report["rows"] if (r["programme"], r["stage"]) == ("resettlement", "visa"))
    assert await _cases_behind(http, visa["links"]["cases"], sup) == {figures["c"]["case_id"]}
    assert await _cases_behind(http, report["totals_links"]["cases"], sup) == {
        figures[k]["case_id"] for k in "abcde"}
    only_avrr = await _get(http, "stages", sup, programme="avrr")
    assert [(r["stage"], r["cases"]) for r in only_avrr["rows"]] == [("visa", 1)]


async def test_flows_per_month_and_week(figures, http: httpx.AsyncClient, sup: dict[str, str]) -> None:
    for period in ("month", "week"):
        report = await _get(http, "flows", sup, period=period, **_range())
        assert report["totals"] == {"referrals": 5, "departures": 1, "people_departed": 2, "arrivals": 1,
                                    "people_arrived": 2, "closures": 1}, period
        assert [r["period_start"] for r in report["rows"]] == sorted(r["period_start"] for r in report["rows"])
        starts = [date.fromisoformat(r["period_start"]) for r in report["rows"]]
        assert all(s.weekday() == 0 for s in starts) if period == "week" else all(s.day == 1 for s in starts)
        behind: dict[str, set[str]] = {k: set() for k in ("referrals", "departures", "arrivals", "closures")}
        for row in report["rows"]:
            for kind in behind:
                if row[kind]:
                    cases = await _cases_behind(http, row["links"][kind], sup)
                    assert len(cases) == row[kind]
                    behind[kind] |= cases
        assert behind["referrals"] == {figures[k]["case_id"] for k in "abcde"}
        assert behind["departures"] == behind["arrivals"] == behind["closures"] == {figures["a"]["case_id"]}


async def test_by_nationality_destination_and_origin(figures, http: httpx.AsyncClient, sup: dict[str, str]) -> None:
    nat = await _get(http, "nationalities", sup)
    assert {r["country"]: (r["cases"], r["people"]) for r in nat["rows"]} == {
        "SY": (2, 4), "IQ": (2, 3), "AF": (1, 1), "ER": (1, 1)}
    iq = next(r for r in nat["rows"] if r["country"] == "IQ")
    assert await _cases_behind(http, iq["links"]["cases"], sup) == {figures["c"]["case_id"], figures["d"]["case_id"]}
    dest = await _get(http, "destinations", sup)
    assert {r["country"]: (r["cases"], r["people"]) for r in dest["rows"]} == {
        "NO": (2, 5), "CA": (1, 1), "SE": (1, 1)}
    no = next(r for r in dest["rows"] if r["country"] == "NO")
    assert await _cases_behind(http, no["links"]["cases"], sup) == {figures["a"]["case_id"], figures["c"]["case_id"]}
    origins = await _get(http, "origins", sup)
    assert [(r["country"], r["cases"], r["people"]) for r in origins["rows"]] == [("IQ", 1, 2)]
    today = datetime.now(UTC).date()
    arrived = await _get(http, "nationalities", sup, arrived_since=(today - timedelta(days=1)).isoformat(),
                         arrived_before=(today + timedelta(days=2)).isoformat())
    assert [(r["country"], r["people"]) for r in arrived["rows"]] == [("SY", 2)]
    assert await _cases_behind(http, arrived["rows"][0]["links"]["cases"], sup) == {figures["a"]["case_id"]}


def _stays(events: list[dict[str, Any]]) -> dict[str, float]:
    """Days spent in each stage left, summed per stage: from the events, independently of the SQL."""
    marks = [(e["data"]["stage"] if e["type"] == "StageEntered" else "closed", datetime.fromisoformat(e["occurred_at"]))
             for e in events if e["type"] in ("StageEntered", "CaseClosed")]
    spent: dict[str, float] = {}
    for (stage, entered), (_, left) in zip(marks, marks[1:]):
        spent[stage] = spent.get(stage, 0.0) + (left - entered).total_seconds() / 86400
    return spent


async def test_median_days_per_stage_and_sla_compliance(figures, http: httpx.AsyncClient,
                                                        sup: dict[str, str]) -> None:
    report = await _get(http, "stage-durations", sup, **_range())
    rows = {(r["programme"], r["stage"]): r for r in report["rows"]}
    programme_of = {figures[k]["case_id"]: figures[k]["programme"] for k in "abcde"}
    expected: dict[tuple[str, str], list[float]] = {}
    for case_id, events in figures["events"].items():
        for stage, days in _stays(events).items():
            expected.setdefault((programme_of[case_id], stage), []).append(days)
    assert expected[("resettlement", "health")] and len(expected[("resettlement", "health")]) == 3  # A, B, C
    for key, days in expected.items():
        assert rows[key]["cases"] == len(days), key
        assert rows[key]["median_days"] == pytest.approx(statistics.median(days), abs=1e-5), key
    # Every task was completed at once, well before its SLA: tasks per stage, hand-counted.
    completed = {key: (r["tasks_completed"], r["tasks_on_time"], r["sla_compliance"]) for key, r in rows.items()
                 if r["tasks_completed"]}
    # A: 2 members, C: 2 of 3 (Lina, born 2015, is under 12: the orientation age rule does not require her)
    assert completed[("resettlement", "orientation")] == (4, 4, 1.0)
    assert completed[("resettlement", "health")] == (6, 6, 1.0)       # A 2, B 1, C 3
    assert completed[("resettlement", "arrival")] == (1, 1, 1.0)      # A
    assert completed[("avrr", "orientation")] == (1, 1, 1.0)          # D: one session for the case
    assert report["totals"]["sla_compliance"] == 1.0


async def test_people_trained_in_orientation(figures, http: httpx.AsyncClient, sup: dict[str, str]) -> None:
    report = await _get(http, "training", sup, **_range())
    # A's 2 and C's 2 of 3 (Lina, under 12, is not required to attend: the orientation age rule)
    assert report["totals"] == {"people_orientation_attended": 4, "avrr_cases_counselled_predeparture": 1,
                                "avrr_people_counselled_predeparture": 2}
    assert sum(r["orientation_people"] for r in report["rows"]) == 4
    assert sum(r["predeparture_counselling_sessions"] for r in report["rows"]) == 1
    assert sum(r["predeparture_counselling_people"] for r in report["rows"]) == 2


async def test_figures_are_scoped_to_the_callers_offices(figures, http: httpx.AsyncClient) -> None:
    d = OfficeDriver(http)
    other = await d.login(f"supervisor-{figures['other']}".lower())
    stages = await _get(http, "stages", other)
    assert stages["totals"] == {"cases": 2, "people": 3} and stages["offices"] == [figures["other"]]
    dest = await _get(http, "destinations", other)
    assert {r["country"]: r["people"] for r in dest["rows"]} == {"NO": 2, "DE": 1}
    refused = await http.get("/api/v1/reports/stages", params={"office": figures["office"]}, headers=other)
    assert refused.status_code == 403 and refused.json()["error"]["details"][0]["allowed"] == [figures["other"]]


async def test_a_supervisor_of_two_offices_sees_both_or_one(stack, figures, http: httpx.AsyncClient) -> None:
    username = f"sup-{uuid.uuid4().hex[:8]}"
    async with stack.pool.acquire() as conn:
        await add_user(conn, username, TEST_PASSWORD, Role.SUPERVISOR, [figures["office"], figures["other"]])
    headers = await OfficeDriver(http).login(username)
    assert (await _get(http, "stages", headers))["totals"] == {"cases": 7, "people": 12}
    one = await _get(http, "stages", headers, office=figures["office"])
    assert one["totals"] == {"cases": 5, "people": 9}
    assert all(f"office={figures['office']}" in r["links"]["cases"] for r in one["rows"])


async def test_caseworkers_and_admins_are_refused(figures, http: httpx.AsyncClient) -> None:
    d = OfficeDriver(http)
    for username in (f"caseworker-{figures['office']}".lower(), f"medical_officer-{figures['office']}".lower()):
        headers = await d.login(username)
        for path in ("", "/stages", "/flows", "/nationalities", "/stage-durations", "/training"):
            r = await http.get(f"/api/v1/reports{path}", headers=headers)
            assert r.status_code == 403, (username, path, r.text)
    assert (await http.get("/api/v1/reports/stages")).status_code == 401


async def test_csv_export(figures, http: httpx.AsyncClient, sup: dict[str, str]) -> None:
    r = await http.get("/api/v1/reports/destinations", params={"format": "csv"}, headers=sup)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="itinera-destinations.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["country"]: (row["cases"], row["people"]) for row in rows} == {
        "NO": ("2", "5"), "CA": ("1", "1"), "SE": ("1", "1")}
    assert all(row["cases_cases_url"].startswith("/api/v1/cases?destination=") for row in rows)
    by_accept = await http.get("/api/v1/reports/flows", params={"period": "week", **_range()},
                               headers={**sup, "Accept": "text/csv"})
    assert by_accept.status_code == 200 and by_accept.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(by_accept.text)))
    assert lines[0][:8] == ["period_start", "period_end", "referrals", "departures", "people_departed", "arrivals",
                            "people_arrived", "closures"]
    assert sum(int(line[2]) for line in lines[1:]) == 5
    as_json = await http.get("/api/v1/reports/training", headers={**sup, "Accept": "application/json"})
    assert as_json.headers["content-type"].startswith("application/json")


async def test_invalid_parameters_are_422(figures, http: httpx.AsyncClient, sup: dict[str, str]) -> None:
    for params in ({"period": "year"}, {"from": "2026-05-01", "to": "2026-04-01"}, {"from": "not-a-date"},
                   {"from": "1800-01-01"}, {"to": "9999-12-31"}, {"from": "2010-01-01", "to": "2026-01-01"}):
        r = await http.get("/api/v1/reports/flows", params=params, headers=sup)
        assert r.status_code == 422, (params, r.text)
    for params in ({"referred_since": "0001-01-01T00:00:00+14:00"}, {"arrived_before": "9999-12-31"},
                   {"nationality": "XX"}, {"closed_before": "2026-01-01T00:00:00"}):
        r = await http.get("/api/v1/cases", params=params, headers=sup)
        assert r.status_code == 422, (params, r.text)


async def test_the_dashboard_draws_the_figures_and_links_to_the_cases(stack, figures) -> None:
    from tests.support.pages import Page
    from tests.test_ui import signed_in

    office = figures["office"]
    async with signed_in(stack, f"caseworker-{office}".lower()) as caseworker:
        assert "Figures" not in Page((await caseworker.get("/ui")).text).body_text
        assert (await caseworker.get("/ui/reports")).status_code == 403
    async with signed_in(stack, f"supervisor-{office}".lower()) as browser:
        r = await browser.get("/ui/reports", params={"period": "week", **_range()})
        assert r.status_code == 200, r.text
        page = Page(r.text)
        assert page.find("a", href="/ui/reports")  # in the navigation
        assert len(page.find("svg", **{"class": "bar"})) > 10
        visa = [a for a in page.find("a") if a.get("href") == "/ui/cases?programme=resettlement&stage=visa"]
        assert visa and Page.text(visa[0]).startswith("1")
        behind = Page((await browser.get(visa[0]["href"])).text)
        assert [a["href"] for a in behind.find("a") if a.get("href", "").startswith("/ui/cases/C-")] == [
            f"/ui/cases/{figures['c']['case_id']}"]
        nationality = next(a["href"] for a in page.find("a") if a.get("href", "").startswith("/ui/cases?nationality=IQ"))
        listed = Page((await browser.get(nationality)).text)
        assert {a["href"] for a in listed.find("a") if a.get("href", "").startswith("/ui/cases/C-")} == {
            f"/ui/cases/{figures['c']['case_id']}", f"/ui/cases/{figures['d']['case_id']}"}
        assert listed.find("input", type="hidden", name="nationality", value="IQ")  # kept by the filter form
        flows = [a["href"] for a in page.find("a") if "referred_since=" in a.get("href", "")]
        assert flows and all(h.startswith("/ui/cases?referred_since=") for h in flows)
        download = await browser.get("/ui/reports/nationalities.csv")
        assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
        assert {row["country"] for row in csv.DictReader(io.StringIO(download.text))} == {"SY", "IQ", "AF", "ER"}


async def test_odd_parameters_are_refused_or_harmless(figures, http: httpx.AsyncClient, sup: dict[str, str]) -> None:
    for path, params, status in [("stages", {"office": ""}, 403), ("stages", {"format": "xml"}, 422),
                                 ("flows", {"from": ""}, 422), ("nationalities", {"arrived_since": "1899-12-31"}, 422),
                                 ("training", {"to": "1900-01-01"}, 422), ("origins", {"programme": "other"}, 422),
                                 ("flows", {"period": "week", "from": "2024-02-29", "to": "2024-03-01"}, 200)]:
        r = await http.get(f"/api/v1/reports/{path}", params=params, headers={**sup, "Accept": "text/csv"})
        assert r.status_code == status, (path, params, r.text)
    week = await _get(http, "flows", sup, period="week", **{"from": "2024-02-29", "to": "2024-03-01"})
    assert [r["period_start"] for r in week["rows"]] == ["2024-02-26"] and week["totals"]["referrals"] == 0


async def test_a_date_range_that_ends_before_it_begins_is_refused(http: httpx.AsyncClient,
                                                                  sup: dict[str, str]) -> None:
    """explore11 F14: an inverted range answered an empty list, which reads as "no cases"."""
    for since, before, field in (("referred_since", "referred_before", "query.referred_before"),
                                 ("arrived_since", "arrived_before", "query.arrived_before")):
        later, earlier = ("2026-12-02", "2026-12-01") if since.startswith("arrived") else (
            "2026-12-02T00:00:00Z", "2026-12-01T00:00:00Z")
        r = await http.get("/api/v1/cases", params={since: later, before: earlier}, headers=sup)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"][0]["field"] == field
