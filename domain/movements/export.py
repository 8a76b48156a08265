"""The manifest export for airlines and receiving countries: one row per person, then the
escorts.  The CSV and the printable PDF are made from these same rows, so they say the same.

No health details: a lap infant, the seat needs (wheelchair, stretcher, medical escort,
unaccompanied minor; those the case knows and those the movement officer listed, each once)
and the escort they travel with are seating and boarding facts; the clearances, assessments,
treatments and follow-up behind them never appear.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from domain.movements.model import NEEDS_MEDICAL_ESCORT, NEEDS_OPERATIONAL_ESCORT, ManifestMember, MovementState

COLUMNS = ["row", "kind", "case_id", "member_id", "full_name", "date_of_birth", "sex", "nationality",
           "document_number", "seat", "escort", "boarded"]


class ManifestRow(BaseModel):
    row: int
    kind: str  # passenger / escort
    case_id: str = ""
    member_id: str = ""
    full_name: str
    date_of_birth: str = ""
    sex: str = ""
    nationality: str = ""
    document_number: str = ""
    seat: str = "seat"
    escort: str = ""
    boarded: str = ""

    def cells(self) -> list[str]:
        return [str(getattr(self, c)) for c in COLUMNS]


def _seat(m: ManifestMember) -> str:
    base = "lap infant (under 2)" if m.lap_infant else "seat"
    needs = [n.replace("_", " ") for n in m.needs]
    return "; ".join([base, *needs])


def _escort(m: ManifestMember, state: MovementState) -> str:
    """The escort the person's needs call for, named when the movement has one of that kind."""
    kinds = []
    if NEEDS_MEDICAL_ESCORT & set(m.needs):
        kinds.append("medical")
    if NEEDS_OPERATIONAL_ESCORT & set(m.needs):
        kinds.append("operational")
    named = []
    for kind in kinds:
        names = [e.name for e in state.details.escorts if e.kind == kind]
        named.append(f"{kind}: {', '.join(names)}" if names else f"{kind}: none")
    return "; ".join(named)


def manifest_rows(state: MovementState, documents: dict[str, str],
                  identities: dict[str, Mapping[str, Any]] | None = None) -> list[ManifestRow]:
    """``documents``: member id -> the number of the member's visa or travel document.

    ``identities``: member id -> the person's ``full_name``, ``date_of_birth``, ``sex`` and
    ``nationality`` as their case has them now (the API reads the case read model).  Where
    given, the case wins over the manifest's copy: the manifest took each person's identity when
    the case joined it (and again at the lock), but a caseworker's correction made since (the
    spelling on the passport, a date of birth) is what the airline and the receiving country must
    get; a name they do not find in the passport can cost the person the flight.  The seat column
    stays as the manifest counted it (the booking's seats)."""
    rows: list[ManifestRow] = []
    identities = identities or {}
    for entry in state.manifest:
        for m in entry.members:
            boarded = m.boarded if m.boarded is not None else entry.boarded
            now = identities.get(m.member_id) or {}
            born = now.get("date_of_birth") or m.date_of_birth
            rows.append(ManifestRow(
                row=len(rows) + 1, kind="passenger", case_id=entry.case_id, member_id=m.member_id,
                full_name=now.get("full_name") or m.full_name,
                date_of_birth=born.isoformat() if hasattr(born, "isoformat") else str(born),
                sex=now.get("sex") or m.sex or "", nationality=now.get("nationality") or m.nationality or "",
                document_number=documents.get(m.member_id, ""), seat=_seat(m),
                escort=_escort(m, state), boarded="" if boarded is None else ("yes" if boarded else "no")))
    for escort in state.details.escorts:
        rows.append(ManifestRow(row=len(rows) + 1, kind="escort", full_name=escort.name, escort=escort.kind))
    return rows
