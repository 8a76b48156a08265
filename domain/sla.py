"""Service levels: how long each stage's tasks may stay open, by case priority.

The one place the SLA table lives.  UNHCR's priorities set the pace: an emergency
submission aims at departure within days, an urgent one within weeks, a normal one
within months.  A task is due ``opened_at + SLA_HOURS[stage][priority]``.

| stage        | emergency | urgent | normal |
|--------------|-----------|--------|--------|
| referral     | 24 h      | 3 d    | 7 d    |
| interview    | 48 h      | 5 d    | 30 d   |
| health       | 48 h      | 7 d    | 30 d   |
| orientation  | 24 h      | 3 d    | 14 d   |
| visa         | 72 h      | 10 d   | 60 d   |
| movement     | 72 h      | 7 d    | 30 d   |
| arrival      | 24 h      | 2 d    | 3 d    |
| reintegration| 7 d       | 14 d   | 30 d   |
| documents    | 72 h      | 14 d   | 60 d   |
| embassy appt | 48 h      | 7 d    | 30 d   |

Reintegration (AVRR only) runs on the returnee's pace at origin: recording the plan,
each delivery, and each monitoring visit (from the day its timer opens it) get weeks.
Documents and the embassy appointment (family reunification only): civil documents and proof
of the relationship come from abroad, so collecting them gets two months.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.model import Priority, Stage

_D = 24
SLA_HOURS: dict[Stage, dict[Priority, int]] = {
    Stage.REFERRAL: {Priority.EMERGENCY: 24, Priority.URGENT: 3 * _D, Priority.NORMAL: 7 * _D},
    Stage.INTERVIEW: {Priority.EMERGENCY: 48, Priority.URGENT: 5 * _D, Priority.NORMAL: 30 * _D},
    Stage.HEALTH: {Priority.EMERGENCY: 48, Priority.URGENT: 7 * _D, Priority.NORMAL: 30 * _D},
    Stage.ORIENTATION: {Priority.EMERGENCY: 24, Priority.URGENT: 3 * _D, Priority.NORMAL: 14 * _D},
    Stage.VISA: {Priority.EMERGENCY: 72, Priority.URGENT: 10 * _D, Priority.NORMAL: 60 * _D},
    Stage.MOVEMENT: {Priority.EMERGENCY: 72, Priority.URGENT: 7 * _D, Priority.NORMAL: 30 * _D},
    Stage.ARRIVAL: {Priority.EMERGENCY: 24, Priority.URGENT: 2 * _D, Priority.NORMAL: 3 * _D},
    Stage.REINTEGRATION: {Priority.EMERGENCY: 7 * _D, Priority.URGENT: 14 * _D, Priority.NORMAL: 30 * _D},
    Stage.DOCUMENTS: {Priority.EMERGENCY: 72, Priority.URGENT: 14 * _D, Priority.NORMAL: 60 * _D},
    Stage.EMBASSY_APPOINTMENT: {Priority.EMERGENCY: 48, Priority.URGENT: 7 * _D, Priority.NORMAL: 30 * _D},
}


def due_at(stage: Stage, priority: Priority, opened_at: datetime) -> datetime:
    return opened_at + timedelta(hours=SLA_HOURS[stage][priority])
