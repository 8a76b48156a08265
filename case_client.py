"""A client of Itinera's HTTP API that works cases the way people do: log in, refer, claim,
fill in the form, complete.

Who works which task and what they write in its form are given to it: the demo seeding of
``itinera dev`` gives the demo accounts and example forms (``demo/driver.py``), the tests
their own accounts (``tests/support/``).  Everything goes through the real API.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, Protocol

import httpx

from domain.model import Stage
from domain.offices import DEFAULT_TIME_ZONE, local_date, office_time_zone

# Every stage of every programme, in order (resettlement has no reintegration stage; family
# reunification has documents and the embassy appointment, and no interview, health or orientation).
STAGE_ORDER = [Stage.REFERRAL, Stage.INTERVIEW, Stage.HEALTH, Stage.ORIENTATION, Stage.DOCUMENTS,
               Stage.EMBASSY_APPOINTMENT, Stage.VISA, Stage.MOVEMENT, Stage.ARRIVAL, Stage.REINTEGRATION, Stage.CLOSED]

# Who completes a task (the API's task: role, task_type, ...) of a case of an office.
WorkerFor = Callable[[Mapping[str, Any], str], str]


class FormFor(Protocol):
    """The form a worker fills in for a task, dated relative to ``today``; ``case`` (the API's
    case detail) lets a form refer to the case, ``follow_up`` asks for a member who needs
    medical follow-up."""

    def __call__(self, task: dict[str, Any], today: date, *, follow_up: bool = False,
                 case: dict[str, Any] | None = None) -> dict[str, Any]: ...


class ApiCallFailed(RuntimeError):
    pass


def _check(response: httpx.Response) -> None:
    if response.is_error:
        raise ApiCallFailed(f"{response.request.method} {response.request.url.path} -> {response.status_code}: "
                            f"{response.text}")


def _office_today(zone: str | None) -> date:
    """Today as the office of a case sees it (UTC for a case without a zone)."""
    return local_date(datetime.now(UTC), zone or DEFAULT_TIME_ZONE)


class CaseClient:
    """Works cases through ``client`` (an ``httpx.AsyncClient`` on the API's base URL) as the
    accounts that share ``password``; logs each account in once."""

    def __init__(self, client: httpx.AsyncClient, *, password: str, worker_for: WorkerFor, form_for: FormFor):
        self.client = client
        self._password = password
        self._worker_for = worker_for
        self._form_for = form_for
        self._tokens: dict[str, str] = {}

    async def login(self, username: str) -> dict[str, str]:
        """The Authorization header of ``username``."""
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
        """Claim and complete ``task`` as its worker, with ``form`` or the one ``form_for`` gives."""
        headers = await self.login(self._worker_for(task, office))
        if claim:
            (await self.client.post(f"/api/v1/tasks/{task['task_id']}/claim", headers=headers)).raise_for_status()
        # Dated on the office's day: a case judges its dates there (not before its referral, not in the future).
        today = _office_today((case or {}).get("office_time_zone") or task.get("office_time_zone")
                              or office_time_zone(office))
        body = {"form": form or self._form_for(task, today, follow_up=follow_up, case=case)}
        r = await self.client.post(f"/api/v1/tasks/{task['task_id']}/complete", json=body, headers=headers)
        _check(r)
        return r.json()

    async def withdraw_consent(self, case: dict[str, Any], withdrawn_by: str, language: str, reason: str, *,
                               username: str = "ayse") -> dict[str, Any]:
        """AVRR: record that the migrant withdrew consent (closes the case)."""
        # Today in the case's office: the day it was referred there is the earliest allowed.
        today = _office_today(case.get("office_time_zone"))
        body = {"withdrawn_by": withdrawn_by, "withdrawn_on": today.isoformat(),
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
