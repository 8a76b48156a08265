"""The task specs every programme includes: the engine's own review and escalation tasks."""

from __future__ import annotations

from domain import forms
from domain.model import Role
from domain.tasks import EngineTask, TaskSpec

ENGINE_TASK_SPECS: dict[str, TaskSpec] = {
    EngineTask.REVIEW_OUTCOME: TaskSpec(EngineTask.REVIEW_OUTCOME, None, "Decide after a negative outcome",
                                        Role.SUPERVISOR, False, forms.ReviewOutcomeForm, escalates=False),
    EngineTask.RESOLVE_ESCALATION: TaskSpec(EngineTask.RESOLVE_ESCALATION, None, "Overdue task: act on the escalation",
                                            Role.SUPERVISOR, False, forms.ResolveEscalationForm, escalates=False,
                                            beside_flow=True),
}
