"""The case's Temporal search attributes: what operators filter workflows by, never personal data.

``temporal workflow list --query "Stage='visa' AND Office='IST'"`` lists the Istanbul cases in
the visa stage.  The embedded dev server registers these keys when it starts
(``embedded/temporal_server.py``); a Temporal cluster needs them created once:
``temporal operator search-attribute create --name Stage --type Keyword`` (and the others).
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

with workflow.unsafe.imports_passed_through():
    from domain.state import CaseState

PROGRAMME = SearchAttributeKey.for_keyword("Programme")
STAGE = SearchAttributeKey.for_keyword("Stage")
OFFICE = SearchAttributeKey.for_keyword("Office")
PRIORITY = SearchAttributeKey.for_keyword("Priority")
CASE_STATUS = SearchAttributeKey.for_keyword("CaseStatus")
KEYS = (PROGRAMME, STAGE, OFFICE, PRIORITY, CASE_STATUS)


def registration_args() -> list[str]:
    """``temporal server start-dev`` arguments that register the keys."""
    return [arg for key in KEYS for arg in ("--search-attribute", f"{key.name}=Keyword")]


def of_case(state: CaseState) -> dict[str, str]:
    """The case's search attributes: programme, stage, office, priority, status."""
    return {PROGRAMME.name: str(state.programme), STAGE.name: state.stage.value, OFFICE.name: state.office,
            PRIORITY.name: state.priority.value, CASE_STATUS.name: state.status.value}


def published(attributes: TypedSearchAttributes) -> dict[str, str]:
    """The case's attributes a run already carries (a continue-as-new carries its run's)."""
    return {key.name: value for key in KEYS if (value := attributes.get(key)) is not None}


def changes(before: dict[str, str], after: dict[str, str]) -> list[SearchAttributePair[str]]:
    return [SearchAttributePair(key, after[key.name]) for key in KEYS if before.get(key.name) != after[key.name]]
