"""An HTTP client that works cases the way caseworkers do: log in, claim, fill, complete.

Used to seed the demo data of ``itinera dev``, by the tests and by the benchmark, so all
three go through the real API.
"""

from __future__ import annotations

from collections.abc import Mapping
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

# Every stage of either programme, in order (resettlement has no reintegration stage).
STAGE_ORDER = [Stage.REFERRAL, Stage.INTERVIEW, Stage.HEALTH, Stage.ORIENTATION, Stage.VISA, Stage.MOVEMENT,
               Stage.ARRIVAL, Stage.REINTEGRATION, Stage.CLOSED]


def example_form(task: dict[str, Any], today: date, *, follow_up: bool = False,
                 case: dict[str, Any] | None = None) -> dict[str, Any]:
    """Realistic form data for a task, dated relative to ``today``.  ``case`` (the API's case
    detail), when given, lets a form refer to the case (e.g. the next undelivered plan item)."""
    day = lambda n: (today + timedelta(days=n)).isoformat()  # noqa: E731
    task_type = TaskType(task["task_type"])
    if task.get("programme") == "avrr" or task_type in _AVRR_EXAMPLES:
        form = _avrr_example(task_type, task, day, case)
        if form is not None:
            return form
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


_AVRR_EXAMPLES = {
    TaskType.RECORD_COUNSELLING, TaskType.RECORD_CONSENT, TaskType.ASSESS_ELIGIBILITY, TaskType.SCREEN_VULNERABILITY,
    TaskType.ASSESS_FIT_TO_TRAVEL, TaskType.RECORD_PREDEPARTURE_COUNSELLING, TaskType.RECORD_TRAVEL_DOCUMENT,
    TaskType.RECORD_EXIT_PERMISSION, TaskType.ARRANGE_ESCORT, TaskType.RECONFIRM_CONSENT,
    TaskType.RECORD_REINTEGRATION_PLAN, TaskType.RECORD_ASSISTANCE_DELIVERY, TaskType.RECORD_MONITORING_VISIT,
    TaskType.CLOSE_REINTEGRATION,
}


def _avrr_example(task_type: TaskType, task: dict[str, Any], day: Any, case: dict[str, Any] | None) -> dict[str, Any] | None:
    """AVRR's forms, and AVRR's version of the shared ones (a return to Erbil); None: as resettlement."""
    ref = task["task_id"][-12:]
    if task_type == TaskType.RECORD_COUNSELLING:
        return {"session_date": day(0), "language": "ar", "options_explained": True,
                "notes": "Return package, reintegration support and the right to withdraw consent explained."}
    if task_type == TaskType.RECORD_CONSENT:
        return {"given_by": "Principal applicant, for the family", "given_on": day(0), "language": "ar",
                "signed_form_reference": f"AVRR-{ref}"}
    if task_type == TaskType.ASSESS_ELIGIBILITY:
        return {"assessed_on": day(0), "outcome": "eligible"}
    if task_type == TaskType.SCREEN_VULNERABILITY:
        return {"screened_on": day(0)}
    if task_type == TaskType.ASSESS_FIT_TO_TRAVEL:
        return {"assessment_date": day(0), "outcome": "fit"}
    if task_type == TaskType.RECORD_PREDEPARTURE_COUNSELLING:
        return {"session_date": day(0), "language": "ar", "reintegration_support_explained": True}
    if task_type == TaskType.RECORD_TRAVEL_DOCUMENT:
        return {"outcome": "issued", "document_type": "laissez_passer", "document_number": f"LP-{ref}",
                "issuing_consulate": "Consulate General of Iraq, Istanbul", "issued_on": day(0), "valid_until": day(90)}
    if task_type == TaskType.RECORD_EXIT_PERMISSION:
        return {"outcome": "granted", "authority": "Provincial Directorate of Migration Management",
                "reference": f"PMM-{ref}", "decided_on": day(0)}
    if task_type == TaskType.ARRANGE_ESCORT:
        return {"escort_type": "operational", "escort_name": "Elif Arslan", "organisation": "IOM Türkiye"}
    if task_type == TaskType.RECONFIRM_CONSENT:
        return {"reconfirmed_on": day(0), "language": "ar", "consent_reconfirmed": True}
    if task_type == TaskType.RECORD_REINTEGRATION_PLAN:
        return {"agreed_on": day(0), "partner": "IOM Iraq, Erbil", "items": [
            {"kind": "economic", "description": "Small business grant: grocery shop", "amount": "2000.00",
             "currency": "USD"},
            {"kind": "psychosocial", "description": "Six counselling sessions"}]}
    if task_type == TaskType.RECORD_ASSISTANCE_DELIVERY:
        plan = ((case or {}).get("avrr") or {}).get("reintegration_plan") or []
        number = next((i["item_number"] for i in plan if i["delivered_on"] is None), 1)
        return {"item_number": number, "delivered_on": day(0)}
    if task_type == TaskType.RECORD_MONITORING_VISIT:
        return {"visited_on": day(0), "method": "in_person", "reintegration_score": 0.6}
    if task_type == TaskType.CLOSE_REINTEGRATION:
        return {"decision": "close", "reason": "Every item of the plan delivered."}
    if task_type == TaskType.BOOK_MOVEMENT:
        return {"flight_number": "TK1102", "departure_at": f"{day(0)}T00:05:00+00:00",
                "departure_airport": "IST", "arrival_airport": "EBL"}
    if task_type == TaskType.CONFIRM_ARRIVAL:
        return {"arrived_on": day(0), "place": "Erbil", "receiving_partner": "IOM Iraq, Erbil"}
    return None


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
                       claim: bool = True, follow_up: bool = False, case: dict[str, Any] | None = None) -> dict[str, Any]:
        worker = _WORKER_BY_ROLE_AND_OFFICE[(task["role"], office)]
        if task["task_type"] == "record_treatment":
            worker = "deniz"  # four-eyes: not the medical officer who put the member on hold
        headers = await self.login(worker)
        if claim:
            (await self.client.post(f"/api/v1/tasks/{task['task_id']}/claim", headers=headers)).raise_for_status()
        body = {"form": form or example_form(task, datetime.now(UTC).date(), follow_up=follow_up, case=case)}
        r = await self.client.post(f"/api/v1/tasks/{task['task_id']}/complete", json=body, headers=headers)
        _check(r)
        return r.json()

    async def withdraw_consent(self, case: dict[str, Any], withdrawn_by: str, language: str, reason: str, *,
                               username: str = "ayse") -> dict[str, Any]:
        """AVRR: record that the migrant withdrew consent (closes the case)."""
        body = {"withdrawn_by": withdrawn_by, "withdrawn_on": datetime.now(UTC).date().isoformat(),
                "language": language, "reason": reason}
        r = await self.client.post(f"/api/v1/cases/{case['case_id']}/consent-withdrawal", json=body,
                                   headers=await self.login(username))
        _check(r)
        return r.json()

    async def advance(self, case: dict[str, Any], until: Stage = Stage.CLOSED, *,
                      follow_up_members: set[int] = frozenset(),  # type: ignore[assignment]
                      forms: Mapping[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        """Complete open tasks until the case reaches ``until`` (or closes).  ``forms`` gives the
        form to use for a task type instead of its example (e.g. a screening that finds a
        vulnerability, or a return to another country than the example's)."""
        target = STAGE_ORDER.index(until)
        while STAGE_ORDER.index(Stage(case["stage"])) < target and case["open_tasks"]:
            task = case["open_tasks"][0]
            position = next((i for i, m in enumerate(case["members"]) if m["member_id"] == task["member_id"]), -1)
            case = await self.complete(task, case["office"], follow_up=position in follow_up_members,
                                       form=(forms or {}).get(task["task_type"]), case=case)
        return case
