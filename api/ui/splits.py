"""Splitting a family from the case page: choose who moves, the new case's principal and the
reason; sent through the API's own route function (``perform_split``), so the rules, the
role policy and the audit are the API's.  A refusal shows the case page again with the error
next to the field it names and everything typed kept; a split goes to the new case's page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import ValidationError
from starlette.responses import Response

from api.deps import Commands, Db
from api.errors import ApiError
from api.routes.case_actions import SplitBody, perform_split
from api.ui.cases import render_case_page
from api.ui.i18n import gettext as _
from api.ui.rendering import UiRoute, redirect
from api.ui.security import UI_PREFIX
from api.ui.session import UiPrincipal, flash

router = APIRouter(route_class=UiRoute)
CaseId = Annotated[str, Path(max_length=64)]
_FIELDS = ("member_ids", "principal_member_id", "reason")


def _field_of(detail: dict[str, object]) -> str | None:
    named = str(detail.get("field") or "")
    loc = detail.get("loc")
    if not named and isinstance(loc, list) and loc:
        named = ".".join(str(p) for p in loc)
    return next((f for f in _FIELDS if f in named), None)


@router.post("/cases/{case_id}/split", summary="Split the family into two cases")
async def split(request: Request, case_id: CaseId, principal: UiPrincipal, db: Db, commands: Commands) -> Response:
    posted = await request.form()
    sent = {"member_ids": [str(v)[:80] for v in posted.getlist("member_ids")][:50],
            "principal_member_id": str(posted.get("principal_member_id", ""))[:80],
            "reason": str(posted.get("reason", "")).strip()[:2000]}
    errors: dict[str, list[str]] = {}
    problem: str | None = None
    try:
        body = SplitBody.model_validate(sent)
    except ValidationError as exc:
        for error in exc.errors():
            field = next((str(p) for p in error["loc"] if str(p) in _FIELDS), "reason")
            errors.setdefault(field, []).append(
                _("Choose at least one person who moves.") if field == "member_ids" and not sent["member_ids"]
                else _("Choose the new case's principal.") if field == "principal_member_id"
                else _("Give a reason (up to 2,000 characters).") if field == "reason" else str(error["msg"]))
    else:
        try:
            outcome = await perform_split(db, commands, principal, case_id, body)
        except ApiError as exc:
            if exc.status not in (403, 409, 422):
                raise
            fields = [f for f in (_field_of(d) for d in exc.details or []) if f is not None]
            for field in fields:
                errors.setdefault(field, []).append(exc.message)
            if not fields:
                problem = exc.message
        else:
            response = redirect(f"{UI_PREFIX}/cases/{outcome.new_case.case_id}")
            flash(request, response, "success",
                  _("The family is split: this is the new case, split off %(case)s.", case=case_id))
            return response
    return await render_case_page(request, case_id, principal, db,
                                  split=sent | {"errors": errors, "problem": problem}, status_code=422)
