"""Every case workflow type, for the worker to run and the API to start."""

from __future__ import annotations

from temporalio import workflow

from workflows.avrr_case import AvrrCaseWorkflow
from workflows.case_workflow import CaseWorkflow
from workflows.programme_case import ProgrammeCaseWorkflow
from workflows.resettlement_case import ResettlementCaseWorkflow

CASE_WORKFLOWS: tuple[type[CaseWorkflow], ...] = (ResettlementCaseWorkflow, AvrrCaseWorkflow, ProgrammeCaseWorkflow)


def workflow_type_name(cls: type) -> str:
    """The Temporal workflow type a ``@workflow.defn`` class runs as."""
    return workflow._Definition.must_from_class(cls).name
