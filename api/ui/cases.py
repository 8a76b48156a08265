"""The case list and a case's page: who is on it, where it stands, what is open, what happened."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from api import policy, readmodel, task_actions
from api.deps import Commands, Db
from api.errors import ApiError
from api.routes.case_actions import NoteBody, ReasonBody, perform_case_action
from api.ui.consent import takes_consent
from api.ui.creation_forms import submission_token, use_idempotency_key
from api.ui.filters import CaseFilters
from api.ui.formatting import fmt_datetime
from api.ui.i18n import N_, gettext as _
from api.ui.rendering import UiRoute, redirect, render
from api.ui.security import UI_PREFIX
from api.ui.session import UiPrincipal, flash, flash_refusal
from domain.case import AddNote, CancelBooking, HoldCase, ResumeCase, WithdrawCase
from domain.errors import plain_reason
from domain.model import Role, Stage
from domain.programmes.registry import definition_of
from domain.offices import local_time, time_zone, zone_label
from api.policy import reads_health_details, with_article
from api.ui.timeline import timeline
from store.projection import read_rebuilt_projection

router = APIRouter(route_class=UiRoute)
PAGE_SIZE = 25
CaseId = Annotated[str, Path(max_length=64)]


@router.get("/cases", summary="Case list")
async def case_list(request: Request, principal: UiPrincipal, db: Db,
                    filters: Annotated[CaseFilters, Query()]) -> Response:
    page = await readmodel.list_cases(
        db, offices=policy.visible_offices(principal), stage=filters.stage,
        status=filters.status.value if filters.status else None, office=filters.office, priority=filters.priority,
        text=filters.q, cursor=filters.cursor, limit=PAGE_SIZE, programme=filters.programme,
        more=filters.report_filter(),
    )
    path = f"{UI_PREFIX}/cases"
    return render(request, "cases.html", {
        "cases": page.items,
        "filters": filters,
        "office_choices": [(o, o) for o in policy.visible_offices(principal)],
        "next_link": filters.link(path, cursor=page.next_cursor) if page.next_cursor else None,
        "first_link": filters.link(path, cursor=None) if filters.cursor else None,
    }, title=_("Cases"))


@router.get("/cases/{case_id}", summary="Case page")
async def case_page(request: Request, case_id: CaseId, principal: UiPrincipal, db: Db,
                    as_of: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    """The case today, or (``as_of``, the office's time) as it stood then: the same page,
    read-only, with the history up to that moment."""
    return await render_case_page(request, case_id, principal, db, as_of)


async def render_case_page(request: Request, case_id: str, principal: UiPrincipal, db: Db, as_of: str | None = None,
                           split: dict[str, object] | None = None, status_code: int = 200,
                           kept: dict[str, str] | None = None) -> Response:
    """The case page; ``split``: the split form as it was sent back, with its errors by field;
    ``kept``: a case action's form as it was sent back (kind, text, submission, problem)."""
    case = await readmodel.get_case(db, case_id)
    policy.require_case_visible(principal, case_id, case.office if case else None)
    assert case is not None
    zone = case.office_time_zone
    events = await readmodel.list_events(db, case_id)
    moment = _moment(as_of, zone)
    if moment is not None:
        then = await read_rebuilt_projection(db, case_id, lambda conn: readmodel.get_case(conn, case_id), as_of=moment)
        if then is None:
            raise ApiError(404, "case_not_found", _("Case %(case)s had not been referred by %(moment)s.",
                                                    case=case_id, moment=fmt_datetime(moment, zone)))
        case, events = then, [e for e in events if e.occurred_at <= moment]
    case = policy.redact_case(case, principal)
    return render(request, "case.html", {
        "case": case,
        "as_of": moment,
        "as_of_local": local_time(moment, zone) if moment else None,
        "zone_name": zone_label(zone),
        "workable": {t.task_id: moment is None and task_actions.may_work(principal, t) for t in case.open_tasks},
        "timeline": timeline(events, case, principal),
        "health_details": reads_health_details(principal),
        "workflow_link": case.temporal_web_url if principal.role == Role.SUPERVISOR else None,
        "actions": {kind: moment is None and policy.may_act(principal, kind) for kind in UI_ACTIONS},
        "consent_link": moment is None and policy.may_act(principal, "withdraw_consent") and takes_consent(case.programme),
        "here": request.url.path,
        "split": split or {"errors": {}, "member_ids": [], "principal_member_id": "", "reason": "", "problem": None},
        "action_forms": _action_forms(kept),
        "columns": member_columns(case.programme),
        "may_split": moment is None and policy.may_act(principal, "split") and len(case.members) > 1
                     and case.key_dates.departed_at is None,
    }, title=f"{case.principal_name} · {case.case_id}", status=status_code)


def member_columns(programme: str) -> dict[str, bool]:
    """Which per-person columns the people table shows: a stage's column only where the
    programme has a task per person in it (family reunification has no health or orientation
    stage, AVRR's pre-departure counselling is the case's, not each person's), so nobody reads
    "Pending" as work still to do that the programme never asks."""
    definition = definition_of(programme)
    per_person = {spec.stage for spec in definition.task_specs.values()
                  if spec.per_member and spec.stage in definition.stages}
    return {"health": Stage.HEALTH in per_person, "orientation": Stage.ORIENTATION in per_person,
            "visa": Stage.VISA in per_person}


async def _confirm_withdrawal(request: Request, principal: UiPrincipal, db: Db, case_id: str, reason: str,
                              submission: str) -> Response:
    """A withdrawal closes the case for good: first say what will happen, and ask (the form's
    submission token goes along, so the confirmed withdrawal is the form's one command)."""
    case = await readmodel.get_case(db, case_id)
    policy.require_case_visible(principal, case_id, case.office if case else None)
    assert case is not None
    if not policy.may_act(principal, "withdraw"):
        raise ApiError(403, "forbidden", f"{with_article(principal.role.value)} may not withdraw cases")
    return render(request, "confirm_withdrawal.html", {"case": case, "reason": reason, "submission": submission},
                  title=f"Withdraw {case.case_id}?")


def _moment(as_of: str | None, zone: str) -> datetime | None:
    """A browser's date-time field (no offset: read in the office's time zone ``zone``), or an
    ISO 8601 time with an offset."""
    if not as_of:
        return None
    try:
        moment = datetime.fromisoformat(as_of)
        # fold=0: of a time shown twice when clocks go back, the first; a time clocks skip reads
        # with the offset before the change.
        moment = moment if moment.tzinfo else moment.replace(tzinfo=time_zone(zone))
        moment.astimezone(UTC)  # OverflowError near the ends of the calendar
    except (ValueError, OverflowError):
        raise ApiError(422, "invalid_request", "the date and time to view the case at is not valid",
                       [{"field": "query.as_of", "reason": "not a date and time", "allowed": "YYYY-MM-DDTHH:MM"}]) from None
    return moment


# Case-level actions offered on the case page: kind -> (form field, what the action needs).
UI_ACTIONS = ("note", "hold", "resume", "withdraw", "correct_member", "cancel_booking")
_DONE = {"note": N_("Note added."), "hold": N_("The case is on hold: SLA clocks are paused."),
         "resume": N_("The case is active again; its tasks keep the time they had left."),
         "withdraw": N_("The case is withdrawn and closed."),
         "cancel_booking": N_("The booking is cancelled: the case books a flight again.")}


# The longest text each action takes: the API's own bodies (NoteBody, ReasonBody).
_BODIES = {"note": NoteBody, "hold": ReasonBody, "resume": ReasonBody, "withdraw": ReasonBody,
           "cancel_booking": ReasonBody}
_WHAT = {"note": N_("The note"), "hold": N_("The reason"), "resume": N_("The reason"), "withdraw": N_("The reason"),
         "cancel_booking": N_("The reason")}


def _action_forms(kept: dict[str, str] | None) -> dict[str, dict[str, str | None]]:
    """Each case action's form: its one-time submission token (``api.ui.creation_forms``),
    which becomes the command's ``Idempotency-Key`` (a double click, or the same form sent
    again after "try again", is one command), and what was typed when it came back refused."""
    forms: dict[str, dict[str, str | None]] = {
        kind: {"text": "", "submission": submission_token(), "problem": None} for kind in _BODIES}
    if kept is not None and kept.get("kind") in forms:
        forms[kept["kind"]] = {"text": kept.get("text", ""), "submission": kept.get("submission") or submission_token(),
                               "problem": kept.get("problem")}
    return forms


def _max_length(body: type[NoteBody] | type[ReasonBody]) -> int:
    return int(body.model_json_schema()["properties"]["text" if body is NoteBody else "reason"]["maxLength"])


_LIMITS = {kind: _max_length(body) for kind, body in _BODIES.items()}  # note 4,000; a reason 2,000


@router.post("/cases/{case_id}/actions/{kind}", summary="A case-level action")
async def case_action(request: Request, case_id: CaseId, kind: Annotated[str, Path(pattern="^(note|hold|resume|withdraw|cancel_booking)$")],
                      principal: UiPrincipal, db: Db, commands: Commands) -> Response:
    """Through the API's own path (``perform_case_action``), with the form's submission token
    as the ``Idempotency-Key``.  Text over the limit is refused with the limit, never cut,
    and the form comes back with what was typed."""
    posted = await request.form()
    text, submission = str(posted.get("text", "")).strip(), submission_token(posted)
    response = redirect(f"{UI_PREFIX}/cases/{case_id}")

    async def sent_back(problem: str, status: int) -> Response:
        return await render_case_page(request, case_id, principal, db, status_code=status, kept={
            "kind": kind, "text": text, "submission": submission, "problem": problem})

    if not text:
        flash_refusal(request, response, 422, _("Please give a reason (or the note's text)."))
        return response
    body, limit = _BODIES[kind], _LIMITS[kind]
    if len(text) > limit:  # Refused, never cut (as the correction form)
        return await sent_back(_("%(what)s is %(length)s characters long; at most %(limit)s are allowed. Nothing "
                                 "was changed.", what=_(_WHAT[kind]), length=len(text), limit=limit), 422)
    try:  # the API's own rules for the text
        checked = body.model_validate({"text": text} if body is NoteBody else {"reason": text})
    except ValidationError as exc:
        reason = plain_reason(exc.errors()[0]["msg"])
        return await sent_back(f"{_(_WHAT[kind])}: {reason}.", 422)
    text = checked.text if isinstance(checked, NoteBody) else checked.reason
    if kind == "withdraw" and posted.get("confirmed") != "yes":
        return await _confirm_withdrawal(request, principal, db, case_id, text, submission)
    action = {"note": lambda: AddNote(text=text), "hold": lambda: HoldCase(reason=text),
              "resume": lambda: ResumeCase(reason=text), "withdraw": lambda: WithdrawCase(reason=text),
              "cancel_booking": lambda: CancelBooking(reason=text)}[kind]()
    use_idempotency_key(request, f"ui-case-action-{submission}")
    try:
        await perform_case_action(db, commands, principal, case_id, action)
    except ApiError as exc:
        if exc.status == 503:  # the form again, as typed, with its token: sending it again is the same command
            return await sent_back(_sentence(exc.message), 503)
        if exc.status not in (403, 409, 422):
            raise
        flash_refusal(request, response, exc.status, exc.message)
        return response
    flash(request, response, "success", _(_DONE[kind]))
    return response


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
