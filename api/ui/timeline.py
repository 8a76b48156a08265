"""A case's event history as people read it, with health details kept to medical staff.

Health details are special-category personal data: only medical officers (who record
them) and supervisors (who answer for the case) may read them.  Everyone else sees that
an assessment happened, when, its outcome and how long the clearance is valid - what
they need to plan a departure - and that some details are withheld.  The rule is an
allow-list, so a field added to the health form later stays hidden until someone
decides otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from api.auth import Principal
from api.schemas import CaseDetail, EventView
from api.ui.formatting import display_value, event_title, fmt_due, humanize
from api.policy import redact_events
from domain.model import Stage
from domain.programmes.definition import ProgrammeDefinition
from domain.programmes.registry import definition_of, protection_event_types

_NOT_SHOWN = frozenset({"task_id", "member_id", "type", "referral_fingerprint", "case_id", "members"})


@dataclass
class TimelineEntry:
    seq: int
    type: str
    title: str
    occurred_at: datetime
    actor: str
    details: list[tuple[str, str]] = field(default_factory=list)
    withheld: bool = False
    withheld_protection: bool = False  # what was withheld: protection details, not health ones
    # For the history API (GET /api/v1/cases/{id}/history): the stage around the event, the
    # task it concerns, who acted, and the data this caller may read.
    stage_before: str | None = None
    stage_after: str | None = None
    task_id: str | None = None
    task_type: str | None = None
    event: EventView | None = None
    data: dict[str, Any] = field(default_factory=dict)


def _actor(event: EventView) -> str:
    if event.actor.kind == "system":
        return "Itinera (automatic)"
    role = humanize(event.actor.role) if event.actor.role else event.actor.kind
    return f"{event.actor.id} ({role.lower()})"


def _title(programme: ProgrammeDefinition, task_type: str) -> str:
    spec = programme.task_specs.get(task_type)
    return spec.title if spec is not None else humanize(task_type)


def timeline(events: list[EventView], case: CaseDetail, principal: Principal) -> list[TimelineEntry]:
    """Newest first, each event with the few facts that matter for it (times in the office's zone)."""
    members = {m.member_id: m.full_name for m in case.members}
    zone = case.office_time_zone
    programme = definition_of(case.programme)
    labels = programme.stage_labels
    task_types: dict[str, str] = {}
    entries = []
    stage: str | None = None
    for event, (shown, withheld) in zip(events, redact_events(events, principal), strict=True):
        data = shown.data
        before = stage
        if event.type == "StageEntered":
            stage = data.get("stage", stage)
        details: list[tuple[str, str]] = []
        if event.type == "CaseReferred":
            details = [("Referral", data.get("external_referral_id", "")),
                       ("Priority", humanize(data.get("priority"))),
                       ("Office", data.get("office", "")),
                       ("Destination" if data.get("destination_country") else "Return to",
                        data.get("destination_country") or data.get("origin_country") or ""),
                       ("People", str(len(data.get("members", []))))]
        elif event.type == "StageEntered":
            details = [("Stage", labels[Stage(data["stage"])])]
        elif event.type == "CaseSplit":  # the members who left are no longer on this case: their ids
            details = [("Moved to", data.get("new_case_id", "")), ("People", ", ".join(data.get("member_ids", []))),
                       ("New principal", data.get("new_principal_member_id", "")), ("Reason", data.get("reason", ""))]
        elif event.type == "CaseSplitFrom":
            details = [("Split from", data.get("from_case_id", "")),
                       ("People", ", ".join(members.get(m.get("member_id", ""), m.get("member_id", ""))
                                            for m in data.get("members", []))),
                       ("Stage", labels[Stage(data["stage"])] if data.get("stage") else ""),
                       ("Reason", data.get("reason", ""))]
        elif event.type == "TaskOpened":
            task_types[data["task_id"]] = data["task_type"]
            details = [("Task", _title(programme, data["task_type"]))]
            if data.get("member_id"):
                details.append(("For", members.get(data["member_id"], data["member_id"])))
            details.append(("Due", fmt_due(data.get("due_at"), zone)))
        else:
            task_type = task_types.get(data.get("task_id", ""))
            if task_type is not None:
                details.append(("Task", _title(programme, task_type)))
            if data.get("member_id"):
                details.append(("For", members.get(data["member_id"], data["member_id"])))
            details += [(humanize(k), fmt_due(v, zone) if k == "due_at" else display_value(v, zone))
                        for k, v in data.items() if k not in _NOT_SHOWN and v is not None and v != ""]
        task_id = data.get("task_id")
        task_type = task_types.get(task_id) if isinstance(task_id, str) else None
        entries.append(TimelineEntry(seq=event.seq, type=event.type, title=event_title(event.type),
                                     occurred_at=event.occurred_at, actor=_actor(event),
                                     details=[(k, v) for k, v in details if v], withheld=withheld,
                                     withheld_protection=withheld and _protection(event.type),
                                     stage_before=before, stage_after=stage,
                                     task_id=task_id if isinstance(task_id, str) else None,
                                     task_type=task_type, event=event, data=data))
    entries.reverse()
    return entries


def _protection(event_type: str) -> bool:
    """Whether an event's withheld part is protection details (a screening, the priority it
    raised), which caseworkers read too, rather than health details."""
    return event_type in protection_event_types() or event_type == "PriorityRaised"
