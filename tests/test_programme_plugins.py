"""A programme is a plug-in: a tiny third programme, registered by this test alone, runs a case
end to end through the API, the ProgrammeCase workflow, the engine and the read model, with
no line of the engine, the workflows or the API changed for it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from pydantic import BaseModel

from domain import events as ev
from domain.engine.context import DecisionContext
from domain.forms import Form
from domain.model import Role, Stage
from domain.programmes.common import ENGINE_TASK_SPECS
from domain.programmes.definition import ProgrammeDefinition, Step
from domain.programmes.registry import register, unregister
from domain.state import CaseState
from domain.tasks import TaskSpec
from tests.support.driver import CaseDriver
from tests.support.factories import referral

ROOT = Path(__file__).resolve().parents[1]


# --- the whole programme: a document check, then the case closes ---------------------------------


class RenewalTask(StrEnum):
    CHECK_RENEWAL_DOCUMENTS = "check_renewal_documents"


class CheckRenewalDocumentsForm(Form):
    checked_on: date
    outcome: Literal["complete"]


class RenewalDocumentsChecked(ev.TaskCompletion):
    type: Literal["RenewalDocumentsChecked"] = "RenewalDocumentsChecked"
    checked_on: date
    outcome: str


class RenewalData(BaseModel):
    documents_checked_on: date | None = None


def _next_step(state: CaseState, stage: Stage, _: DecisionContext) -> Step:
    data = state.data(RenewalData)
    if stage == Stage.REFERRAL and data.documents_checked_on is None:
        return RenewalTask.CHECK_RENEWAL_DOCUMENTS, [None]
    return None


def _apply(state: CaseState, event: Any, _: datetime) -> None:
    if isinstance(event, RenewalDocumentsChecked):
        state.data(RenewalData).documents_checked_on = event.checked_on


RENEWAL = ProgrammeDefinition(
    name="document_renewal",
    title="Document renewal",
    workflow_type="ProgrammeCase",
    stages=(Stage.REFERRAL, Stage.CLOSED),
    stage_labels={Stage.REFERRAL: "Documents", Stage.CLOSED: "Closed"},
    task_specs={RenewalTask.CHECK_RENEWAL_DOCUMENTS: TaskSpec(
        RenewalTask.CHECK_RENEWAL_DOCUMENTS, Stage.REFERRAL, "Check the renewal documents", Role.CASEWORKER, False,
        CheckRenewalDocumentsForm)} | ENGINE_TASK_SPECS,
    next_step=_next_step,
    completion_reason="documents_renewed",
    start=lambda _: RenewalData(),
    data_model=RenewalData,
    apply=_apply,
    read_model_data=lambda state: state.data(RenewalData).model_dump(mode="json"),
)


@pytest.fixture
def renewal_programme() -> Iterator[ProgrammeDefinition]:
    """The programme, registered for this test only (its event type too)."""
    ev.register_event(ev.completed_by(CheckRenewalDocumentsForm)(RenewalDocumentsChecked))
    register(RENEWAL, RenewalTask)
    try:
        yield RENEWAL
    finally:
        unregister(RENEWAL.name)
        ev.unregister_event("RenewalDocumentsChecked")


async def test_a_programme_registered_here_runs_a_case_end_to_end(renewal_programme: ProgrammeDefinition,
                                                                   http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.refer(referral(size=1, programme="document_renewal", destination_country=None))
    assert (case["programme"], case["stage"], case["stage_label"]) == ("document_renewal", "referral", "Documents")
    [task] = case["open_tasks"]
    assert (task["task_type"], task["title"]) == ("check_renewal_documents", "Check the renewal documents")

    detail = (await http.get(f"/api/v1/tasks/{task['task_id']}", headers=await driver.login("ayse"))).json()
    assert set(detail["form_schema"]["required"]) == {"checked_on", "outcome"}  # its own programme's form

    case = await driver.complete(task, "IST", form={"checked_on": date.today().isoformat(), "outcome": "complete"})
    assert (case["status"], case["closure_reason"]) == ("closed", "documents_renewed")
    assert case["programme_data"] == {"documents_checked_on": date.today().isoformat()}
    events = (await http.get(f"/api/v1/cases/{case['case_id']}/events", headers=await driver.login("fatma"))).json()
    assert "RenewalDocumentsChecked" in [e["type"] for e in events]


def test_an_unregistered_programme_is_refused_with_the_known_ones() -> None:
    from pydantic import ValidationError

    from domain.model import Referral

    with pytest.raises(ValidationError) as refused:
        Referral.model_validate(referral(programme="document_renewal"))
    assert "unknown programme 'document_renewal'; known: resettlement, avrr" in str(refused.value)


def test_the_engine_never_names_a_programme() -> None:
    """No module of the engine mentions a programme or a programme's own task types."""
    own_names = {"resettlement", "avrr", "Avrr", "AVRR", "RESETTLEMENT"}
    task_types = {t for p in ("resettlement", "avrr") for t in _task_types_of(p)}
    for path in sorted((ROOT / "domain" / "engine").glob("*.py")):
        text = path.read_text()
        named = sorted(n for n in own_names | task_types if n in text)
        assert not named, f"{path.relative_to(ROOT)} names {named}"


def _task_types_of(programme: str) -> set[str]:
    tree = ast.parse((ROOT / "domain" / "programmes" / programme / "tasks.py").read_text())
    return {node.value.value for node in ast.walk(tree)
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)}


def test_no_engine_module_is_over_300_lines() -> None:
    for path in sorted([*(ROOT / "domain" / "engine").glob("*.py"), *(ROOT / "domain" / "programmes").rglob("*.py")]):
        lines = len(path.read_text().splitlines())
        assert lines <= 300, f"{path.relative_to(ROOT)} has {lines} lines"
