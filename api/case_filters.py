"""The case list's filters by country and by date: the cases behind a figure.

Every number of the reports (``api/reports.py``) links to ``GET /api/v1/cases`` with query
parameters that list the cases it counts; these are the ones beyond the list's own stage,
status, office, programme and priority.  The UI's case list takes them too.

Times are instants (ISO 8601 with an offset): a report's week or month starts at midnight in
the offices' time zone, and its links name that instant.  ``*_since`` is inclusive,
``*_before`` exclusive.  Arrival is a date (``arrived_on``), so its bounds are dates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field

from domain.model import Country

FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)


def _instant_in_range(moment: datetime) -> datetime:
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not FIRST_DAY <= utc.date() <= LAST_DAY:
        raise ValueError(f"must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}")
    return moment


def _day_in_range(day: date) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}")
    return day


Instant = Annotated[AwareDatetime, AfterValidator(_instant_in_range)]
Day = Annotated[date, AfterValidator(_day_in_range)]

# The cases column each date filter reads.
_INSTANTS = {"referred": "c.referred_at", "departed": "c.departed_at", "closed": "c.closed_at"}


class CaseListFilter(BaseModel):
    destination: Country | None = Field(default=None, description="Destination country (ISO 3166 alpha-2).")
    origin: Country | None = Field(default=None, description="Country of origin (AVRR; ISO 3166 alpha-2).")
    nationality: Country | None = Field(default=None, description="Cases with a member of this nationality.")
    referred_since: Instant | None = None
    referred_before: Instant | None = None
    departed_since: Instant | None = None
    departed_before: Instant | None = None
    closed_since: Instant | None = None
    closed_before: Instant | None = None
    arrived_since: Day | None = None
    arrived_before: Day | None = None

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

    def inverted(self) -> list[dict[str, str]]:
        """The ranges that hold nothing because they end before they begin (``*_since`` not
        before ``*_before``): said, not answered with an empty list that reads as "no cases"."""
        problems = []
        for kind in (*_INSTANTS, "arrived"):
            since, before = getattr(self, f"{kind}_since"), getattr(self, f"{kind}_before")
            if since is not None and before is not None and since >= before:
                problems.append({"field": f"query.{kind}_before",
                                 "reason": f"{before.isoformat()} is not after {kind}_since ({since.isoformat()}): "
                                           "the range holds nothing",
                                 "allowed": f"a moment after {kind}_since"})
        return problems

    def query(self) -> dict[str, str]:
        """The set filters as query parameters."""
        return {k: (v.isoformat() if hasattr(v, "isoformat") else str(v))
                for k, v in self.model_dump().items() if v is not None}
