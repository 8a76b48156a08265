"""AVRR: record that the migrant withdrew consent, from the case page, after a confirmation.

A withdrawal of consent closes the case at once, at any stage, so the page asks first and
says what will happen.  The form is the JSON API's own body (``ConsentWithdrawalBody``),
generated like any form (the language chosen from a list), and it is recorded through the
API's route function (``withdraw_consent``): the same rights, programme check and command.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import ValidationError
from starlette.responses import Response

from api import policy, readmodel
from api.deps import Commands, Db
from api.policy import with_article
from api.errors import ApiError
from api.routes.case_actions import ConsentWithdrawalBody, perform_consent_withdrawal
from api.schemas import CaseDetail
from api.ui.i18n import gettext as _
from api.ui.rendering import UiRoute, redirect, render
from api.ui.schema_form import BoundForm
from api.ui.security import UI_PREFIX
from api.ui.session import UiPrincipal, flash
from domain.offices import local_date
from domain.programmes.registry import definition_of

router = APIRouter(route_class=UiRoute)
CaseId = Annotated[str, Path(max_length=64)]


def takes_consent(programme: str) -> bool:
    """Whether the case's programme records a withdrawal of consent (AVRR does)."""
    return "withdraw_consent" in definition_of(programme).actions


async def _case(db: Db, principal: UiPrincipal, case_id: str) -> CaseDetail:
    case = await readmodel.get_case(db, case_id)
    policy.require_case_visible(principal, case_id, case.office if case else None)
    assert case is not None
    if not policy.may_act(principal, "withdraw_consent"):
        raise ApiError(403, "forbidden", f"{with_article(principal.role.value)} may not record a withdrawal of consent")
    if not takes_consent(case.programme):
        raise ApiError(409, "wrong_programme", f"case {case_id} is a {case.programme} case, which takes no consent "
                                               "to withdraw; to stop it, withdraw the case")
    return case


def _day_problem(case: CaseDetail, withdrawn_on: date) -> str | None:
    """The case's own day rules for ``withdrawn_on`` (``domain.programmes.avrr.flow``), said
    before the confirmation page asks to close the case for good, not after it: not after
    today in the office, not before the referral (a case split off another has no such bound)."""
    zone = case.office_time_zone
    today = local_date(datetime.now(UTC), zone)
    if withdrawn_on > today:
        return _("must not be in the future (today is %(day)s)", day=today.isoformat())
    referred_on = local_date(case.key_dates.referred_at, zone)
    if case.split_from is None and withdrawn_on < referred_on:
        return _("must not be before the case was referred (%(day)s)", day=referred_on.isoformat())
    return None


def _schema() -> dict[str, Any]:
    return ConsentWithdrawalBody.model_json_schema()


def _page(request: Request, case: CaseDetail, form: BoundForm, *, confirm: bool = False,
          problem: str | None = None, status: int = 200) -> Response:
    return render(request, "consent_withdrawal.html", {"case": case, "form": form, "confirm": confirm,
                                                       "problem": problem}, status=status,
                  title=_("Withdrawal of consent") + f" · {case.case_id}")


@router.get("/cases/{case_id}/consent-withdrawal", summary="AVRR: record a withdrawal of consent")
async def consent_form(request: Request, case_id: CaseId, principal: UiPrincipal, db: Db) -> Response:
    return _page(request, await _case(db, principal, case_id), BoundForm.blank(_schema()))


@router.post("/cases/{case_id}/consent-withdrawal", summary="AVRR: record a withdrawal of consent")
async def record_consent_withdrawal(request: Request, case_id: CaseId, principal: UiPrincipal, db: Db,
                                    commands: Commands) -> Response:
    case = await _case(db, principal, case_id)
    posted = await request.form()
    form = BoundForm.submitted(_schema(), posted)
    if posted.get("_back") == "yes":
        return _page(request, case, form)
    try:
        body = ConsentWithdrawalBody.model_validate(form.payload())
    except ValidationError as exc:
        form.add_errors([{"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"]} for e in exc.errors()])
        return _page(request, case, form, status=422,
                     problem=_("The form has errors. Correct the fields marked below and submit again."))
    if (problem := _day_problem(case, body.withdrawn_on)) is not None:  # heard before the irreversible step
        form.add_errors([{"field": "withdrawn_on", "reason": problem}])
        return _page(request, case, form, status=422,
                     problem=_("The form has errors. Correct the fields marked below and submit again."))
    if posted.get("confirmed") != "yes":  # first say what will happen
        return _page(request, case, form, confirm=True)
    response = redirect(f"{UI_PREFIX}/cases/{case_id}")
    try:
        await perform_consent_withdrawal(case_id, body, principal, db, commands)
    except ApiError as exc:
        if exc.status not in (403, 409, 422):
            raise
        form.add_errors(exc.details or [])
        return _page(request, case, form, status=exc.status, problem=exc.message[:1].upper() + exc.message[1:] + ".")
    flash(request, response, "success", _("The withdrawal of consent is recorded and the case is closed."))
    return response
