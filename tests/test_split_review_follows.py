"""A supervisor review follows the members whose outcome it decides when a family is split.

A tester's find: a family reunification case (Huda, Omar 17, Lama 7, to Germany) whose visas
were issued for Huda and Lama and refused for Omar opens the supervisor's review; Omar is
split off, and the original kept the "visa refused" review (every one of its members' visas
issued) and stayed in the visa stage, while Omar's new case got one too.  A 2-member family's
original, reviewed "close", was closed visa_refused with its only member's visa issued.

Now (``split-review-follows-v1``, ``DecisionContext.split_review_follows``) a review opened for
members' own outcomes (a visa refused, a member not cleared, a relationship not eligible) is
cancelled in the original when every such member moved, and the original goes on by itself;
the new case carries it.  When none of them moved, the new case does not carry it.  A review of
the case's own outcome (an interview rejected) stays with both, as before.  A split recorded
before the rule replays as it ran (tests/histories/split_*.json); this rule's own history is
tests/histories/split_review_follows_original.json.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any


from domain.case import CaseState, CompleteTask, DecisionContext, ReferCase, SplitCase, Tick, decide, fold, next_deadline
from domain.engine.split import split_opening
from domain.events import CaseSplit
from domain.identity import case_id_for
from domain.model import Actor, Referral, Stage
from domain.offices import local_date
from domain.programmes.family_reunification.state import birthday
from tests.support.driver import CaseDriver
from tests.support.factories import member, referral
from tests.support.forms import example_form
from tests.support.histories import replays_and_is_recorded
from tests.support.stack import Stack
from tests.test_branches import _patches
from workflows.case_workflow import SPLIT_REVIEW_FOLLOWS_PATCH

SPONSOR = {"full_name": "Yusuf Haddad", "protection_status": "subsidiary_protection",
           "residence_permit": "DE-BER-AT-2025-118402", "city": "Berlin", "contact": "+49 30 1234567"}


def _born(today: date, years: int, days: int = 0) -> str:
    return birthday(today + timedelta(days=days), -years).isoformat()


def _family() -> dict[str, Any]:
    """Huda (spouse), Omar (17, 18 in half a year) and Lama (7) joining Yusuf in Berlin."""
    today = datetime.now(UTC).date()
    members = [member("Huda Haddad", _born(today, 38), "spouse"),
               member("Omar Haddad", _born(today, 18, days=180), "child", sex="male"),
               member("Lama Haddad", _born(today, 7), "child")]
    return referral(programme="family_reunification", destination_country="DE", sponsor=SPONSOR, members=members)


def _day() -> str:
    return local_date(datetime.now(UTC), "Europe/Istanbul").isoformat()


def _issued(day: str) -> dict[str, Any]:
    valid = (date.fromisoformat(day) + timedelta(days=90)).isoformat()
    return {"outcome": "issued", "visa_number": "DE-D-2026-448812", "issued_on": day, "valid_until": valid}


def _refused(day: str) -> dict[str, Any]:
    return {"outcome": "refused", "decided_on": day, "refusal_reason": "Relationship not established."}


# --- the decision, purely --------------------------------------------------------------------


def _ctx(now: datetime, who: str = "fatma", **flags: Any) -> DecisionContext:
    ids = itertools.count(1)
    return DecisionContext(now=now, actor=Actor(id=who, role="supervisor"), new_event_id=lambda: f"e-{next(ids)}",
                           **flags)


def _walk(body: dict[str, Any], until: Callable[[CaseState], bool],
          forms: Callable[[CaseState, Any, date], dict[str, Any] | None] = lambda *_: None) -> tuple[CaseState, datetime]:
    """A case worked with the example forms (or ``forms``'s) until ``until`` holds."""
    referral_ = Referral.model_validate(body)
    now = datetime.now(UTC).replace(microsecond=0)
    state = fold(decide(None, ReferCase(case_id=case_id_for(referral_.external_referral_id), referral=referral_),
                        _ctx(now)))
    for _ in range(80):
        if until(state):
            return state, now
        if not state.open_tasks:
            deadline = next_deadline(state)
            assert deadline is not None, state.stage
            now = max(now, deadline)
            state = fold(decide(state, Tick(), _ctx(now)), start=state)
            continue
        task = state.open_tasks[0]
        today = local_date(now, state.office_time_zone)
        form = forms(state, task, today) or example_form(task.model_dump() | {"programme": str(state.programme)}, today)
        state = fold(decide(state, CompleteTask(task_id=task.task_id, form=form), _ctx(now)), start=state)
    raise AssertionError(f"not reached; the case is in {state.stage}")


def _reviews(state: CaseState) -> list[Any]:
    return [t for t in state.open_tasks if t.task_type == "review_outcome"]


def _omar_refused() -> tuple[CaseState, datetime]:
    """The family in the visa stage: Huda's and Lama's visas issued, then Omar's refused."""
    def visas(state: CaseState, task: Any, today: date) -> dict[str, Any] | None:
        if task.task_type != "record_family_visa":
            return None
        if task.member_id == state.members[1].member_id:
            return _refused(today.isoformat())
        return _issued(today.isoformat())

    # Omar's visa task is decided last: the others first (a refusal cancels the open visa tasks).
    state, now = _walk(_family(), lambda s: any(t.task_type == "record_family_visa" for t in s.open_tasks))
    omar = state.members[1].member_id
    for task in sorted([t for t in state.open_tasks if t.task_type == "record_family_visa"],
                       key=lambda t: t.member_id == omar):
        form = visas(state, task, local_date(now, state.office_time_zone))
        state = fold(decide(state, CompleteTask(task_id=task.task_id, form=form), _ctx(now, "ayse")), start=state)
    assert state.stage == Stage.VISA and len(_reviews(state)) == 1, state.open_tasks
    return state, now


def _split(state: CaseState, now: datetime, moved: str, **flags: Any) -> tuple[CaseState, CaseState, list[Any]]:
    command = SplitCase(member_ids=[moved], principal_member_id=moved, reason="Omar's visa was refused.")
    events = decide(state, command, _ctx(now, **flags))
    after = fold(events, start=state)
    split = next(e.event for e in events if isinstance(e.event, CaseSplit))
    rule = flags.get("split_review_follows", True)
    new = fold(decide(None, split_opening(state, split, review_follows=rule), _ctx(now)))
    return after, new, events


def test_the_refusal_review_follows_the_refused_member() -> None:
    state, now = _omar_refused()
    omar = state.members[1].member_id
    asked: list[bool] = []
    after, new, events = _split(state, now, omar, split_review_follows=lambda: asked.append(True) or True)
    assert asked
    [review] = _reviews(state)
    cancelled = [e.event for e in events if e.type == "TaskCancelled" and e.event.task_id == review.task_id]
    assert cancelled and "Omar Haddad" in cancelled[0].reason and f"{state.case_id}-S1" in cancelled[0].reason
    # The original goes on by itself: every visa it holds is issued.
    assert not _reviews(after) and after.stage == Stage.MOVEMENT
    assert [t.task_type for t in after.open_tasks] == ["book_movement"]
    # The new case carries the review and waits in the visa stage for the supervisor.
    assert new.stage == Stage.VISA and [t.task_type for t in new.open_tasks] == ["review_outcome"]


def test_a_review_whose_refused_member_stayed_is_not_carried() -> None:
    state, now = _omar_refused()
    lama = state.members[2].member_id
    asked: list[bool] = []
    after, new, _ = _split(state, now, lama, split_review_follows=lambda: asked.append(True) or True)
    assert asked
    assert after.stage == Stage.VISA and len(_reviews(after)) == 1
    assert new.stage == Stage.MOVEMENT and [t.task_type for t in new.open_tasks] == ["book_movement"]


def test_a_split_decided_before_the_rule_keeps_the_review_in_both() -> None:
    state, now = _omar_refused()
    for moved in (state.members[1].member_id, state.members[2].member_id):
        after, new, _ = _split(state, now, moved, split_review_follows=False)
        assert after.stage == Stage.VISA and len(_reviews(after)) == 1
        assert new.stage == Stage.VISA and len(_reviews(new)) == 1


def test_a_split_without_a_review_does_not_ask_the_rule() -> None:
    state, now = _walk(_family(), lambda s: any(t.task_type == "record_family_visa" for t in s.open_tasks))
    asked: list[bool] = []
    after, new, _ = _split(state, now, state.members[1].member_id,
                           split_review_follows=lambda: asked.append(True) or True)
    assert not asked and after.stage == new.stage == Stage.VISA


def test_a_member_not_cleared_takes_the_health_review_along() -> None:
    def health(state: CaseState, task: Any, today: date) -> dict[str, Any] | None:
        if task.task_type == "assess_health" and task.member_id == state.members[2].member_id:
            return {"assessment_date": today.isoformat(), "outcome": "not_cleared", "notes": "Unfit to travel."}
        return None
    state, now = _walk(referral(size=3), lambda s: bool(_reviews(s)), health)
    assert state.stage == Stage.HEALTH
    moved = state.members[2].member_id
    after, new, _ = _split(state, now, moved)
    assert not _reviews(after) and after.stage != Stage.HEALTH
    assert new.stage == Stage.HEALTH and len(_reviews(new)) == 1


def test_a_review_of_the_cases_own_outcome_stays_with_both() -> None:
    """An interview rejected is the case's, not a member's: both halves keep its review (the
    rule is not asked)."""
    def interview(state: CaseState, task: Any, today: date) -> dict[str, Any] | None:
        if task.task_type == "conduct_interview":
            return {"interview_date": today.isoformat(), "outcome": "rejected",
                    "rejection_reason": "Does not meet criteria."}
        return None
    state, now = _walk(referral(size=3), lambda s: bool(_reviews(s)), interview)
    asked: list[bool] = []
    after, new, _ = _split(state, now, state.members[2].member_id,
                           split_review_follows=lambda: asked.append(True) or True)
    assert not asked
    assert after.stage == new.stage == Stage.INTERVIEW and len(_reviews(after)) == len(_reviews(new)) == 1


# --- the review's form, per programme ----------------------------------------------------------


def _decisions(schema: dict[str, Any]) -> list[str]:
    return schema["properties"]["decision"]["enum"]


def test_the_review_form_offers_the_programmes_own_decisions() -> None:
    """The form schema the API serves for a review (GET /api/v1/tasks/{id}) is the task's
    programme's: family reunification never resubmits to another country; resettlement and
    AVRR offer what they did."""
    from api.readmodel import task_detail
    from api.schemas import TaskView

    def served(programme: str) -> dict[str, Any]:
        now = datetime.now(UTC)
        task = TaskView(task_id="C-1-T09", case_id="C-1", task_type="review_outcome", title="Decide",
                        stage="visa", stage_label="Visa", role="supervisor", member_id=None, member_name=None,
                        office="IST", priority="normal", status="open", opened_at=now, due_at=now, overdue=False,
                        claimed_by=None, claimed_at=None, completed_at=None, completed_by=None, programme=programme)
        return task_detail(task).form_schema

    family = served("family_reunification")
    assert _decisions(family) == ["reassess", "reapply", "close"]
    assert "destination_country" not in json.dumps(family)
    for programme in ("resettlement", "avrr"):
        assert _decisions(served(programme)) == ["resubmit", "reassess", "reapply", "close"]


# --- through the API ---------------------------------------------------------------------------


async def _to_refusal(driver: CaseDriver, body: dict[str, Any], refused: set[str]) -> dict[str, Any]:
    """The case in the visa stage, the visas of the members named ``refused`` refused (last)."""
    case = await driver.advance(await driver.refer(body), until=Stage.VISA)
    assert case["stage"] == "visa", case["stage"]
    names = {m["member_id"]: m["full_name"] for m in case["members"]}
    tasks = sorted([t for t in case["open_tasks"] if t["task_type"] == "record_family_visa"],
                   key=lambda t: names[t["member_id"]] in refused)
    for task in tasks:
        form = _refused(_day()) if names[task["member_id"]] in refused else _issued(_day())
        case = await driver.complete(task, "IST", form=form)
    assert [t["task_type"] for t in case["open_tasks"]] == ["review_outcome"], case["open_tasks"]
    return case


async def _split_api(driver: CaseDriver, case_id: str, moved: list[str], principal: str) -> dict[str, Any]:
    r = await driver.client.post(f"/api/v1/cases/{case_id}/split", headers=await driver.login("ayse"),
                                 json={"member_ids": moved, "principal_member_id": principal,
                                       "reason": "Omar's visa was refused; the others travel."})
    assert r.status_code == 200, r.text
    return r.json()


async def test_after_splitting_off_the_refused_child_the_family_travels_and_he_is_reviewed(
        driver: CaseDriver, stack: Stack) -> None:
    case = await _to_refusal(driver, _family(), {"Omar Haddad"})
    case_id = case["case_id"]
    omar = next(m["member_id"] for m in case["members"] if m["full_name"] == "Omar Haddad")
    split = await _split_api(driver, case_id, [omar], omar)
    original, new = split["case"], split["new_case"]
    assert original["stage"] == "movement", original["stage"]
    assert [t["task_type"] for t in original["open_tasks"]] == ["book_movement"]
    assert new["stage"] == "visa" and [t["task_type"] for t in new["open_tasks"]] == ["review_outcome"]
    events = (await driver.client.get(f"/api/v1/cases/{case_id}/events", headers=await driver.login("fatma"))).json()
    [review_id] = [e["data"]["task_id"] for e in events if e["type"] == "TaskOpened"
                   and e["data"]["task_type"] == "review_outcome"]
    [cancelled] = [e for e in events if e["type"] == "TaskCancelled" and e["data"]["task_id"] == review_id]
    assert f"moved to case {case_id}-S1 (Omar Haddad)" in cancelled["data"]["reason"]

    # The review's form offers family reunification's decisions only (no resubmission elsewhere).
    r = await driver.client.get(f"/api/v1/tasks/{new['open_tasks'][0]['task_id']}", headers=await driver.login("fatma"))
    assert r.status_code == 200, r.text
    assert _decisions(r.json()["form_schema"]) == ["reassess", "reapply", "close"]
    # The supervisor closes Omar's case as refused; the family travels and arrives.
    new = await driver.complete(new["open_tasks"][0], "IST", form={"decision": "close",
                                                                   "reason": "No further appeal."})
    assert (new["status"], new["closure_reason"]) == ("closed", "visa_refused")
    original = await driver.advance(original)
    assert (original["status"], original["closure_reason"]) == ("closed", "arrived")

    handle = stack.temporal.get_workflow_handle(case_id)
    assert SPLIT_REVIEW_FOLLOWS_PATCH in await _patches(handle)
    await handle.result()
    await replays_and_is_recorded(handle, "split_review_follows_original.json")


async def test_a_two_member_family_is_not_closed_visa_refused_for_the_member_who_left(driver: CaseDriver) -> None:
    today = datetime.now(UTC).date()
    body = _family()
    body["members"] = [member("Huda Haddad", _born(today, 38), "spouse"),
                       member("Omar Haddad", _born(today, 18, days=180), "child", sex="male")]
    case = await _to_refusal(driver, body, {"Omar Haddad"})
    omar = case["members"][1]["member_id"]
    split = await _split_api(driver, case["case_id"], [omar], omar)
    original, new = split["case"], split["new_case"]
    assert original["status"] == "active" and original["stage"] == "movement"
    assert "review_outcome" not in [t["task_type"] for t in original["open_tasks"]]
    assert [t["task_type"] for t in new["open_tasks"]] == ["review_outcome"]


async def test_a_member_who_moves_without_the_refusal_leaves_the_review_behind(driver: CaseDriver) -> None:
    case = await _to_refusal(driver, _family(), {"Omar Haddad"})
    lama = next(m["member_id"] for m in case["members"] if m["full_name"] == "Lama Haddad")
    split = await _split_api(driver, case["case_id"], [lama], lama)
    original, new = split["case"], split["new_case"]
    assert original["stage"] == "visa" and [t["task_type"] for t in original["open_tasks"]] == ["review_outcome"]
    assert new["stage"] == "movement" and [t["task_type"] for t in new["open_tasks"]] == ["book_movement"]
