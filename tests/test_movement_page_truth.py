"""The movement's own page says what its exports say, and names what no longer fits.

- A correction after the lock (a name, a date of birth) reached the CSV/PDF but not the
  movement's API answer or UI page, which kept the identity as locked (explore6 #7).  Both show
  each person as their case has them now (``readmodel.current_members``, the exports' read),
  and ``rule_check`` names a person whose seat no longer fits the corrected date of birth on the
  day of travel (``lap_or_seat``: a child corrected to 14 months with a seat, an infant
  corrected to 3 years on a lap), counted as the delay counts it (``recount_members``).
- A person split off a listed case after it was added: the lock refused it
  (``members_changed``) but ``rule_check`` and ``itinera check`` said nothing before
  (explore6 #5).  Both name them now, by the lock's own rule, from the read model.
- The audit rows a movement's fan-out writes in each case's trail (the lock's bookings, a
  delay's drop and re-booking) named the route's template without the movement
  (explore6 #10): they carry it as the movement's own answer does, ``... (MV-...)``.

Pure tests first (the view over a folded state), then through the API on the real stack.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from activities.movements import with_movement_in_audit
from api.commands import CaseCommands
from api.routes.movements import view
from consistency import check
from domain.case import SplitCase
from domain.model import Actor
from domain.movements import commands as c
from domain.movements.model import CaseFacts, MovementState
from domain.movements.records import FanOutRequest
from domain.movements.rules import members_changed_problems
from domain.records import AuditStamp
from store.db import connect
from tests.support.browser import signed_in
from tests.support.driver import CaseDriver
from tests.support.stack import Stack
from tests.support.waiting import eventually
from tests.test_manifest_truth import FAMILY, LEFT, _case, _correct, _export, _raced, _run
from tests.test_movements import _case_in_movement_stage, _details, _fan_out_done, _family, _ok, login_all

BABY = date(2026, 3, 1)  # under 2 on the day of travel (2026-12-02)


def _identity(case_id: str, name: str, born: date) -> dict[str, Any]:
    """A row of ``readmodel.current_members``."""
    return {"case_id": case_id, "full_name": name, "date_of_birth": born, "sex": "female", "nationality": "SY"}


def _locked(people: list[tuple[str, str, date]]) -> MovementState:
    state = _run(None, c.CreateMovement(details=_raced().details))
    state = _run(state, c.AddCase(case_ids=["C-1"]), [_case("C-1", people)])
    return _run(state, c.LockManifest(), [_case("C-1", people)])


def test_the_view_shows_each_person_as_the_case_has_them_and_names_a_seat_that_no_longer_fits() -> None:
    people = [*FAMILY, ("C-1-M4", "Lina Nasser", BABY)]
    state = _locked(people)
    assert [m.lap_infant for m in state.entry("C-1").members] == [False, False, False, True]
    # After the lock: the principal's name, the child corrected to 14 months (it has a seat),
    # the baby corrected to 3 years (it is on a lap).
    now = {"C-1-M1": _identity("C-1", "Adil Nassar", FAMILY[0][2]),
           "C-1-M3": _identity("C-1", "Sami Nasser", date(2025, 10, 1)),
           "C-1-M4": _identity("C-1", "Lina Nasser", date(2023, 6, 1))}
    shown = view(state, now)
    members = shown.manifest[0].members
    assert [(m.full_name, m.date_of_birth, m.lap_infant) for m in members] == [
        ("Adil Nassar", FAMILY[0][2], False), ("Rima Nasser", FAMILY[1][2], False),
        ("Sami Nasser", date(2025, 10, 1), False), ("Lina Nasser", date(2023, 6, 1), True)]
    assert (shown.seats_taken, shown.people) == (3, 4)  # the booking's seats, as the manifest counted them
    found = [(p.rule, p.member_id) for p in shown.rule_check]
    assert found == [("lap_or_seat", "C-1-M3"), ("lap_or_seat", "C-1-M4")], shown.rule_check
    child, baby = shown.rule_check
    assert "14 months old" in child.message and "gives them a seat" in child.message and "airline" in child.message
    assert "3 years old" in baby.message and "on a lap" in baby.message
    # Without the read model's rows (or as the case had them at the lock): nothing to name.
    assert view(state).rule_check == [] and view(state).manifest[0].members[0].full_name == "Adel Nasser"
    # Before the lock the lock counts again, and says so.
    opened = _run(None, c.CreateMovement(details=_raced().details))
    opened = _run(opened, c.AddCase(case_ids=["C-1"]), [_case("C-1", people)])
    [first, _] = view(opened, now).rule_check
    assert first.rule == "lap_or_seat" and "the lock counts the seats again" in first.message


def test_the_view_names_people_who_left_their_case_by_the_locks_own_rule() -> None:
    state = _raced()  # C-1 lists the family of three; two of them were split off to C-1-S1
    now = {mid: _identity("C-1" if mid == "C-1-M1" else "C-1-S1", name, born) for mid, name, born in FAMILY}
    found = [p for p in view(state, now).rule_check if p.rule == "members_changed"]
    assert found == members_changed_problems(state.entry("C-1"), _case("C-1", LEFT))
    assert [p.member_id for p in found] == ["C-1-M2", "C-1-M3"]
    # A person the read model does not know is taken to be where the manifest lists them.
    assert not [p for p in view(state, {"C-1-M1": now["C-1-M1"]}).rule_check if p.rule == "members_changed"]
    # Closed facts keep the lock's answer (case_closed says it there).
    assert members_changed_problems(state.entry("C-1"), CaseFacts(case_id="C-1", found=False)) == []


def test_a_fan_out_request_names_its_movement_in_the_cases_audit_row() -> None:
    request = FanOutRequest(movement_id="MV-0123456789ABCDEF", case_id="C-1", step="delay", update_id="u",
                            flight_number="XC4420", departure_at=datetime(2026, 12, 2, tzinfo=UTC),
                            departure_airport="IST", arrival_airport="OSL", actor=Actor.system(),
                            audit=AuditStamp(action="POST /api/v1/movements/{movement_id}/delay"))
    stamped = with_movement_in_audit(request)
    assert stamped.audit is not None
    assert stamped.audit.action == "POST /api/v1/movements/{movement_id}/delay (MV-0123456789ABCDEF)"
    assert with_movement_in_audit(stamped).audit == stamped.audit  # a retry's request: once
    assert request.audit is not None and "(MV-" not in request.audit.action  # the workflow's own untouched
    assert with_movement_in_audit(request.model_copy(update={"audit": None})).audit is None


# --- through the API --------------------------------------------------------------------------


async def _trail(driver: CaseDriver, case_id: str) -> list[str]:
    r = await driver.client.get("/api/v1/audit", params={"case_id": case_id, "limit": 200},
                                headers=await driver.login("fatma"))
    assert r.status_code == 200, r.text
    return [e["action"] for e in r.json()]


def _movement_rows(actions: list[str], movement_id: str) -> list[str]:
    """The case's rows about a movement's commands (not its views): none without the movement."""
    rows = [a for a in actions if a.startswith("POST /api/v1/movements/")]
    assert all(a.endswith(f"({movement_id})") for a in rows), rows
    return rows


async def test_a_correction_after_the_lock_reaches_the_page_and_its_seat_is_named(driver: CaseDriver,
                                                                                   stack: Stack) -> None:
    await login_all(driver)
    case = await _case_in_movement_stage(driver, _family(4, infant=True))
    case_id = case["case_id"]
    principal, _, child, baby = (m["member_id"] for m in case["members"])
    movement = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=6))
    mid = movement["movement_id"]
    day = datetime.fromisoformat(movement["details"]["departure_at"]).astimezone(ZoneInfo("Europe/Istanbul")).date()
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": case_id})
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/lock")
    locked = await _fan_out_done(driver, mid)
    assert [m["lap_infant"] for m in locked["manifest"][0]["members"]] == [False, False, False, True]
    assert locked["rule_check"] == []
    booked = _movement_rows(await _trail(driver, case_id), mid)  # the answer's row and the booking's
    assert booked.count(f"POST /api/v1/movements/{{movement_id}}/lock ({mid})") >= 2, booked

    toddler, three = day - timedelta(days=426), day - timedelta(days=3 * 365 + 40)
    await _correct(driver, case_id, principal, {"full_name": "Adil Nassar"})
    await _correct(driver, case_id, child, {"date_of_birth": toddler.isoformat()})
    await _correct(driver, case_id, baby, {"date_of_birth": three.isoformat()})

    page = await _ok(driver, "GET", f"/api/v1/movements/{mid}")
    people = page["manifest"][0]["members"]
    rows = await _export(driver, mid)
    assert [(p["full_name"], p["date_of_birth"]) for p in people] == [
        (r["full_name"], r["date_of_birth"]) for r in rows]
    assert (people[0]["full_name"], people[2]["date_of_birth"], people[3]["date_of_birth"]) == (
        "Adil Nassar", toddler.isoformat(), three.isoformat())
    assert [m["lap_infant"] for m in people] == [False, False, False, True]  # as booked, as the CSV's seat
    assert [(p["rule"], p["member_id"]) for p in page["rule_check"]] == [("lap_or_seat", child),
                                                                          ("lap_or_seat", baby)], page["rule_check"]
    async with signed_in(stack, "emre") as browser:
        html = (await browser.get(f"/ui/movements/{mid}")).text
    assert "Adil Nassar" in html and "Lap or seat" in html, html
    assert "and the manifest gives them a seat" in html and "and the manifest has them on a lap" in html

    # A delay's drop and re-booking rows name the movement too.
    later = (datetime.fromisoformat(movement["details"]["departure_at"]) + timedelta(hours=2)).isoformat()
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/delay",
              json={"departure_at": later, "reason": "The aircraft is late."})
    delayed = await _fan_out_done(driver, mid)
    assert [e["delay"]["applied"] for e in delayed["manifest"]] == [True], delayed["manifest"]
    # the answer's own row, then the drop's and the re-booking's
    rows_now = _movement_rows(await _trail(driver, case_id), mid)
    assert rows_now.count(f"POST /api/v1/movements/{{movement_id}}/delay ({mid})") >= 3, rows_now


async def test_a_person_split_off_after_the_add_is_named_before_the_lock(driver: CaseDriver, stack: Stack) -> None:
    await login_all(driver)
    case = await _case_in_movement_stage(driver, _family(3))
    case_id = case["case_id"]
    members = [m["member_id"] for m in case["members"]]
    movement = await _ok(driver, "POST", "/api/v1/movements", json=_details(capacity=6))
    mid = movement["movement_id"]
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": case_id})
    # The split the API sends once its check (the case on no open manifest) has passed: here
    # after the add, as when the two requests race (explore6 #5).
    commands = CaseCommands(stack.temporal, stack.settings.temporal_task_queue)
    split = await commands.act(case_id, SplitCase(member_ids=members[1:], principal_member_id=members[1],
                                                  reason="The children live with their aunt."),
                               Actor(id="ayse", role="caseworker"))
    assert split.new_case_id is not None

    expected = [("members_changed", case_id, m) for m in members[1:]]
    page: dict[str, Any] = {}

    async def named() -> bool:
        page.update(await _ok(driver, "GET", f"/api/v1/movements/{mid}"))
        return [(p["rule"], p["case_id"], p["member_id"]) for p in page["rule_check"]] == expected
    await eventually(named, timeout=30, what=lambda: f"rule_check naming the split: {page.get('rule_check')}")
    async with signed_in(stack, "emre") as browser:
        html = (await browser.get(f"/ui/movements/{mid}")).text
    assert f"left case {case_id} (split) since it was added" in html, html
    # itinera check says it too: the manifest lists people their case no longer holds.
    conn = await connect(stack.database_url)
    try:
        report = await check(conn, stack.temporal, movement_ids=[mid])
    finally:
        await conn.close()
    assert [(d.where, d.what) for d in report.differences] == [
        ("cases", f"case {case_id}: {p['message']}") for p in page["rule_check"]], report.differences
    # The lock refuses it by the same rule, naming the same people.
    r = await driver.client.post(f"/api/v1/movements/{mid}/lock", headers=await driver.login("emre"))
    assert r.status_code == 409, r.text
    refused = [(d["rule"], d["member_id"], d["reason"]) for d in r.json()["error"]["details"]
               if d["rule"] == "members_changed"]
    assert refused == [(p["rule"], p["member_id"], p["message"]) for p in page["rule_check"]], r.text
    # Taken off and added again, the manifest lists the one who stayed: nothing to name.
    await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases/{case_id}/remove", json={"reason": "Family split."})
    again = await _ok(driver, "POST", f"/api/v1/movements/{mid}/cases", json={"case_id": case_id})
    assert [m["member_id"] for m in again["manifest"][0]["members"]] == members[:1]
    assert again["rule_check"] == []
    conn = await connect(stack.database_url)
    try:
        assert (await check(conn, stack.temporal, movement_ids=[mid])).clean
    finally:
        await conn.close()
