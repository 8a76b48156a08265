"""The services a destination country asks of IOM, and what a case keeps of them.

Resettlement countries buy different services ("case processing, health assessments,
pre-departure orientation and movement": not always all).  A *destination profile* says,
per destination country, which of a programme's optional stages apply and whether travel
needs the pre-departure fit-to-travel check.  An admin edits profiles through the API
(``/api/v1/admin/destination-profiles``); every edit is a new version, the old ones kept.

The rule for running cases: a case follows the profile version that was in force when it was
referred.  The referral records it (``CaseReferred.services``), the case's state keeps it
(``CaseState.services``) and the engine judges by that copy alone, so a later edit of the
profile never changes a running case, silently or otherwise; the case page shows which
version the case follows.  Cases referred before profiles existed recorded none and walk
every stage of their programme, as they always did.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from domain.model import Country, Stage

SkippableStage = Literal["health", "orientation"]
"""The stages a destination may take on itself; the others (referral, interview, visa,
movement, arrival) are the programme's core and always apply.  A programme skips a stage
only if it also lists it among its ``optional_stages``."""


class DestinationServicesIn(BaseModel):
    """What an admin sets for a destination country."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"skipped_stages": ["health"], "fit_to_travel_check": True,
         "reason": "Ireland screens resettled refugees' health on arrival"}]})

    skipped_stages: list[SkippableStage] = Field(
        default_factory=list, max_length=2,
        description="Stages the destination runs itself, so its cases skip them: 'health' (the destination "
        "screens health itself) and/or 'orientation' (it orients on arrival). Empty: every stage applies.")
    fit_to_travel_check: bool = Field(
        default=True, strict=True,  # true or false, not "yes" or 1: an admin's typo is refused, named
        description="Whether every member is checked fit to travel in the 72 hours before departure.")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] = Field(
        description="Why the profile is what it is (kept with the version, for the audit).")


class DestinationProfile(DestinationServicesIn):
    """One version of a destination's profile."""

    country: Country
    version: int = Field(ge=1, description="1 for the first profile of the country; +1 for each change.")
    changed_by: str
    changed_at: datetime


class CaseServices(BaseModel):
    """The destination's profile as a case recorded it at referral: what the case follows."""

    model_config = ConfigDict(frozen=True)

    country: str
    version: int
    skipped_stages: tuple[Stage, ...] = ()
    fit_to_travel_check: bool = True

    def skips(self, stage: Stage, *, destination_country: str | None, optional_stages: frozenset[Stage]) -> bool:
        """Whether a case that recorded these services passes ``stage`` by.  Only a stage its
        programme lets destinations run, and only while the case still goes to the country
        whose profile it recorded (a case resubmitted to another destination recorded no
        profile of that one: every stage applies again)."""
        return (self.country == destination_country and stage in self.skipped_stages
                and stage in optional_stages)

    @classmethod
    def of(cls, profile: DestinationProfile) -> CaseServices:
        return cls(country=profile.country, version=profile.version,
                   skipped_stages=tuple(Stage(s) for s in profile.skipped_stages),
                   fit_to_travel_check=profile.fit_to_travel_check)
