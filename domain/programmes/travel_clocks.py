"""The journey's clocks: clearances and travel documents expire before departure, and the
fit-to-travel checks open 72 hours before the flight."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain import events as ev
from domain.engine import flow
from domain.engine.draft import Draft
from domain.model import Stage
from domain.programmes.registry import profile_of
from domain.state import CaseState


def _expiry_moment(state: CaseState, valid_until: Any, office_day_ends: flow.DayEnds) -> datetime:
    """A clearance valid until a date is valid through that day in the case's office (in UTC
    for cases decided before ``office_day_ends``)."""
    return flow.day_end(state, valid_until, office_day_ends)


def deadlines(state: CaseState, office_day_ends: flow.DayEnds) -> list[datetime]:
    """Until departure: clearance and document expiries, and the opening of the checks."""
    if state.departed_at is not None:
        return []
    moments: list[datetime] = []
    for p in state.progress.values():
        if p.health == "cleared" and p.clearance_valid_until:
            moments.append(_expiry_moment(state, p.clearance_valid_until, office_day_ends))
        if p.visa == "issued" and p.visa_valid_until:
            moments.append(_expiry_moment(state, p.visa_valid_until, office_day_ends))
    if state.fit_to_travel_opens_at is not None:
        moments.append(state.fit_to_travel_opens_at)
    return moments


def tick(draft: Draft, *, document_expired: type[Any], document_expiry_reason: str) -> None:
    """What expired before departure sends the case back; the checks open on their timer."""
    now = draft.ctx.now
    state = draft.s
    if state.departed_at is not None:
        return
    rule = draft.ctx.office_day_ends
    expired = [m for m, p in state.progress.items()
               if p.health == "cleared" and p.clearance_valid_until
               and _expiry_moment(state, p.clearance_valid_until, rule) <= now]
    if expired:
        draft.emit(ev.MedicalClearanceExpired(member_ids=expired, expired_on=now.date()))
        _back_for_expiry(draft, Stage.HEALTH, "a medical clearance expired before departure")
    documents = [m for m, p in draft.s.progress.items()
                 if p.visa == "issued" and p.visa_valid_until
                 and _expiry_moment(draft.s, p.visa_valid_until, rule) <= now]
    if documents:
        draft.emit(document_expired(member_ids=documents, expired_on=now.date()))
        _back_for_expiry(draft, Stage.VISA, document_expiry_reason)
    opens_at = draft.s.fit_to_travel_opens_at
    if opens_at is not None and opens_at <= now and draft.s.stage == Stage.MOVEMENT:
        flow.open_step(draft, Stage.MOVEMENT)


def _back_for_expiry(draft: Draft, stage: Stage, reason: str) -> None:
    order = profile_of(draft.s).rank
    if order(draft.s.stage) > order(stage):
        flow.return_to(draft, stage, reason=reason)
    if draft.s.stage == stage:
        flow.open_step(draft, stage)
