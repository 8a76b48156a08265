"""Histories of cases recorded from earlier versions of the workflow must keep replaying.

A change to ``workflows/`` that would break a running case (a command issued in a
different order, an activity added before an existing one) fails here; guard such a
change with ``workflow.patched``.  To add a history of the current code, run:

    ITINERA_RECORD_HISTORIES=1 .venv/bin/python -m pytest tests/test_replay.py

Every JSON file in tests/histories/ is replayed against the worker's workflows, also those of
other workflow types: the Movement charter (tests/test_movements.py records it) and the
OrientationSession of 30 people (orientation_session_30_people.json, recorded by
``ITINERA_RECORD_HISTORIES=1 pytest tests/test_orientation_sessions.py -k 30_person``), and
the original of a family split after a refused visa whose review followed the refused member
(split_review_follows_original.json, ``split-review-follows-v1``, recorded by
``ITINERA_RECORD_HISTORIES=1 pytest tests/test_split_review_follows.py -k refused_child``), and a
child's orientation task cancelled by a corrected date of birth (correction_reprunes.json,
``correction-reprunes-v1``, ``ITINERA_RECORD_HISTORIES=1 pytest tests/test_correction_reprunes.py``).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from worker import workflow_runner
from temporalio.workflow import NondeterminismError

from domain.model import Stage
from tests.support.driver import CaseDriver
from tests.support.factories import referral
from temporal_client import data_converter
from tests.support.stack import stack_settings
from worker import WORKFLOWS
from workflows.resettlement_case import ResettlementCaseWorkflow

with workflow.unsafe.imports_passed_through():
    from domain.case import CaseState
    from domain.records import CaseWorkflowInput

HISTORIES = Path(__file__).parent / "histories"
# The version the full-case tests record (ITINERA_RECORD_HISTORIES=1): a new name for each
# version that changes the commands a case issues, so the histories of every earlier version
# stay in the suite, as the running cases they stand for do.
RECORDING = "search_attributes"


def _replayer(sandbox: bool = False) -> Replayer:
    # Histories recorded before payload encryption are plaintext and pass through the codec.
    # The runner the worker uses (worker.workflow_runner: no sandbox by default).
    return Replayer(workflows=WORKFLOWS, data_converter=data_converter(stack_settings()),
                    workflow_runner=workflow_runner(sandbox))


def _recorded() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


@pytest.mark.parametrize("sandbox", [False, True], ids=["unsandboxed", "sandboxed"])
@pytest.mark.parametrize("path", _recorded(), ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path, sandbox: bool) -> None:
    """Under the runner workers use, and in the SDK's sandbox (ITINERA_WORKFLOW_SANDBOX=true): the
    workflow code stays sandbox-clean, so the sandbox can be turned back on at any time."""
    data = json.loads(path.read_text())
    history = WorkflowHistory.from_json(data["workflow_id"], data["history"])
    await _replayer(sandbox).replay_workflow(history)


def test_there_are_recorded_histories() -> None:
    assert _recorded(), "tests/histories/ must hold at least one recorded case history"


async def test_a_full_case_of_this_version_replays(stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    case = await driver.advance(await driver.refer(referral(size=2)))
    assert case["status"] == "closed"
    handle = stack.temporal.get_workflow_handle(case["case_id"])
    await handle.result()
    history = await handle.fetch_history()
    await _replayer().replay_workflow(history)
    if os.environ.get("ITINERA_RECORD_HISTORIES"):
        name = HISTORIES / f"resettlement_full_case_2_members_{RECORDING}.json"
        name.write_text(json.dumps({"workflow_id": case["case_id"], "history": json.loads(history.to_json())},
                                   indent=1))


async def test_a_full_avrr_case_of_this_version_replays(stack, http: httpx.AsyncClient, driver: CaseDriver) -> None:
    """An AvrrCase from counselling to the supervisor's closure of its reintegration (record it
    alone with ``-k avrr``).  Vulnerability screening asks for an escort, so every step runs."""
    body = referral(size=2, programme="avrr", destination_country=None, origin_country="IQ")
    now = datetime.now(UTC)
    # A flight far enough ahead for every deadline (checks are due 6 h before it), so no
    # escalation comes into the history; it is recorded as departed a few minutes from now.
    booked, left = (now + timedelta(hours=7)).isoformat(), (now + timedelta(minutes=2)).isoformat()
    forms = {"screen_vulnerability": {"screened_on": now.date().isoformat(), "medical_needs": True,
                                      "escort_required": True},
             "book_movement": {"flight_number": "TK1102", "departure_at": booked, "departure_airport": "IST",
                               "arrival_airport": "EBL"},
             "check_fit_to_travel": {"checked_at": now.isoformat(), "outcome": "fit"},
             "record_departure": {"outcome": "departed", "departed_at": left}}
    case = await driver.advance(await driver.refer(body), forms=forms)
    assert (case["status"], case["closure_reason"]) == ("closed", "reintegration_completed")
    handle = stack.temporal.get_workflow_handle(case["case_id"])
    await handle.result()
    history = await handle.fetch_history()
    assert history.events[0].workflow_execution_started_event_attributes.workflow_type.name == "AvrrCase"
    await _replayer().replay_workflow(history)
    if os.environ.get("ITINERA_RECORD_HISTORIES"):
        name = HISTORIES / f"avrr_full_case_{RECORDING}.json"
        name.write_text(json.dumps({"workflow_id": case["case_id"], "history": json.loads(history.to_json())},
                                   indent=1))


async def test_a_full_family_reunification_case_of_this_version_replays(stack, http: httpx.AsyncClient,
                                                                       driver: CaseDriver) -> None:
    """A family reunification case (on the generic ProgrammeCase workflow) from the application
    to the arrival with the sponsor, with a missed embassy appointment booked again (record it
    alone with ``-k family``)."""
    from tests.test_family_reunification import family

    case = await driver.refer(family())
    case = await driver.advance(case, Stage.EMBASSY_APPOINTMENT)
    [outcome] = [t for t in (await driver.complete(case["open_tasks"][0], "IST", case=case))["open_tasks"]
                 if t["task_type"] == "record_appointment_outcome"]
    await driver.complete(outcome, "IST", form={"outcome": "missed", "missed_reason": "The border was closed."})
    case = await driver.advance((await http.get(f"/api/v1/cases/{case['case_id']}",
                                                headers=await driver.login("fatma"))).json())
    assert (case["status"], case["closure_reason"]) == ("closed", "arrived")
    handle = stack.temporal.get_workflow_handle(case["case_id"])
    await handle.result()
    history = await handle.fetch_history()
    assert history.events[0].workflow_execution_started_event_attributes.workflow_type.name == "ProgrammeCase"
    await _replayer().replay_workflow(history)
    if os.environ.get("ITINERA_RECORD_HISTORIES"):
        name = HISTORIES / "family_reunification_full_case.json"
        name.write_text(json.dumps({"workflow_id": case["case_id"], "history": json.loads(history.to_json())},
                                   indent=1))


@workflow.defn(name="ResettlementCase", sandboxed=False)
class _ChangedWithoutAPatch(ResettlementCaseWorkflow):
    """A deliberately non-deterministic change: a timer before everything the case did."""

    @workflow.run
    async def run(self, input: CaseWorkflowInput) -> CaseState:
        await workflow.sleep(timedelta(seconds=1))
        return await self._run(input)


async def test_the_guard_fails_a_change_that_is_not_behind_a_patch() -> None:
    """The replay suite is a guard only if it can fail: a change to the command order that is
    not behind ``workflow.patched`` breaks the replay of every recorded history."""
    path = HISTORIES / f"resettlement_full_case_2_members_{RECORDING}.json"
    data = json.loads(path.read_text())
    history = WorkflowHistory.from_json(data["workflow_id"], data["history"])
    changed = Replayer(workflows=[_ChangedWithoutAPatch], data_converter=data_converter(stack_settings()))
    with pytest.raises(NondeterminismError):
        await changed.replay_workflow(history)
