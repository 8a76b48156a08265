"""The raw Temporal history of a case's workflow, for supervisors: what the engine itself did.

Every run of the workflow (a long case continues-as-new), oldest first, each event with its
id, type and time, and its payloads decoded through the payload codec (the keys the workers
use), so a supervisor reads the inputs and results as JSON instead of ciphertext.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC
from typing import Any

from google.protobuf.json_format import MessageToDict
from pydantic import AwareDatetime, BaseModel, Field
from temporalio.api.common.v1 import Payload
from temporalio.client import Client


class HistoryEvent(BaseModel):
    run_id: str
    event_id: int
    event_type: str = Field(description="e.g. WorkflowExecutionUpdateAccepted, ActivityTaskScheduled, TimerStarted")
    event_time: AwareDatetime
    attributes: dict[str, Any] = Field(description="The event's attributes, payloads decoded to their JSON value.")


class WorkflowHistoryPage(BaseModel):
    workflow_id: str
    workflow_type: str
    runs: list[str] = Field(description="The workflow's runs, oldest first (continue-as-new starts a new one).")
    events: list[HistoryEvent]


def _event_type(name: str) -> str:
    return "".join(part.capitalize() for part in name.removeprefix("EVENT_TYPE_").split("_"))


def _payload_dicts(node: Any, found: list[dict[str, Any]]) -> None:
    """Every payload ({"metadata": {"encoding": ...}, "data": ...}) inside a history event's dict."""
    if isinstance(node, dict):
        if "data" in node and isinstance(node.get("metadata"), dict) and "encoding" in node["metadata"]:
            found.append(node)
            return
        for value in node.values():
            _payload_dicts(value, found)
    elif isinstance(node, list):
        for value in node:
            _payload_dicts(value, found)


async def _decode(client: Client, payloads: list[dict[str, Any]]) -> None:
    """Replace each payload dict, in place, by its decoded value."""
    if not payloads:
        return
    raw = [Payload(metadata={k: base64.b64decode(v) for k, v in p["metadata"].items()},
                   data=base64.b64decode(p.get("data", ""))) for p in payloads]
    codec = client.data_converter.payload_codec
    decoded = await codec.decode(raw) if codec is not None else raw
    for target, payload in zip(payloads, decoded):
        encoding = payload.metadata.get("encoding", b"").decode()
        try:
            value: Any = json.loads(payload.data) if encoding.startswith("json") else payload.data.decode()
        except (UnicodeDecodeError, json.JSONDecodeError):
            value = {"encoding": encoding, "bytes": len(payload.data)}
        target.clear()
        target["value"] = value


async def fetch(client: Client, case_id: str, *, limit: int = 2000) -> WorkflowHistoryPage | None:
    """The case's workflow history, every run; None when Temporal has no such workflow."""
    runs = sorted([w async for w in client.list_workflows(f"WorkflowId = '{case_id}'")], key=lambda w: w.start_time)
    if not runs:
        return None
    events: list[HistoryEvent] = []
    for run in runs:
        history = await client.get_workflow_handle(case_id, run_id=run.run_id).fetch_history()
        for event in history.events:
            if len(events) >= limit:
                break
            data = MessageToDict(event)
            attributes = next((v for k, v in data.items() if k.endswith("Attributes")), {})
            found: list[dict[str, Any]] = []
            _payload_dicts(attributes, found)
            await _decode(client, found)
            events.append(HistoryEvent(
                run_id=run.run_id, event_id=event.event_id, event_type=_event_type(data.get("eventType", "")),
                event_time=event.event_time.ToDatetime(tzinfo=UTC),
                attributes=attributes))
    return WorkflowHistoryPage(workflow_id=case_id, workflow_type=runs[-1].workflow_type, runs=[r.run_id for r in runs],
                               events=events)
