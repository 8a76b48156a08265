"""An HTTP client that works cases the way caseworkers do: log in, claim, fill, complete.

Used to seed the demo data of ``itinera dev``, by the tests and by the benchmark, so all
three go through the real API.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from demo.users import DEMO_PASSWORD
from domain.model import Stage
from domain.tasks import TaskType

# Which demo user works which task type in which office.
_WORKER_BY_ROLE_AND_OFFICE = {
    ("caseworker", "IST"): "ayse",
    ("caseworker", "IZM"): "mehmet",
    ("medical_officer", "IST"): "selin",
    ("medical_officer", "IZM"): "selin",
    ("movement_officer", "IST"): "emre",
    ("movement_officer", "IZM"): "emre",
    ("supervisor", "IST"): "fatma",
    ("supervisor", "IZM"): "ali",
}

STAGE_ORDER = [Stage.REFERRAL, Stage.INTERVIEW, Stage.HEALTH, Stage.ORIENTATION, Stage.VISA, Stage.MOVEMENT,
               Stage.ARRIVAL, Stage.CLOSED]


def example_form(task: dict[str, Any], today: date, *, follow_up: bool = False) -> dict[str, Any]:
    """Realistic form data for a task, dated relative to ``today``."""
    day = lambda n: (today + timedelta(days=n)).isoformat()  # noqa: E731
    task_type = TaskType(task["task_type"])
    if task_type == TaskType.VERIFY_REFERRAL:
        return {"documents_checked": True, "notes": "Identity documents of all members checked against the referral."}
    if task_type == TaskType.CONDUCT_INTERVIEW:
        return {"interview_date": day(0), "outcome": "accepted", "interpreter_language": "ar"}
    if task_type == TaskType.ASSESS_HEALTH:
        return {"assessment_date": day(0), "outcome": "cleared", "clearance_valid_until": day(180),
                "tb_classification": "none", "follow_up_needed": follow_up}
    if task_type == TaskType.RECORD_ORIENTATION:
        return {"session_date": day(0), "language": "ar"}
    if task_type == TaskType.RECORD_VISA:
        return {"outcome": "issued", "visa_number": f"V-{task['task_id'][-12:]}", "issued_on": day(0),
                "valid_until": day(90)}
    if task_type == TaskType.BOOK_MOVEMENT:
        return {"flight_number": "TK1751", "departure_at": f"{day(0)}T00:05:00+00:00",
                "departure_airport": "IST", "arrival_airport": "OSL"}
    if task_type == TaskType.CHECK_FIT_TO_TRAVEL:
        return {"checked_at": f"{day(0)}T00:00:00+00:00", "outcome": "fit"}
    if task_type == TaskType.RECORD_DEPARTURE:
        return {"outcome": "departed", "departed_at": f"{day(0)}T00:10:00+00:00"}
    if task_type == TaskType.RECORD_TREATMENT:
        return {"completed_on": day(0), "notes": "Treatment course completed."}
    if task_type == TaskType.REVIEW_OUTCOME:
        return {"decision": "close", "reason": "No further option for this case."}
    if task_type == TaskType.RESOLVE_ESCALATION:
        return {"action_taken": "Followed up with the team."}
    if task_type == TaskType.CONFIRM_ARRIVAL:
        return {"arrived_on": day(0), "place": "Oslo", "receiving_partner": "Oslo municipality"}
    raise ValueError(f"no example form for {task_type}")


class ApiCallFailed(RuntimeError):
    pass


def _check(response: httpx.Response) -> None:
    if response.is_error:
        raise ApiCallFailed(f"{response.request.method} {response.request.url.path} -> {response.status_code}: "
                            f"{response.text}")


class CaseDriver:
    def __init__(self, client: httpx.AsyncClient, password: str = DEMO_PASSWORD):
        self.client = client
        self._password = password
        self._tokens: dict[str, str] = {}

    async def login(self, username: str) -> dict[str, str]:
        if username not in self._tokens:
            r = await self.client.post("/api/v1/auth/token", data={"username": username, "password": self._password})
            r.raise_for_status()
            self._tokens[username] = r.json()["access_token"]
        return {"Authorization": f"Bearer {self._tokens[username]}"}

    async def refer(self, referral: dict[str, Any], username: str = "ayse") -> dict[str, Any]:
        r = await self.client.post("/api/v1/cases", json=referral, headers=await self.login(username))
        _check(r)
        return r.json()

    async def complete(self, task: dict[str, Any], office: str, *, form: dict[str, Any] | None = None,
                       claim: bool = True, follow_up: bool = False) -> dict[str, Any]:
        headers = await self.login(_WORKER_BY_ROLE_AND_OFFICE[(task["role"], office)])
        if claim:
            (await self.client.post(f"/api/v1/tasks/{task['task_id']}/claim", headers=headers)).raise_for_status()
        body = {"form": form or example_form(task, datetime.now(UTC).date(), follow_up=follow_up)}
        r = await self.client.post(f"/api/v1/tasks/{task['task_id']}/complete", json=body, headers=headers)
        _check(r)
        return r.json()

    async def advance(self, case: dict[str, Any], until: Stage = Stage.CLOSED, *,
                      follow_up_members: set[int] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
        """Complete open tasks until the case reaches ``until`` (or closes)."""
        target = STAGE_ORDER.index(until)
        while STAGE_ORDER.index(Stage(case["stage"])) < target and case["open_tasks"]:
            task = case["open_tasks"][0]
            position = next((i for i, m in enumerate(case["members"]) if m["member_id"] == task["member_id"]), -1)
            case = await self.complete(task, case["office"], follow_up=position in follow_up_members)
        return case
