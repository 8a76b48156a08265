"""Log in (embedded default): exchange a username and password for a bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from api.auth import CurrentPrincipal, Principal, TokenResponse
from api.deps import Db
from api.errors import ERROR_RESPONSES, ApiError
from store.users import authenticate

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses={401: ERROR_RESPONSES[401]})


@router.post("/token", response_model=TokenResponse, summary="Log in with username and password (OAuth2 form)")
async def issue_token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], db: Db) -> TokenResponse:
    user = await authenticate(db, form.username, form.password)
    if user is None:
        raise ApiError(401, "invalid_credentials", "unknown username or wrong password",
                       headers={"WWW-Authenticate": "Bearer"})
    return request.app.state.tokens.issue(user.username, user.role, user.offices)


@router.get("/me", response_model=Principal, summary="Who the bearer token says you are")
async def me(principal: CurrentPrincipal) -> Principal:
    return principal
