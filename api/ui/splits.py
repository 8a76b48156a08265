"""Splitting a family from the case page: choose who moves, the new case's principal and the
reason; sent through the API's own route function (``perform_split``), so the rules, the
role policy and the audit are the API's.  A refusal shows the case page again with the error
next to the field it names and everything typed kept; a split goes to the new case's page.
A refusal of the split's rules is said in the page's language with the people's names (from
the case), not the API's ids and field names; the API's JSON answer is unchanged."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import ValidationError
from starlette.responses import Response

from api import readmodel
from api.deps import Commands, Db
from api.errors import ApiError
from api.routes.case_actions import SplitBody, perform_split
from api.ui.cases import render_case_page
from api.ui.i18n import gettext as _
from api.ui.rendering import UiRoute, redirect
from api.ui.security import UI_PREFIX
from api.ui.session import UiPrincipal, flash
from domain.engine.split import ADULT_AGE

router = APIRouter(route_class=UiRoute)
CaseId = Annotated[str, Path(max_length=64)]
_FIELDS = ("member_ids", "principal_member_id", "reason")


def _field_of(detail: dict[str, object]) -> str | None:
    named = str(detail.get("field") or "")
    loc = detail.get("loc")
    if not named and isinstance(loc, list) and loc:
        named = ".".join(str(p) for p in loc)
    return next((f for f in _FIELDS if f in named), None)


def _said(exc: ApiError, detail: dict[str, Any], sent: dict[str, Any], names: dict[str, str]) -> str:
    """A refusal's detail as a sentence naming the people (``names``: member id -> name), in the
    page's language; one this page does not know, the API's message."""
    def name(member_id: str) -> str:
        return names.get(member_id, member_id)

    reason = str(detail.get("reason") or "")
    principal = str(sent.get("principal_member_id") or "")
    if reason == "must be one of the members who move":
        return _("%(name)s does not move: the new case's principal is one of those who move.", name=name(principal))
    if reason == "must be an adult when an adult moves":
        listed = re.search(r"\(([^()]*)\)\s*$", exc.message)  # the adults who move, by id, at its end
        adults = [i.strip() for i in listed.group(1).split(",")] if listed else []
        return _("%(name)s is under %(age)s: the new case's principal is an adult who moves (%(adults)s).",
                 name=name(principal), age=ADULT_AGE, adults=", ".join(name(i) for i in adults if i))
    if reason == "the principal stays with the case":
        stays = next((i for i in sent.get("member_ids", []) if exc.message.startswith(f"{i} ")), "")
        return _("%(name)s is this case's principal and stays with it: choose the others, who move.",
                 name=name(stays))
    if reason == "at least one member must stay":
        return _("Everyone was chosen: at least one person stays with this case.")
    if reason == "named more than once":
        return _("Choose each person once.")
    if reason == "not a member of this case":
        return _("Someone chosen is no longer a member of this case: reload the page and choose again.")
    if reason.startswith("on orientation session ") and detail.get("member_id"):
        return _("%(name)s is invited to orientation session %(session)s: take them off the session first, then "
                 "split the family.", name=name(str(detail["member_id"])),
                 session=reason.removeprefix("on orientation session "))
    return exc.message


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
            case = await readmodel.get_case(db, case_id)
            names = {m.member_id: m.full_name for m in case.members} if case is not None else {}
            placed = [(f, d) for d in exc.details or [] if isinstance(d, dict) and (f := _field_of(d)) is not None]
            for field, detail in placed:
                said = _said(exc, detail, sent, names)
                if said not in errors.get(field, []):
                    errors.setdefault(field, []).append(said)
            if not placed:
                problem = exc.message
        else:
            response = redirect(f"{UI_PREFIX}/cases/{outcome.new_case.case_id}")
            flash(request, response, "success",
                  _("The family is split: this is the new case, split off %(case)s.", case=case_id))
            return response
    return await render_case_page(request, case_id, principal, db,
                                  split=sent | {"errors": errors, "problem": problem}, status_code=422)
