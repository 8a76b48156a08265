"""Correcting a person's details from the case page (issue 17): one field at a time, with a
reason, through the API's own route function (``perform_case_action`` with ``CorrectMember``):
recorded as an event, earlier events never rewritten."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from api.deps import Commands, Db
from api.errors import ApiError
from api.routes.case_actions import perform_case_action
from api.ui.code_lists import countries
from api.ui.formatting import humanize, say
from api.ui.i18n import current_language, gettext as _
from api.ui.rendering import UiRoute, redirect
from api.ui.security import UI_PREFIX
from api.ui.session import UiPrincipal, flash, flash_refusal
from domain.case import CorrectMember
from domain.errors import plain_reason
from domain.model import Relationship, Sex

router = APIRouter(route_class=UiRoute)
CORRECTABLE = ("full_name", "date_of_birth", "sex", "nationality", "relationship")
CaseId = Annotated[str, Path(max_length=64)]
VALUE_MAX_LENGTH = 200  # a person's name (PersonName); the other fields are shorter
REASON_MAX_LENGTH = 2000  # CorrectMember.reason


_CHOICES: dict[str, tuple[str, ...]] = {"sex": tuple(Sex), "relationship": tuple(Relationship)}
_WRITTEN_DAY = re.compile(r"(\d{1,2})[./-](\d{1,2})[./-](\d{4})")


def as_recorded(field: str, value: str) -> str:
    """The value as a caseworker types it, as the record holds it: a country by its name in the
    page's language or English ("Syria", "Suriye" -> SY), a sex or relationship by its word in
    the page's language or English ("Female", "Child"), a date written day/month/year
    (14/03/1988, 14.03.1988 -> 1988-03-14).  Anything else goes on as typed, for the case's
    rules to refuse with their reason."""
    typed = value.strip()
    folded = typed.casefold()
    if field == "nationality":
        for language in dict.fromkeys((current_language(), "en")):
            for code, name in countries(language):
                if folded in (name.casefold(), code.casefold()):
                    return code
        return typed.upper()
    if field in _CHOICES:
        for choice in _CHOICES[field]:
            if folded in (choice.value, humanize(choice.value).casefold(), say(humanize(choice.value)).casefold()):
                return choice.value
        return typed
    if field == "date_of_birth" and (day := _WRITTEN_DAY.fullmatch(typed)):
        d, m, y = (int(g) for g in day.groups())
        return f"{y:04d}-{m:02d}-{d:02d}"
    return typed


@router.post("/cases/{case_id}/correction", summary="Correct one detail of a person on the case")
async def correct(request: Request, case_id: CaseId, principal: UiPrincipal, db: Db, commands: Commands) -> Response:
    posted = await request.form()
    member_id = str(posted.get("member_id", ""))[:80]
    field = str(posted.get("field", ""))
    value = str(posted.get("value", "")).strip()
    reason = str(posted.get("reason", "")).strip()
    response = redirect(f"{UI_PREFIX}/cases/{case_id}")
    if field not in CORRECTABLE or not member_id or not value or not reason:
        flash_refusal(request, response, 422, _("Choose the person and the detail, and give the new value and a reason."))
        return response
    # Refused, never cut: a name cut mid-word would go on the record and to the airline.
    for what, text, limit in ((_("The new value"), value, VALUE_MAX_LENGTH), (_("The reason"), reason,
                                                                              REASON_MAX_LENGTH)):
        if len(text) > limit:
            flash_refusal(request, response, 422, _("%(what)s is %(length)s characters long; at most %(limit)s "
                                                    "are allowed. Nothing was changed.", what=what, length=len(text),
                                                    limit=limit))
            return response
    value = as_recorded(field, value)
    try:
        await perform_case_action(db, commands, principal, case_id,
                                  CorrectMember(member_id=member_id, changes={field: value}, reason=reason))
    except ApiError as exc:
        if exc.status not in (403, 404, 409, 422):
            raise
        # The message already names the field and why; a detail it does not hold is added once.
        details = "; ".join(dict.fromkeys(plain_reason(d["reason"]) for d in (exc.details or [])
                                          if d.get("reason") and plain_reason(d["reason"]) not in exc.message))
        flash_refusal(request, response, exc.status, f"{exc.message}{': ' + details if details else ''}")
        return response
    flash(request, response, "success", _("The correction is recorded."))
    return response
