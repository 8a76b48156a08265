"""The case list's filters by country and by date: the cases behind a figure.

Every number of the reports (``api/reports.py``) links to ``GET /api/v1/cases`` with query
parameters that list the cases it counts; these are the ones beyond the list's own stage,
status, office, programme and priority.  The UI's case list takes them too.

Times are instants (ISO 8601 with an offset): a report's week or month starts at midnight in
the offices' time zone, and its links name that instant.  ``*_since`` is inclusive,
``*_before`` exclusive.  Arrival is a date (``arrived_on``), so its bounds are dates.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field

from domain.model import Country

# The cases column each date filter reads.
_INSTANTS = {"referred": "c.referred_at", "departed": "c.departed_at", "closed": "c.closed_at"}


class CaseListFilter(BaseModel):
    destination: Country | None = Field(default=None, description="Destination country (ISO 3166 alpha-2).")
    origin: Country | None = Field(default=None, description="Country of origin (AVRR; ISO 3166 alpha-2).")
    nationality: Country | None = Field(default=None, description="Cases with a member of this nationality.")
    referred_since: AwareDatetime | None = None
    referred_before: AwareDatetime | None = None
    departed_since: AwareDatetime | None = None
    departed_before: AwareDatetime | None = None
    closed_since: AwareDatetime | None = None
    closed_before: AwareDatetime | None = None
    arrived_since: date | None = None
    arrived_before: date | None = None

    def clauses(self) -> list[tuple[str, Any]]:
        """(clause with one ``{}`` placeholder, value) for each filter set."""
        out: list[tuple[str, Any]] = []
        if self.destination:
            out.append(("c.destination_country = {}", self.destination))
        if self.origin:
            out.append(("c.origin_country = {}", self.origin))
        if self.nationality:
            out.append(("EXISTS (SELECT 1 FROM case_members m WHERE m.case_id = c.case_id AND m.nationality = {})",
                        self.nationality))
        for kind, column in (*_INSTANTS.items(), ("arrived", "c.arrived_on")):
            since, before = getattr(self, f"{kind}_since"), getattr(self, f"{kind}_before")
            if since is not None:
                out.append((f"{column} >= {{}}", since))
            if before is not None:
                out.append((f"{column} < {{}}", before))
        return out

    def query(self) -> dict[str, str]:
        """The set filters as query parameters."""
        return {k: (v.isoformat() if hasattr(v, "isoformat") else str(v))
                for k, v in self.model_dump().items() if v is not None}
