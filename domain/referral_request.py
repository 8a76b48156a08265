"""A referral as a request brings it: ``Referral`` with its people's names held to ``PersonName``.

``domain.model.Referral`` is also what the case's workflow receives (``ReferCase``) and
replays, and ``MemberIn`` is how the engine reads a recorded member back for a
correction: both keep ``Line`` names, so what an earlier version accepted stays readable.
A referral typed in now (``POST /api/v1/cases``, the UI's form, an import file, an
integration's message) is validated by these subclasses instead, which refuse invisible
characters in the members' and the sponsor's names (``domain.person_names``) and a date of
birth more than ``OLDEST_AGE_YEARS`` before the day it is entered (``EnteredDateOfBirth``, an
admission rule: the day moves, so a recorded member is never judged by it); every other rule
is ``Referral``'s own, inherited.

The subclasses keep the names of their parents in the JSON Schema (``__qualname__``):
the served schemas stay ``Referral``, ``MemberIn`` and ``Sponsor`` (the parents are not
served), so a client generated from them keeps its types.  ``as_referral`` hands the
workflow the plain ``Referral``.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from domain.model import Country, EnteredDateOfBirth, MemberIn, Referral, Sponsor
from domain.person_names import PersonName


class ReferredMember(MemberIn):
    """A member as a referral names them (``MemberIn`` in the served schema)."""

    __qualname__ = "MemberIn"
    model_config = ConfigDict(title="MemberIn")

    full_name: PersonName() = Field(examples=["Amina Haddad"])  # type: ignore[valid-type]
    date_of_birth: EnteredDateOfBirth = Field(examples=["1988-03-14"])


class SponsorRequest(Sponsor):
    """The sponsor as a referral names them (``Sponsor`` in the served schema)."""

    __qualname__ = "Sponsor"
    model_config = ConfigDict(title="Sponsor")

    full_name: PersonName() = Field(examples=["Yusuf Haddad"])  # type: ignore[valid-type]
    date_of_birth: EnteredDateOfBirth | None = Field(
        default=None, description=Sponsor.model_fields["date_of_birth"].description)


class ReferralRequest(Referral):
    """A referral typed in (``Referral`` in the served schema)."""

    __qualname__ = "Referral"
    model_config = ConfigDict(title="Referral")

    sponsor: SponsorRequest | None = Field(
        default=None, validate_default=True, description=Referral.model_fields["sponsor"].description)
    members: list[ReferredMember] = Field(min_length=1, max_length=30)
    # Checked with the deployment's office -> country setting when the referral is sent
    # (``api.commands``, ``domain.offices.host_country_problem``): said here.
    destination_country: Country | None = Field(
        default=None, description=f"{Referral.model_fields['destination_country'].description} Not the host "
        "country of the referring office (ITINERA_OFFICE_COUNTRIES; the demo offices IST and IZM are in TR): "
        "resettlement and family reunification are to a third country.")
    origin_country: Country | None = Field(
        default=None, description=f"{Referral.model_fields['origin_country'].description} Not the host "
        "country of the referring office (ITINERA_OFFICE_COUNTRIES): the return is from it to another country.")

    def as_referral(self, context: dict[str, Any] | None = None) -> Referral:
        """The plain ``Referral`` the case's workflow takes (the same values; ``context``: the
        validation context this request was validated with, so the same day rules apply)."""
        return Referral.model_validate(self.model_dump(), context=context)
