"""Human tasks: which stage opens which task, for whom, who works it, and its form.

A stage is a sequence of steps; each step opens one task type, once for the case or once
per member.  When every task of a step is completed the next step opens; when the last
step of a stage is done the case enters the next stage.  This one table drives the
workflow, the read model's inbox and the UI's labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain import forms
from domain.model import Role, Stage


class TaskType(StrEnum):
    VERIFY_REFERRAL = "verify_referral"
    CONDUCT_INTERVIEW = "conduct_interview"
    ASSESS_HEALTH = "assess_health"
    RECORD_ORIENTATION = "record_orientation"
    RECORD_VISA = "record_visa"
    BOOK_MOVEMENT = "book_movement"
    RECORD_DEPARTURE = "record_departure"
    CONFIRM_ARRIVAL = "confirm_arrival"


@dataclass(frozen=True)
class TaskSpec:
    task_type: TaskType
    stage: Stage
    title: str
    role: Role
    per_member: bool
    form: type[forms.Form]


TASK_SPECS: dict[TaskType, TaskSpec] = {
    spec.task_type: spec
    for spec in (
        TaskSpec(TaskType.VERIFY_REFERRAL, Stage.REFERRAL, "Verify referral and identity documents",
                 Role.CASEWORKER, False, forms.VerifyReferralForm),
        TaskSpec(TaskType.CONDUCT_INTERVIEW, Stage.INTERVIEW, "Conduct interview",
                 Role.CASEWORKER, False, forms.ConductInterviewForm),
        TaskSpec(TaskType.ASSESS_HEALTH, Stage.HEALTH, "Record health assessment",
                 Role.MEDICAL_OFFICER, True, forms.AssessHealthForm),
        TaskSpec(TaskType.RECORD_ORIENTATION, Stage.ORIENTATION, "Record orientation attendance",
                 Role.CASEWORKER, True, forms.RecordOrientationForm),
        TaskSpec(TaskType.RECORD_VISA, Stage.VISA, "Record visa decision",
                 Role.CASEWORKER, True, forms.RecordVisaForm),
        TaskSpec(TaskType.BOOK_MOVEMENT, Stage.MOVEMENT, "Book flight",
                 Role.MOVEMENT_OFFICER, False, forms.BookMovementForm),
        TaskSpec(TaskType.RECORD_DEPARTURE, Stage.MOVEMENT, "Record departure",
                 Role.MOVEMENT_OFFICER, False, forms.RecordDepartureForm),
        TaskSpec(TaskType.CONFIRM_ARRIVAL, Stage.ARRIVAL, "Confirm arrival",
                 Role.CASEWORKER, False, forms.ConfirmArrivalForm),
    )
}

STAGE_STEPS: dict[Stage, tuple[TaskType, ...]] = {
    Stage.REFERRAL: (TaskType.VERIFY_REFERRAL,),
    Stage.INTERVIEW: (TaskType.CONDUCT_INTERVIEW,),
    Stage.HEALTH: (TaskType.ASSESS_HEALTH,),
    Stage.ORIENTATION: (TaskType.RECORD_ORIENTATION,),
    Stage.VISA: (TaskType.RECORD_VISA,),
    Stage.MOVEMENT: (TaskType.BOOK_MOVEMENT, TaskType.RECORD_DEPARTURE),
    Stage.ARRIVAL: (TaskType.CONFIRM_ARRIVAL,),
}
