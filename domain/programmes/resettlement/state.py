"""What a resettlement case knows beyond the journey skeleton, and how its events fold."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from domain import events as ev
from domain.programmes.resettlement import events as resettlement_ev
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


def start(referred: ev.CaseReferred) -> ResettlementData:
    return ResettlementData(orientation_min_age=referred.orientation_min_age)


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
    elif isinstance(event, resettlement_ev.CaseResubmitted):
        state.destination_country = event.destination_country
        state.programme_data = ResettlementData(orientation_min_age=data(state).orientation_min_age,
                                                language=data(state).language)
        state.progress = {m.member_id: MemberProgress() for m in state.members}
        travel.drop_booking(state)


def read_model_data(state: CaseState) -> dict[str, Any]:
    """``cases.programme_data`` of a resettlement case: ``referral_verified`` (bool),
    ``interview`` (pending / accepted / rejected), ``orientation_min_age`` (int or null) and
    ``language`` (ISO 639, or null: what orientation sessions are matched on)."""
    return data(state).model_dump(mode="json")
