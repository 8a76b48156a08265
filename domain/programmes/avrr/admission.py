"""AVRR's admission rules about who travels how (judged in validators only, so screenings and
escorts recorded before a rule replay as decided): an unaccompanied minor is a member under 18
on the screening day, and a case of minors only is one; an escort meets the need the case knows."""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.engine.draft import invalid, reject
from domain.errors import RejectionCode
from domain.programmes.avrr.tasks import AvrrTask
from domain.programmes.family_reunification.state import ADULT_AGE, age_on
from domain.state import CaseState

# The escorts that meet a need the case knows (explore8: an "operational" escort was arranged for
# a 16-year-old travelling alone; the movement officer does not read the screening's details).
_ESCORTS_FOR = {"unaccompanied_minor": ("child_protection", "social_worker"), "medical_escort": ("medical",)}


def check_the_escort(a: Any, escort_type: str) -> None:
    needs = [need for need, met in (("unaccompanied_minor", "unaccompanied_minor" in a.vulnerabilities),
                                    ("medical_escort", any(a.medical_escort_by_member.values()))) if met]
    allowed = sorted({escort for need in needs for escort in _ESCORTS_FOR[need]})
    if needs and escort_type not in allowed:
        said = {"unaccompanied_minor": "a member under 18 travels alone",
                "medical_escort": "the fitness-to-travel assessment asks for a medical escort"}
        raise invalid(AvrrTask.ARRANGE_ESCORT, "escort_type",
                      f"{' and '.join(said[n] for n in needs)}: a {escort_type.replace('_', ' ')} escort does not "
                      f"meet that; arrange {' or '.join(e.replace('_', ' ') for e in allowed)}")


def check_a_minor(state: CaseState, screened_on: date) -> None:
    """An unaccompanied minor is a member under 18 on the day of the screening."""
    ages = {m.full_name: age_on(m.date_of_birth, screened_on) for m in state.members}
    if all(age >= ADULT_AGE for age in ages.values()):
        listed = ", ".join(f"{name} ({age})" for name, age in ages.items())
        reason = (f"no member is under {ADULT_AGE} on the screening day ({screened_on.isoformat()}): "
                  f"{listed}")
        raise reject(RejectionCode.INVALID_FORM,
                     f"the {AvrrTask.SCREEN_VULNERABILITY} form is invalid: unaccompanied_minor: {reason}",
                     [{"field": "unaccompanied_minor", "reason": reason, "type": "case_rule",
                       "allowed": f"true only when a member is under {ADULT_AGE} on screened_on; else false"}])


def check_no_minor_alone(state: CaseState, screened_on: date) -> None:
    """A case whose every member is under 18 on the screening day returns with no adult of its
    own: the screening cannot say it is no unaccompanied minor, which would let the flow book the
    flight with no escort (the date of birth the case holds outweighs a tick)."""
    ages = {m.full_name: age_on(m.date_of_birth, screened_on) for m in state.members}
    if ages and all(age < ADULT_AGE for age in ages.values()):
        listed = ", ".join(f"{name} ({age})" for name, age in ages.items())
        reason = (f"every member is under {ADULT_AGE} on the screening day ({screened_on.isoformat()}): {listed}; "
                  "a child returning without a parent or guardian is an unaccompanied minor, escorted")
        raise reject(RejectionCode.INVALID_FORM,
                     f"the {AvrrTask.SCREEN_VULNERABILITY} form is invalid: unaccompanied_minor: {reason}",
                     [{"field": "unaccompanied_minor", "reason": reason, "type": "case_rule",
                       "allowed": f"true (with escort_required true) when no member is {ADULT_AGE} or over "
                                  "on screened_on"}])
