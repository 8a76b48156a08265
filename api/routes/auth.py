"""Log in (embedded default): exchange a username and password for a bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from api.auth import CurrentPrincipal, Principal, TokenResponse, log_in
from api.deps import Db
from api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1/auth", tags=["auth"],
                   responses={401: ERROR_RESPONSES[401], 429: {"description": "Too many failed logins."}})


@router.post("/token", response_model=TokenResponse, summary="Log in with username and password (OAuth2 form)")
async def issue_token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], db: Db) -> TokenResponse:
    user = await log_in(request, db, form.username, form.password)
    return request.app.state.tokens.issue(user.username, user.role, user.offices)


@router.get("/me", response_model=Principal, summary="Who the bearer token says you are")
async def me(principal: CurrentPrincipal) -> Principal:
    return principal
