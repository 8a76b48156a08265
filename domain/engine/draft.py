"""The events of one decision, collected in order, each applied as it is emitted."""

from __future__ import annotations

from typing import Any

from domain import events as ev
from domain.engine.context import DecisionContext
from domain.errors import CommandRejected, RejectionCode
from domain.state import CaseState


class Draft:
    """Collects the events of one decision, applying each so later ones see its effect."""

    def __init__(self, state: CaseState | None, ctx: DecisionContext, case_id: str):
        self.state = state.model_copy(deep=True) if state is not None else None
        self.ctx = ctx
        self.case_id = case_id
        self.recorded: list[ev.RecordedEvent] = []

    @property
    def s(self) -> CaseState:
        assert self.state is not None
        return self.state

    def emit(self, event: Any) -> None:
        from domain.engine.evolve import apply  # evolve needs the registry; imported late

        recorded = ev.RecordedEvent(
            event_id=self.ctx.new_event_id(),
            case_id=self.case_id,
            seq=(self.state.version if self.state else 0) + 1,
            occurred_at=self.ctx.now,
            actor=self.ctx.actor,
            event=event,
        )
        self.state = apply(self.state, recorded)
        self.recorded.append(recorded)


def reject(code: RejectionCode, message: str, details: list[dict[str, Any]] | None = None) -> CommandRejected:
    return CommandRejected(code, message, details)


def invalid(task_type: str, field: str, reason: str) -> CommandRejected:
    """A completion form that breaks a rule needing the case: which field, and why."""
    return reject(RejectionCode.INVALID_FORM, f"the {task_type} form is invalid: {field}: {reason}",
                  [{"field": field, "reason": reason, "type": "case_rule"}])
