"""Log in (embedded default): exchange a username and password for a bearer token; log out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, OAuth2PasswordRequestForm

from api.auth import CurrentPrincipal, Principal, TokenResponse, _bearer, log_in, revoke
from api.deps import Db
from api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1/auth", tags=["auth"],
                   responses={401: ERROR_RESPONSES[401], 429: {"description": "Too many failed logins."}})


@router.post("/token", response_model=TokenResponse, summary="Log in with username and password (OAuth2 form)")
async def issue_token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], db: Db) -> TokenResponse:
    user = await log_in(request, db, form.username, form.password)
    return request.app.state.tokens.issue(user.username, user.role, user.offices, user.token_generation)


@router.get("/me", response_model=Principal, summary="Who you are now (role and offices as your account has them)")
async def me(principal: CurrentPrincipal) -> Principal:
    return principal


@router.post("/logout", status_code=204, response_class=Response,
             summary="Log out: this bearer token is refused from now on, by every API process")
async def logout(request: Request, principal: CurrentPrincipal, db: Db,
                 credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Response:
    assert credentials is not None  # CurrentPrincipal refused a request without one
    await revoke(request, db, credentials.credentials)
    return Response(status_code=204)
