"""The AvrrCase workflow: an assisted voluntary return and reintegration case.

Same body as resettlement (``workflows.case_workflow``): the same updates (refer,
complete_task, act), recording activity, durable clock and continue-as-new.  The AVRR
flow itself (consent, eligibility, travel documents, reintegration and its monitoring
visits) is the AVRR programme (``domain.programmes.avrr``), chosen by the case's programme.

AVRR arrived after durable clocks and fit-to-travel checks, so every AVRR history runs
under them: no ``workflow.patched`` marker is needed (nor paid for on every command).
"""

from __future__ import annotations

from temporalio import workflow

from workflows.case_workflow import CaseWorkflow

with workflow.unsafe.imports_passed_through():
    from domain.case import CaseState
    from domain.records import CaseWorkflowInput


@workflow.defn(name="AvrrCase")
class AvrrCaseWorkflow(CaseWorkflow):
    @workflow.run
    async def run(self, input: CaseWorkflowInput) -> CaseState | None:
        return await self._run(input)
