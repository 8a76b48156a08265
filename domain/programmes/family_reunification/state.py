"""What a family reunification case knows beyond the journey skeleton (the sponsor, each
member's eligibility and document checklist, the embassy appointment), and how its events fold."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from domain import events as ev
from domain.model import Relationship
from domain.programmes import exit_permission, travel
from domain.programmes.exit_permission import ExitPermission
from domain.programmes.family_reunification import events as fr_ev
from domain.programmes.family_reunification.forms import CHECKLIST
from domain.state import CaseState

ADULT_AGE = 18


def birthday(born: date, years: int) -> date:
    """The day someone born on ``born`` turns ``years`` (29 February: 1 March)."""
    try:
        return born.replace(year=born.year + years)
    except ValueError:
        return date(born.year + years, 3, 1)


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class MemberFile(BaseModel):
    """One joining member: the relationship's eligibility, the documents received, and (a
    child) the 18th birthday the clock watches until the visa decision."""

    eligibility: Literal["pending", "eligible", "not_eligible"] = "pending"
    documents: list[str] = Field(default_factory=list)  # checklist items received
    checklist_recorded: bool = False
    turns_adult_on: date | None = None  # a child's 18th birthday
    age_out: Literal["none", "flagged", "kept"] = "none"

    @property
    def missing(self) -> list[str]:
        return [item for item in CHECKLIST if item not in self.documents]


class Appointment(BaseModel):
    at: datetime
    place: str
    reference: str
    outcome: Literal["booked", "attended"] = "booked"


class FamilyReunificationData(BaseModel):
    """``CaseState.programme_data`` of a family reunification case."""

    sponsor: dict[str, Any] = Field(default_factory=dict)  # as the referral named them
    members: dict[str, MemberFile] = Field(default_factory=dict)
    appointment: Appointment | None = None
    appointments_missed: int = 0
    # The host state's exit permission the family needs to leave it (exit_permission.py):
    # its name when the case's office required one at referral (None: none, or referred
    # before the rule), and the one recorded.
    exit_permission_required: str | None = None
    exit_permission: ExitPermission | None = None


def start(referred: ev.CaseReferred) -> FamilyReunificationData:
    files = {m.member_id: MemberFile(turns_adult_on=birthday(m.date_of_birth, ADULT_AGE)
                                     if m.relationship == Relationship.CHILD else None)
             for m in referred.members}
    return FamilyReunificationData(sponsor=dict(getattr(referred, "sponsor", None) or {}), members=files,
                                   exit_permission_required=getattr(referred, "exit_permission", None))


def data(state: CaseState) -> FamilyReunificationData:
    return state.data(FamilyReunificationData)


def apply(state: CaseState, event: Any, at: datetime) -> None:
    travel.apply(state, event, at)
    f = data(state)
    member = f.members.get(event.member_id) if getattr(event, "member_id", None) else None
    progress = state.progress.get(event.member_id) if getattr(event, "member_id", None) else None
    if isinstance(event, ev.MemberDataCorrected) and member is not None:  # the engine folded it first
        corrected = state.member(event.member_id)
        assert corrected is not None
        member.turns_adult_on = (birthday(corrected.date_of_birth, ADULT_AGE)
                                 if corrected.relationship == Relationship.CHILD else None)
    elif isinstance(event, fr_ev.RelationshipAssessed) and member is not None:
        member.eligibility = event.outcome
    elif isinstance(event, ev.OutcomeReviewed) and event.decision == "reassess":
        for m in f.members.values():
            if m.eligibility == "not_eligible":
                m.eligibility = "pending"
    elif isinstance(event, fr_ev.DocumentsReceived) and member is not None:
        received = {item for item in CHECKLIST if getattr(event, item)}
        member.documents = [item for item in CHECKLIST if item in received or item in member.documents]
        member.checklist_recorded = True
    elif isinstance(event, fr_ev.EmbassyAppointmentBooked):
        f.appointment = Appointment(at=event.appointment_at, place=event.place, reference=event.reference)
    elif isinstance(event, fr_ev.EmbassyAppointmentOutcomeRecorded):
        if event.outcome == "missed":
            f.appointment, f.appointments_missed = None, f.appointments_missed + 1
        elif f.appointment is not None:
            f.appointment.outcome = "attended"
    elif isinstance(event, fr_ev.FamilyVisaIssued) and progress is not None:
        progress.visa, progress.visa_valid_until = "issued", event.valid_until
    elif isinstance(event, fr_ev.FamilyVisaRefused) and progress is not None:
        progress.visa = "refused"
    elif isinstance(event, fr_ev.MinorTurnedEighteen):
        f.members[event.member_id].age_out = "flagged"
    elif isinstance(event, fr_ev.AgeOutReviewed) and member is not None and event.decision == "keep":
        member.age_out = "kept"
    elif isinstance(event, exit_permission.ExitPermissionRecorded):
        f.exit_permission = exit_permission.recorded(event)


def read_model_data(state: CaseState) -> dict[str, Any]:
    """``cases.programme_data`` of a family reunification case.  Keys: ``sponsor`` (as
    referred: full_name, date_of_birth, protection_status, residence_permit, city, contact),
    ``members`` (member_id, eligibility, documents received, missing_documents,
    turns_adult_on, age_out: none / flagged / kept), ``appointment`` (at, place, reference,
    outcome: booked / attended; null when none is booked) and ``appointments_missed``; for a
    case whose host state requires an exit permission, ``exit_permission_required`` (its name)
    and ``exit_permission`` (``reference``, ``issued_on``, ``valid_until``,
    ``issuing_authority``; null until recorded)."""
    f = data(state)
    permission = ({"exit_permission_required": f.exit_permission_required,
                   "exit_permission": f.exit_permission.model_dump(mode="json") if f.exit_permission else None}
                  if f.exit_permission_required is not None else {})  # as before the rule: nothing to show
    return permission | {
        "sponsor": f.sponsor,
        "members": [{"member_id": member_id, "eligibility": m.eligibility, "documents": list(m.documents),
                     "missing_documents": m.missing, "checklist_recorded": m.checklist_recorded,
                     "turns_adult_on": m.turns_adult_on.isoformat() if m.turns_adult_on else None,
                     "age_out": m.age_out} for member_id, m in f.members.items()],
        "appointment": None if f.appointment is None else f.appointment.model_dump(mode="json"),
        "appointments_missed": f.appointments_missed,
    }
