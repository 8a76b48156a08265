"""A case's own booking, judged when it is made (admission rules, validators only: a booking
recorded before a rule replays as decided): a flight that has not left, on a day the case can
travel."""

from __future__ import annotations

from datetime import datetime

from domain.engine.draft import invalid, reject
from domain.errors import RejectionCode
from domain.offices import time_zone
from domain.state import CaseState


def check_booking(state: CaseState, task_type: str, departure_at: datetime, now: datetime) -> None:
    if departure_at < now:
        zone = time_zone(state.office_time_zone)
        departs, at = departure_at.astimezone(zone), now.astimezone(zone)
        raise invalid(task_type, "departure_at", f"the flight has already left ({departs:%Y-%m-%d %H:%M} "
                                                 f"{state.office_time_zone}, now {at:%Y-%m-%d %H:%M}), a departure in "
                                                 "the past: book a flight that has not departed yet")
    _check_valid_on_the_day_of_travel(state, task_type, departure_at)


def _check_valid_on_the_day_of_travel(state: CaseState, task_type: str, departure_at: datetime) -> None:
    """A case's own booking, as a group movement's manifest (rules ``travel_document`` and
    ``medical_clearance``): each member's visa or travel document and medical clearance still
    valid on the day of travel, the departure's date on its own clock.  An admission rule
    (validators only): a booking recorded before it replays as decided.  Otherwise the flight
    is booked for a day the case cannot travel, and nothing is open to undo it until the
    fit-to-travel checks open 72 hours before."""
    day = departure_at.date()
    problems = []
    for m in state.members:
        p = state.progress[m.member_id]
        if p.visa_valid_until is not None and p.visa_valid_until < day:
            problems.append(f"{m.full_name}'s visa or travel document is valid until {p.visa_valid_until.isoformat()}")
        if p.clearance_valid_until is not None and p.clearance_valid_until < day:
            problems.append(f"{m.full_name}'s medical clearance is valid until {p.clearance_valid_until.isoformat()}")
    if problems:
        last_day = min(v for m in state.members for v in (state.progress[m.member_id].visa_valid_until,
                                                        state.progress[m.member_id].clearance_valid_until)
                     if v is not None)
        reason = (f"the day of travel {day.isoformat()} is after the validity of what the case travels on: "
                  f"{'; '.join(problems)}: book a flight on or before {last_day.isoformat()}, or renew them first")
        raise reject(RejectionCode.INVALID_FORM, f"the {task_type} form is invalid: departure_at: {reason}",
                     [{"field": "departure_at", "reason": reason, "type": "case_rule",
                       "allowed": f"a departure on or before {last_day.isoformat()}"}])
