"""Refer a case from the UI: a family form built from the Referral's JSON Schema.

The form is the Referral model's schema (``domain.referral_request.ReferralRequest``: ``Referral`` with names as typed) rendered like a task's
form (``api.ui.schema_form``): the family's members are rows added and removed with buttons,
countries chosen from a list of names.  What it submits goes through the API's own route
function (``api.routes.cases.refer_case``: the same rights, idempotency on the referral id,
audit and workflow), so the UI can refer nothing the API would refuse.

Two things the page knows that the schema does not: the offices this user may refer to (the
office is a list of those), and which programme needs which country (the programmes'
``check_referral``: resettlement a destination, AVRR a country of return), shown as the
programme's group of fields, like a task form's outcome.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from api import policy
from api.deps import Commands, Db
from api.policy import with_article
from api.errors import ApiError
from api.routes.cases import refer_case
from api.ui.i18n import gettext as _
from api.ui.rendering import UiRoute, redirect, render
from api.ui.schema_form import BoundForm, Option
from api.ui.security import UI_PREFIX
from api.ui.session import UiPrincipal, flash
from domain.referral_request import ReferralRequest

router = APIRouter(route_class=UiRoute)

# The field each programme's check_referral requires (and only those programmes take):
# family reunification travels to the sponsor's country, like resettlement to its own.
REQUIRED_BY_PROGRAMME = {"destination_country": ("resettlement", "family_reunification"), "origin_country": ("avrr",),
                         "sponsor": ("family_reunification",)}


def _schema() -> dict[str, Any]:
    return ReferralRequest.model_json_schema()


def _shaped(form: BoundForm, offices: tuple[str, ...] | list[str]) -> BoundForm:
    """The schema's form, with the user's offices to choose from and the programme as the choice."""
    programme = next(f for f in form.fields if f.name == "programme")
    known = {o.text for o in programme.options}
    form.with_field("programme", is_choice=True, required=True)
    form.with_field("office", kind="select", options=tuple(Option(o, o) for o in offices), pattern=None)
    for name, needed_by in REQUIRED_BY_PROGRAMME.items():
        present = tuple(p for p in needed_by if p in known)
        if present:
            form.with_field(name, when=present, required=True)
    if len(offices) == 1 and "office" not in form.values:
        form.values["office"] = offices[0]
    return form


def _page(request: Request, form: BoundForm, *, problem: str | None = None, status: int = 200) -> Response:
    return render(request, "refer.html", {"form": form, "problem": problem}, status=status,
                  title=_("Refer a case"))


@router.get("/refer", summary="Refer a case: the family form")
async def referral_form(request: Request, principal: UiPrincipal) -> Response:
    if principal.role not in policy.REFERRING_ROLES:
        raise ApiError(403, "forbidden", f"{with_article(principal.role.value)} may not refer cases")
    return _page(request, _shaped(BoundForm.blank(_schema()), principal.offices))


@router.post("/refer", summary="Refer a case")
async def refer(request: Request, principal: UiPrincipal, db: Db, commands: Commands) -> Response:
    posted = await request.form()
    form = _shaped(BoundForm.submitted(_schema(), posted), principal.offices)
    if form.row_action(posted):  # a member added or removed: the same form again, nothing sent
        return _page(request, form)
    try:
        referral = ReferralRequest.model_validate(form.payload())
    except ValidationError as exc:
        form.add_errors([{"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"]} for e in exc.errors()])
        return _page(request, form, status=422,
                     problem=_("The form has errors. Correct the fields marked below and submit again."))
    answer = Response()
    try:
        case = await refer_case(referral, principal, db, commands, request, answer)
    except ApiError as exc:
        if exc.status not in (403, 409, 422):
            raise
        form.add_errors(exc.details or [])
        return _page(request, form, status=exc.status, problem=exc.message[:1].upper() + exc.message[1:] + ".")
    response = redirect(f"{UI_PREFIX}/cases/{case.case_id}")
    if answer.status_code == 201:
        flash(request, response, "success", _("Case referred. Its first task is in the inbox."))
    else:
        flash(request, response, "info", _("This referral had already opened this case: here it is."))
    return response
