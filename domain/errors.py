"""Why a command was refused, in a form every layer can carry.

The workflow turns a ``CommandRejected`` into a non-retryable ``ApplicationError`` whose
``type`` is the code; the API maps the code to an HTTP status.  The code is the stable,
machine-readable part; the message is for people.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class RejectionCode(StrEnum):
    CASE_NOT_FOUND = "case_not_found"
    TASK_NOT_FOUND = "task_not_found"
    WRONG_STAGE = "wrong_stage"
    TASK_NOT_OPEN = "task_not_open"
    CASE_CLOSED = "case_closed"
    INVALID_FORM = "invalid_form"
    REFERRAL_CONFLICT = "referral_conflict"
    CASE_ON_HOLD = "case_on_hold"
    NOT_ON_HOLD = "not_on_hold"
    FIT_TO_TRAVEL_MISSING = "fit_to_travel_missing"
    MEMBER_NOT_FOUND = "member_not_found"
    FOUR_EYES = "four_eyes"  # a second person must take this decision
    WRONG_PROGRAMME = "wrong_programme"  # e.g. a consent withdrawal on a resettlement case
    CONSENT_NOT_RECONFIRMED = "consent_not_reconfirmed"  # AVRR: no departure without it
    ESCORT_NOT_ARRANGED = "escort_not_arranged"  # AVRR: no booking of an escorted return without the escort
    EXIT_PERMISSION_MISSING = "exit_permission_missing"  # resettlement: no departure without the host's exit permission


class CommandRejected(Exception):
    def __init__(self, code: RejectionCode, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or []


def plain_reason(message: str) -> str:
    """A validator's message as a person reads it: without pydantic's "Value error, " prefix
    (what a rule of ours raises reads as our own sentence)."""
    return message.removeprefix("Value error, ")
