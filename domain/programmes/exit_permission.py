"""The host state's exit permission for refugees to leave it (issue 13), for the programmes
whose cases leave a host state: resettlement and family reunification (AVRR's returnees have
their own exit-permission decision, a step of their programme).

Some host states require refugees resettled or reunited from them to hold an exit permission
before they leave; Türkiye, for one, requires the exit permission of its Directorate General of Migration
Management (DGMM).  Which offices' host states do is data, not code: the setting
``ITINERA_EXIT_PERMISSIONS`` (office -> the permission's name; default
``domain.offices.EXIT_PERMISSIONS``: IST and IZM, the DGMM exit permission).

The rule is a term of the referral: the API puts the office's permission in every new
referral's request, the referral event records it (``CaseReferred.exit_permission``), and a
case referred before the rule, or from an office whose host state requires none, has none, so
running cases replay as they ran (tests/test_replay.py).

For a case that requires one:

* the movement stage opens one task per case, "Record the exit permission" (movement officer,
  who handles the exit formalities), beside the stage's flow: the booking opens with it and
  either may be done first;
* the case's departure is refused (``exit_permission_missing``) until the permission is
  recorded, and when it has expired before the day of departure;
* a movement refuses the case on its manifest (rule ``exit_permission``,
  ``domain/movements/rules.py``) while it is not recorded or expires before the day of travel;
* a recorded permission that expires before the case departs opens the task again the day
  after its last valid day (the case's clock), for the renewed one.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.engine import flow
from domain.engine.context import DecisionContext
from domain.engine.draft import Draft, reject
from domain.errors import RejectionCode
from domain.events import TaskCompletion, completed_by, register_event
from domain.forms import DocumentNumber, Form, HappenedOn, NotBefore, not_before_field
from domain.model import Notes, Role, Stage
from domain.programmes import travel
from domain.state import CaseState
from domain.tasks import TaskSpec
from domain.text import Line

class ExitPermissionTask(StrEnum):
    """The task, one type shared by the programmes that have it (each lists it in its
    ``TASK_TYPES``: one member, registered once)."""

    RECORD = "record_host_exit_permission"


TASK = ExitPermissionTask.RECORD
TITLE = "Record the exit permission"
Authority = Line(min_length=2, max_length=200)


class RecordExitPermissionForm(Form):
    """The host state's exit permission of the case (every member leaves on it)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"reference": "DGMM-34-2026-118842", "issued_on": "2026-11-20", "valid_until": "2027-02-20",
         "issuing_authority": "DGMM, Istanbul Provincial Directorate of Migration Management"}]})
    reference: DocumentNumber = Field(description="The permission's reference or number.")
    issued_on: HappenedOn = Field(description="The day the permission was issued.")
    valid_until: Annotated[NotBefore, not_before_field("issued_on")] = Field(
        description="The last day the refugees may leave on it.")
    issuing_authority: Authority = Field(
        description="Who issued it, e.g. the provincial directorate of the DGMM.")
    notes: Notes | None = None


@register_event
@completed_by(RecordExitPermissionForm)
class ExitPermissionRecorded(TaskCompletion):
    type: Literal["ExitPermissionRecorded"] = "ExitPermissionRecorded"
    reference: str
    issued_on: date
    valid_until: date
    issuing_authority: str
    notes: str | None = None


class ExitPermission(BaseModel):
    """The permission as the case keeps it (and the read model shows it)."""

    reference: str
    issued_on: date
    valid_until: date
    issuing_authority: str


# The task as a programme lists it: in the movement stage, the movement officer's (who handles
# the exit formalities), beside the flow (the booking opens with it), for the case (not per member).
TASK_SPEC = TaskSpec(TASK, Stage.MOVEMENT, TITLE, Role.MOVEMENT_OFFICER, False, RecordExitPermissionForm,
                     beside_flow=True)


def referral_terms(command: Any) -> dict[str, Any]:
    """What the referral event records of the rule (nothing when none is required)."""
    required = getattr(command, "exit_permission", None)
    return {"exit_permission": required} if required else {}


def recorded(event: ExitPermissionRecorded) -> ExitPermission:
    return ExitPermission(reference=event.reference, issued_on=event.issued_on, valid_until=event.valid_until,
                          issuing_authority=event.issuing_authority)


def _expires_at(state: CaseState, permission: ExitPermission, office_day_ends: flow.DayEnds) -> datetime:
    # valid through its last day in the case's office, as clearances and visas
    return flow.day_end(state, permission.valid_until, office_day_ends)


def needs_task(state: CaseState, required: str | None, permission: ExitPermission | None, now: datetime,
               office_day_ends: flow.DayEnds) -> bool:
    """Whether the movement stage should open the task now: required, not departed, none
    valid recorded, and no such task open."""
    if required is None or state.departed_at is not None:
        return False
    if permission is not None and _expires_at(state, permission, office_day_ends) > now:
        return False
    return not any(t.task_type == TASK for t in state.open_tasks)


def step(state: CaseState, required: str | None, permission: ExitPermission | None,
         ctx: DecisionContext) -> tuple[str, list[str | None]] | None:
    """The task as a step of the movement stage (beside the flow: the booking opens with it)."""
    return (TASK, [None]) if needs_task(state, required, permission, ctx.now, ctx.office_day_ends) else None


def check_departure(state: CaseState, required: str | None, permission: ExitPermission | None,
                    departed_at: datetime, office_day_ends: flow.DayEnds) -> None:
    """No departure without the permission, nor on an expired one."""
    if required is None:
        return
    if permission is None:
        raise reject(RejectionCode.EXIT_PERMISSION_MISSING,
                     f"departure refused: the {required} of case {state.case_id} is not recorded; "
                     f"complete the task '{TITLE}' first")
    if departed_at > _expires_at(state, permission, office_day_ends):
        raise reject(RejectionCode.EXIT_PERMISSION_MISSING,
                     f"departure refused: the {required} of case {state.case_id} ({permission.reference}) was valid "
                     f"until {permission.valid_until.isoformat()}, before the departure; record the renewed one")


def deadlines(state: CaseState, required: str | None, permission: ExitPermission | None,
              office_day_ends: flow.DayEnds) -> list[datetime]:
    """The expiry of the recorded permission, while the case waits in the movement stage with
    no task for it open (once the tick has opened the task, the moment is past and dropped)."""
    if (required is None or permission is None or state.departed_at is not None or state.stage != Stage.MOVEMENT
            or any(t.task_type == TASK for t in state.open_tasks)):
        return []
    return [_expires_at(state, permission, office_day_ends)]


def tick(draft: Draft, required: str | None, permission: ExitPermission | None) -> None:
    """A permission that expired before departure: the task opens again, for the renewed one."""
    state = draft.s
    if state.stage == Stage.MOVEMENT and permission is not None and needs_task(state, required, permission,
                                                                              draft.ctx.now, draft.ctx.office_day_ends):
        flow.open_task(draft, TASK)


def cancel_booking(draft: Draft, command: Any) -> None:
    """The journey's cancellation (``travel.cancel_booking``), which keeps an open exit
    permission task: the permission is about leaving the host state, whichever flight."""
    travel.cancel_booking(draft, command, keep=frozenset(t.task_id for t in draft.s.open_tasks if t.task_type == TASK))
