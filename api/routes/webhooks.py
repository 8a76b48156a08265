"""Outbound webhook subscriptions (issue 14), for supervisors of the offices they cover.

A subscription names a URL, the event types (``case.stage_changed``, ``case.arrived``,
``case.health_assessed``) and the offices it receives; health details (the health
assessment events, a closure for medical reasons) only when ``include_health_data`` is
set, which ``case.health_assessed`` requires.  The signing secret is shown once, when the
subscription is made or its secret rotated (the old one keeps signing alongside for
``ROTATION_GRACE_SECONDS``).  Delivery: ``webhook_dispatch.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api import policy
from api.auth import CurrentPrincipal, Principal
from api.deps import Db
from api.errors import ERROR_RESPONSES, ApiError
from domain.model import OFFICE_PATTERN, Role
from domain.text import Line, ShowsRules
from store import webhooks as store
from stored_secrets import SecretSealer
from webhook_targets import TargetRefused, check_target, networks

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"],
                   responses={401: ERROR_RESPONSES[401], 403: ERROR_RESPONSES[403]})

ROTATION_GRACE_SECONDS = 24 * 3600
EventType = Literal["case.stage_changed", "case.arrived", "case.health_assessed"]


class SubscriptionRequest(ShowsRules):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000, pattern=r"^https?://[^\s\x00-\x1f\x7f]+$",
                     description="http(s) URL that receives a POST per event (no spaces or control characters; a "
                     "port, when given, 1-65535); its host must "
                     "resolve to public addresses only (no private, loopback or link-local ones, unless the "
                     "deployment allows that network: ITINERA_WEBHOOK_ALLOWED_NETWORKS).")
    description: Line(max_length=200, min_length=0) | None = Field(  # type: ignore[valid-type]
        default=None, description="What the subscription is for, in a few words (at most 200 characters).")
    event_types: list[EventType] = Field(min_length=1, max_length=3)
    offices: list[Annotated[str, Field(pattern=OFFICE_PATTERN)]] = Field(min_length=1, max_length=20)
    include_health_data: bool = Field(default=False, description="Send health details (health assessment events, a "
                                                                 "closure for medical reasons). Off by default.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
            raise ValueError("must be an http or https URL with a host and without credentials")
        try:
            parts.port  # noqa: B018 - urlsplit checks the port only when asked
            httpx.URL(value)  # what the dispatcher will send to: refused here, not at the first event
        except (ValueError, httpx.InvalidURL) as exc:
            raise ValueError(f"is not a URL that can be sent to: {exc}") from None
        return value


class SubscriptionView(BaseModel):
    subscription_id: str
    url: str
    description: str | None
    event_types: list[str]
    offices: list[str]
    include_health_data: bool
    active: bool
    created_by: str
    created_at: datetime
    rotated_at: datetime | None
    previous_secret_until: datetime | None = Field(description="Until then the rotated-out secret signs too.")


class SubscriptionWithSecret(SubscriptionView):
    secret: str = Field(description="The HMAC-SHA256 signing key: shown only now. See the README for verifying.")


class AttemptView(BaseModel):
    attempt: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryView(BaseModel):
    delivery_id: int
    event_id: str
    event_type: str
    case_id: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    created_at: datetime
    attempt_log: list[AttemptView]


def _sealer(http: Request) -> SecretSealer:
    """Seals signing secrets at rest (stored_secrets.py) with the deployment's payload keys."""
    return SecretSealer.from_settings(http.app.state.settings)


async def _check_url(url: str, http: Request) -> None:
    try:
        await check_target(url, networks(http.app.state.settings.webhook_allowed_networks), unresolved_ok=True)
    except TargetRefused as exc:
        raise ApiError(422, "webhook_url_refused", f"the URL {exc}",
                       [{"field": "body.url", "reason": str(exc), "allowed": "a URL whose host resolves to public "
                                                                             "addresses only"}]) from None


def _view(sub: store.Subscription) -> SubscriptionView:
    return SubscriptionView(**sub.__dict__)


async def _own(db: Db, principal: Principal, subscription_id: str) -> store.Subscription:
    policy.require_role(principal, {Role.SUPERVISOR}, "manage webhook subscriptions")
    sub = await store.get_subscription(db, subscription_id) if len(subscription_id) <= 64 else None
    if sub is None or not set(sub.offices) <= set(principal.offices):
        raise ApiError(404, "subscription_not_found", f"no webhook subscription {subscription_id}")
    return sub


@router.post("/subscriptions", status_code=201, response_model=SubscriptionWithSecret,
             summary="Subscribe a URL to case events of your offices (the secret is shown once)",
             responses={422: ERROR_RESPONSES[422]})
async def create(request: SubscriptionRequest, principal: CurrentPrincipal, db: Db,
                 http: Request) -> SubscriptionWithSecret:
    policy.require_role(principal, {Role.SUPERVISOR}, "manage webhook subscriptions")
    outside = [o for o in request.offices if o not in principal.offices]
    if outside:
        raise ApiError(403, "forbidden", f"you may subscribe only to your offices ({', '.join(principal.offices)})",
                       [{"field": "body.offices", "reason": "not one of your offices", "allowed": principal.offices}])
    if "case.health_assessed" in request.event_types and not request.include_health_data:
        raise ApiError(422, "health_data_not_allowed", "case.health_assessed is health data: set include_health_data",
                       [{"field": "body.include_health_data", "reason": "required for case.health_assessed",
                         "allowed": [True]}])
    await _check_url(request.url, http)
    sub, secret = await store.create_subscription(
        db, url=request.url, description=request.description, event_types=sorted(set(request.event_types)),
        offices=sorted(set(request.offices)), include_health_data=request.include_health_data,
        created_by=principal.username, sealer=_sealer(http))
    return SubscriptionWithSecret(**sub.__dict__, secret=secret)


@router.get("/subscriptions", response_model=list[SubscriptionView],
            summary="Webhook subscriptions of your offices (no secrets)")
async def list_all(principal: CurrentPrincipal, db: Db) -> list[SubscriptionView]:
    policy.require_role(principal, {Role.SUPERVISOR}, "manage webhook subscriptions")
    return [_view(s) for s in await store.list_subscriptions(db, principal.offices)]


@router.get("/subscriptions/{subscription_id}", response_model=SubscriptionView, responses={404: ERROR_RESPONSES[404]},
            summary="One webhook subscription (no secret)")
async def get_one(subscription_id: str, principal: CurrentPrincipal, db: Db) -> SubscriptionView:
    return _view(await _own(db, principal, subscription_id))


@router.post("/subscriptions/{subscription_id}/rotate", response_model=SubscriptionWithSecret,
             responses={404: ERROR_RESPONSES[404]},
             summary="A new signing secret (shown once); the old one signs alongside for 24 hours")
async def rotate(subscription_id: str, principal: CurrentPrincipal, db: Db, http: Request) -> SubscriptionWithSecret:
    await _own(db, principal, subscription_id)
    sub, secret = await store.rotate_secret(db, subscription_id, ROTATION_GRACE_SECONDS, _sealer(http))
    return SubscriptionWithSecret(**sub.__dict__, secret=secret)


@router.post("/subscriptions/{subscription_id}/deactivate", response_model=SubscriptionView,
             responses={404: ERROR_RESPONSES[404]}, summary="Stop deliveries (pending ones are not sent)")
async def deactivate(subscription_id: str, principal: CurrentPrincipal, db: Db) -> SubscriptionView:
    await _own(db, principal, subscription_id)
    return _view(await store.deactivate(db, subscription_id))


@router.get("/subscriptions/{subscription_id}/deliveries", response_model=list[DeliveryView],
            responses={404: ERROR_RESPONSES[404]}, summary="Deliveries, newest first, each with every attempt")
async def deliveries(subscription_id: str, principal: CurrentPrincipal, db: Db,
                     before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
                     limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[Any]:
    await _own(db, principal, subscription_id)
    return await store.deliveries(db, subscription_id, before=before, limit=limit)
