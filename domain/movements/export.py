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

from domain.movements.model import (
    NEEDS_MEDICAL_ESCORT,
    NEEDS_OPERATIONAL_ESCORT,
    ManifestEntry,
    ManifestMember,
    MovementState,
)

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


IDENTITY = ("full_name", "date_of_birth", "sex", "nationality")


def current_manifest(state: MovementState, identities: Mapping[str, Mapping[str, Any]]) -> list[ManifestEntry]:
    """The manifest with each person's identity (``IDENTITY``) as their case has it now
    (``identities``: member id -> those fields, from the case read model; the API's
    ``readmodel.current_members``), the manifest's copy where the case has no value.  The
    manifest took each person's identity when the case joined it (and again at the lock), but a
    caseworker's correction made since (the spelling on the passport, a date of birth) is what
    the airline, the receiving country and the movement officer must see.  The seats (a lap
    infant) stay as the manifest counted them: the booking's (``rules.lap_or_seat_problems``
    names a person whose corrected date of birth no longer fits them)."""
    entries = []
    for entry in state.manifest:
        members = []
        for m in entry.members:
            now = identities.get(m.member_id) or {}
            changed = {k: now[k] for k in IDENTITY if now.get(k) and now[k] != getattr(m, k)}
            members.append(ManifestMember.model_validate({**m.model_dump(), **changed}) if changed else m)
        entries.append(entry.model_copy(update={"members": members}))
    return entries


def manifest_rows(state: MovementState, documents: dict[str, str],
                  identities: Mapping[str, Mapping[str, Any]] | None = None) -> list[ManifestRow]:
    """``documents``: member id -> the number of the member's visa or travel document.

    ``identities``: member id -> the person's identity as their case has it now
    (``current_manifest``): where given, the case wins over the manifest's copy; a name the
    airline does not find in the passport can cost the person the flight.  The seat column
    stays as the manifest counted it (the booking's seats)."""
    rows: list[ManifestRow] = []
    for entry in current_manifest(state, identities or {}):
        for m in entry.members:
            boarded = m.boarded if m.boarded is not None else entry.boarded
            rows.append(ManifestRow(
                row=len(rows) + 1, kind="passenger", case_id=entry.case_id, member_id=m.member_id,
                full_name=m.full_name, date_of_birth=m.date_of_birth.isoformat(),
                sex=m.sex or "", nationality=m.nationality or "",
                document_number=documents.get(m.member_id, ""), seat=_seat(m),
                escort=_escort(m, state), boarded="" if boarded is None else ("yes" if boarded else "no")))
    for escort in state.details.escorts:
        rows.append(ManifestRow(row=len(rows) + 1, kind="escort", full_name=escort.name, escort=escort.kind))
    return rows
