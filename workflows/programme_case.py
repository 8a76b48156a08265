"""The ProgrammeCase workflow: a case of any programme registered without a workflow type of
its own (``ProgrammeDefinition.workflow_type == "ProgrammeCase"``).

The body is every case's (``workflows.case_workflow``); the programme comes from the
referral and then from the case's state.  A programme that needs its own history versioning
(``workflow.patched`` per programme) gets a type of its own, like ``ResettlementCase``.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.case_workflow import CaseWorkflow

with workflow.unsafe.imports_passed_through():
    from domain.case import CaseState
    from domain.programmes.registry import GENERIC_WORKFLOW_TYPE
    from domain.records import CaseWorkflowInput


@workflow.defn(name=GENERIC_WORKFLOW_TYPE)
class ProgrammeCaseWorkflow(CaseWorkflow):
    @workflow.run
    async def run(self, input: CaseWorkflowInput) -> CaseState | None:
        return await self._run(input)
