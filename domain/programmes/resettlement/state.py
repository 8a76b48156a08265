"""What a resettlement case knows beyond the journey skeleton, and how its events fold."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from domain import events as ev
from domain.programmes.resettlement import events as resettlement_ev
from domain.programmes import exit_permission
from domain.programmes.exit_permission import ExitPermission
from domain.programmes import travel
from domain.state import CaseState, MemberProgress


class ResettlementData(BaseModel):
    """``CaseState.programme_data`` of a resettlement case."""

    referral_verified: bool = False
    interview: Literal["pending", "accepted", "deferred", "rejected"] = "pending"
    # The orientation age rule the case was referred under (None: everyone attends; see
    # ``orientation.py``), and the language its orientation is held in: the interview's
    # interpreter language, when one was used (group sessions are matched on it).
    orientation_min_age: int | None = None
    language: str | None = None
    # The exit permission the host state requires (a term of the referral; None: none), and
    # the one recorded (``exit_permission.py``).
    exit_permission_required: str | None = None
    exit_permission: ExitPermission | None = None


def start(referred: ev.CaseReferred) -> ResettlementData:
    return ResettlementData(orientation_min_age=referred.orientation_min_age,
                            exit_permission_required=referred.exit_permission)


def data(state: CaseState) -> ResettlementData:
    return state.data(ResettlementData)


def apply(state: CaseState, event: Any, at: datetime) -> None:
    travel.apply(state, event, at)
    progress = state.progress.get(event.member_id) if getattr(event, "member_id", None) else None
    if isinstance(event, resettlement_ev.ReferralVerified):
        data(state).referral_verified = True
    elif isinstance(event, resettlement_ev.InterviewCompleted):
        data(state).interview = "pending" if event.outcome == "deferred" else event.outcome
        if event.interpreter_language:
            data(state).language = event.interpreter_language
    elif isinstance(event, resettlement_ev.HealthAssessmentRecorded) and progress is not None:
        progress.health = event.outcome
        progress.clearance_valid_until = event.clearance_valid_until
        progress.follow_up_needed = event.follow_up_needed
    elif isinstance(event, resettlement_ev.OrientationAttended) and progress is not None:
        progress.orientation = "attended"
    elif isinstance(event, resettlement_ev.VisaIssued) and progress is not None:
        progress.visa = "issued"
        progress.visa_valid_until = event.valid_until
    elif isinstance(event, resettlement_ev.VisaRefused) and progress is not None:
        progress.visa = "refused"
    elif isinstance(event, exit_permission.ExitPermissionRecorded):
        data(state).exit_permission = exit_permission.recorded(event)
    elif isinstance(event, resettlement_ev.CaseResubmitted):
        state.destination_country = event.destination_country
        # What the host state requires and granted is about leaving it, wherever to: kept.
        state.programme_data = ResettlementData(orientation_min_age=data(state).orientation_min_age,
                                                language=data(state).language,
                                                exit_permission_required=data(state).exit_permission_required,
                                                exit_permission=data(state).exit_permission)
        state.progress = {m.member_id: MemberProgress() for m in state.members}
        travel.drop_booking(state)


def read_model_data(state: CaseState) -> dict[str, Any]:
    """``cases.programme_data`` of a resettlement case: ``referral_verified`` (bool),
    ``interview`` (pending / accepted / rejected), ``orientation_min_age`` (int or null) and
    ``language`` (ISO 639, or null: what orientation sessions are matched on); for a case whose
    host state requires an exit permission, ``exit_permission_required`` (its name) and
    ``exit_permission`` (``reference``, ``issued_on``, ``valid_until``, ``issuing_authority``;
    null until recorded)."""
    shown = data(state).model_dump(mode="json")
    if shown["exit_permission_required"] is None:  # as before the rule: nothing to show
        del shown["exit_permission_required"], shown["exit_permission"]
    return shown
