"""The case core's public interface, gathered in one import (``from domain.case import ...``).

The engine itself lives in ``domain.engine`` (one module per concern) and the programmes in
``domain.programmes``; this module only re-exports what callers (workflows, activities, the
API, tests) use.
"""

from __future__ import annotations

from domain.engine.clocks import next_deadline
from domain.engine.commands import (
    AddNote,
    CancelBooking,
    CaseAction,
    Command,
    CompleteTask,
    CorrectMember,
    HoldCase,
    OpenSplitCase,
    ReassignTask,
    ReferCase,
    ResumeCase,
    SplitCase,
    Tick,
    WithdrawCase,
    WithdrawConsent,
)
from domain.engine.context import DecisionContext, RuleFlags, decision_context
from domain.engine.corrections import CORRECTABLE_MEMBER_FIELDS
from domain.engine.decide import decide, referral_fingerprint
from domain.engine.evolve import evolve, fold
from domain.engine.flow import ESCALATION_DUE
from domain.engine.form_validation import validate_form
from domain.programmes.avrr.state import AvrrProgress, MonitoringVisit, PlanItem
from domain.programmes.travel import FIT_TO_TRAVEL_WINDOW
from domain.state import CaseState, MemberProgress, Movement, TaskState

__all__ = [
    "CORRECTABLE_MEMBER_FIELDS", "ESCALATION_DUE", "FIT_TO_TRAVEL_WINDOW", "AddNote", "AvrrProgress", "CancelBooking", "CaseAction",
    "CaseState", "Command", "CompleteTask", "CorrectMember", "DecisionContext", "HoldCase", "MemberProgress",
    "MonitoringVisit", "Movement", "OpenSplitCase", "PlanItem", "ReassignTask", "ReferCase", "ResumeCase", "RuleFlags", "SplitCase", "TaskState",
    "Tick", "WithdrawCase", "WithdrawConsent", "decide", "decision_context", "evolve", "fold", "next_deadline",
    "referral_fingerprint", "validate_form",
]
