"""Destination profiles: the services each resettlement country asks of IOM (issue 15).

Anyone signed in may read them (they hold no personal data, and caseworkers need to know why a
case skips a stage); only admins change them.  A change adds a version and never reaches a
running case: each case follows the version recorded at its referral
(``domain.destination_services``, where the rule is explained).
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from api import policy
from api.auth import CurrentPrincipal
from api.deps import Db
from api.errors import ERROR_RESPONSES, ApiError
from domain.destination_services import DestinationProfile, DestinationServicesIn
from domain.model import Country, Role
from store import destination_profiles as store

router = APIRouter(prefix="/api/v1/destination-profiles", tags=["destination profiles"], responses={
    401: ERROR_RESPONSES[401], 403: ERROR_RESPONSES[403], 404: ERROR_RESPONSES[404]})


@router.get("", response_model=list[DestinationProfile],
            summary="The current profile of every destination (a destination without one: every stage applies)")
async def list_profiles(principal: CurrentPrincipal, db: Db) -> list[DestinationProfile]:
    return await store.current_profiles(db)


@router.get("/{country}", response_model=list[DestinationProfile],
            summary="Every version of a destination's profile, newest first")
async def profile_versions(country: Country, principal: CurrentPrincipal, db: Db) -> list[DestinationProfile]:
    versions = await store.profile_versions(db, country)
    if not versions:
        raise ApiError(404, "profile_not_found",
                       f"no destination profile for {country}: its cases walk every stage of their programme")
    return versions


@router.put("/{country}", response_model=DestinationProfile, status_code=201,
            summary="Change a destination's profile (admins): a new version, for cases referred from now on")
async def change_profile(country: Country, change: DestinationServicesIn, principal: CurrentPrincipal, db: Db,
                         response: Response) -> DestinationProfile:
    policy.require_role(principal, {Role.ADMIN}, "change destination profiles")
    profile = await store.change_profile(db, country, change, principal.username)
    response.headers["Location"] = f"/api/v1/destination-profiles/{country}"
    return profile
