"""Administration: integration keys (admins only; admins see no case data).

A key an admin creates is ``pending_approval`` until a supervisor of each of its offices
approves it (``POST /api/v1/integrations/keys/{id}/approve``): minting a key must not be a
way for an admin to write case data.  Revoking works at once, without anyone's approval.
Rotating keeps the old key working beside the new one for an overlap (24 hours unless the
admin says otherwise), as a webhook secret's rotation does: a clinic or an airline cannot
deploy a new key the second it is minted, and a rotation must not cut their messages off.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api import policy
from api.auth import CurrentPrincipal
from api.deps import Db
from api.errors import ERROR_RESPONSES, ApiError
from api.routes.integrations import IntegrationEventType
from domain.model import Office, Role
from store import integrations as store
from store.integrations import IntegrationKey, IssuedKey

router = APIRouter(prefix="/api/v1/admin/integration-keys", tags=["admin"], responses={
    401: ERROR_RESPONSES[401], 403: ERROR_RESPONSES[403], 404: ERROR_RESPONSES[404]})


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "Istanbul clinic", "event_types": ["health_result", "fit_to_travel"], "offices": ["IST"]}]})
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    event_types: list[IntegrationEventType] = Field(min_length=1)
    offices: list[Office] = Field(min_length=1)


# An overlap longer than a week is a second live key, not a rotation.
MAX_OVERLAP_HOURS = 168


def _admin(principal: CurrentPrincipal) -> None:
    policy.require_role(principal, {Role.ADMIN}, "manage integration keys")


@router.post("", response_model=IssuedKey, status_code=201, summary="Create a key (pending until supervisors of its offices approve it); the api_key is shown only now")
async def create(body: NewKey, principal: CurrentPrincipal, db: Db) -> IssuedKey:
    _admin(principal)
    return await store.create_key(db, name=body.name, event_types=[e.value for e in body.event_types],
                                  offices=body.offices, created_by=principal.username)


@router.get("", response_model=list[IntegrationKey], summary="All keys (never their secrets)")
async def list_all(principal: CurrentPrincipal, db: Db) -> list[IntegrationKey]:
    _admin(principal)
    return await store.list_keys(db)


@router.post("/{key_id}/revoke", response_model=IntegrationKey, summary="Revoke a key at once")
async def revoke(key_id: str, principal: CurrentPrincipal, db: Db) -> IntegrationKey:
    _admin(principal)
    key = await store.revoke_key(db, key_id)
    if key is None:
        raise ApiError(404, "key_not_found", f"no integration key {key_id}")
    return key


class RotateKey(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"old_key_valid_hours": 24},
                                                                             {"old_key_valid_hours": 0}]})
    old_key_valid_hours: int = Field(
        24, ge=0, le=MAX_OVERLAP_HOURS, strict=True,
        description=f"How long the old key keeps working beside the new one, so the partner can deploy it "
                    f"(0 to {MAX_OVERLAP_HOURS}; 0: it stops at once, as after a leak; revoking it later ends "
                    "the overlap at once).")


@router.post("/{key_id}/rotate", response_model=IssuedKey, status_code=201, responses={409: ERROR_RESPONSES[409]},
             summary="Replace a key with a new one of the same scopes and approvals; the old one keeps working "
                     "for old_key_valid_hours (24 unless given; 0 for at once)")
async def rotate(key_id: str, principal: CurrentPrincipal, db: Db,
                 body: Annotated[RotateKey | None, Body()] = None) -> IssuedKey:
    _admin(principal)
    overlap = timedelta(hours=(body or RotateKey()).old_key_valid_hours)
    try:
        key = await store.rotate_key(db, key_id, principal.username, overlap)
    except store.KeyRevoked:
        raise ApiError(409, "key_revoked", f"integration key {key_id} is revoked (or was rotated): revoking is final; "
                       "create a new key instead") from None
    if key is None:
        raise ApiError(404, "key_not_found", f"no integration key {key_id}")
    return key
