"""The example completion form of a task, for tests that work cases.

The one place tests get it from: it lives in demo/driver.py for now, and moves to each
programme's task specs (issue 12); then only the import below changes."""

from __future__ import annotations

from datetime import date
from typing import Any

from demo.driver import example_form as _example_form


def example_form(task: dict[str, Any], today: date, *, follow_up: bool = False,
                 case: dict[str, Any] | None = None) -> dict[str, Any]:
    """A valid form for ``task`` (its ``task_type``, ``task_id``, ``programme``), dated
    relative to ``today``; ``case`` (the API's case detail) lets a form refer to the case,
    ``follow_up`` asks for a member who needs medical follow-up."""
    return _example_form(task, today, follow_up=follow_up, case=case)
