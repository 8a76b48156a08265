"""Resettlement's orientation age rule: who must attend pre-departure orientation.

The rule (issue 15): every member aged ``ORIENTATION_MIN_AGE`` (12) or over must attend;
younger children come with their family but are not required, so they get no orientation
task and the stage does not wait for them.  Age is counted on the day the stage's next step
is decided, in the case's office time zone (a child who turns 12 while the case waits in
orientation is required from that day on, like on the day of any session they attend).

The rule is a term of the referral: the API puts it in every new referral's request, the
referral event records it (``CaseReferred.orientation_min_age``), and a case referred before
it (a request and an event without it) keeps "everyone attends", so running cases replay as
they ran (tests/test_replay.py).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.state import CaseState

ORIENTATION_MIN_AGE = 12


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def referral_terms(command: Any) -> dict[str, Any]:
    """What the referral event records of the rule (nothing for a request sent before it)."""
    min_age = getattr(command, "orientation_min_age", None)
    return {"orientation_min_age": min_age} if min_age is not None else {}


def required(state: CaseState, member_id: str | None, min_age: int | None, today: date) -> bool:
    """Whether the member must attend orientation (``min_age`` None: everyone must)."""
    if min_age is None:
        return True
    member = next((m for m in state.members if m.member_id == member_id), None)
    return member is None or age_on(member.date_of_birth, today) >= min_age
