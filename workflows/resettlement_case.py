"""The ResettlementCase workflow: a refugee resettlement case, one workflow per case.

The workflow body is shared with AVRR (``workflows.case_workflow``); what is
resettlement's own here is the workflow type's name and the patch its rules run under.
"""

from __future__ import annotations

from temporalio import workflow

from workflows.case_workflow import CaseWorkflow

with workflow.unsafe.imports_passed_through():
    from domain.case import CaseState
    from domain.records import CaseWorkflowInput

# One patch for one deployment: durable clocks and fit-to-travel checks arrived together.
# Histories recorded before it (tests/histories/resettlement_full_case_2_members.json)
# replay without either.  Each patch id costs a marker and a search-attribute event.
CLOCKS_AND_FIT_TO_TRAVEL_PATCH = "clocks-and-fit-to-travel-v1"


@workflow.defn(name="ResettlementCase")
class ResettlementCaseWorkflow(CaseWorkflow):
    @workflow.run
    async def run(self, input: CaseWorkflowInput) -> CaseState | None:
        return await self._run(input)

    def _clock_rules(self) -> bool:
        return workflow.patched(CLOCKS_AND_FIT_TO_TRAVEL_PATCH)
