"""Histories of cases recorded from earlier versions of the workflow must keep replaying.

A change to ``workflows/`` that would break a running case (a command issued in a
different order, an activity added before an existing one) fails here; guard such a
change with ``workflow.patched``.  To add a history of the current code, run:

    ITINERA_RECORD_HISTORIES=1 .venv/bin/python -m pytest tests/test_replay.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from demo.driver import CaseDriver
from tests.factories import referral
from temporal_client import data_converter
from tests.conftest import stack_settings
from worker import WORKFLOWS

HISTORIES = Path(__file__).parent / "histories"


def _replayer() -> Replayer:
    # Histories recorded before payload encryption are plaintext and pass through the codec.
    return Replayer(workflows=WORKFLOWS, data_converter=data_converter(stack_settings()))


def _recorded() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


@pytest.mark.parametrize("path", _recorded(), ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path) -> None:
    data = json.loads(path.read_text())
    history = WorkflowHistory.from_json(data["workflow_id"], data["history"])
    await _replayer().replay_workflow(history)


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
        name = HISTORIES / "resettlement_full_case_2_members_clocks.json"
        name.write_text(json.dumps({"workflow_id": case["case_id"], "history": json.loads(history.to_json())},
                                   indent=1))
