"""A case's (or a group's) workflow history as the replay suite keeps it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from temporalio.worker import Replayer

from temporal_client import data_converter
from tests.support.stack import stack_settings
from worker import WORKFLOWS, workflow_runner

HISTORIES = Path(__file__).parent.parent / "histories"


async def replays_and_is_recorded(handle: Any, name: str) -> None:
    """The workflow's history replays against today's workflows; with
    ``ITINERA_RECORD_HISTORIES=1`` it is also written to ``tests/histories/<name>``, which
    ``tests/test_replay.py`` then replays for every later change."""
    history = await handle.fetch_history()
    await Replayer(workflows=WORKFLOWS, data_converter=data_converter(stack_settings()),
                   workflow_runner=workflow_runner(False)).replay_workflow(history)
    if os.environ.get("ITINERA_RECORD_HISTORIES"):
        (HISTORIES / name).write_text(json.dumps({"workflow_id": handle.id, "history": json.loads(history.to_json())},
                                                 indent=1))
