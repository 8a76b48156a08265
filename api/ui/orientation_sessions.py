"""Orientation sessions for caseworkers (orientation officers) and supervisors: the list, a
session's page (its people, the system's proposals, add / take off, cancel), the attendance
form for the whole session, and a printable attendance sheet (print CSS) to sign on the day.
The UI face of ``/api/v1/orientation-sessions``: every action goes through the same route
functions (same rules, same audit).  The list carries the form that schedules a session,
generated from the route's own model (``SessionDetailsIn``), its submission token the
scheduling's Idempotency-Key (``api.ui.creation_forms``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import ValidationError
from starlette.responses import Response

from api.deps import Db
from api.errors import ApiError
from api.readmodel import office_time_zone
from api.routes import orientation_sessions as api
from api.ui.creation_forms import already_created, offset_of, submission_token, time_zones, use_idempotency_key
from api.ui.i18n import gettext as _
from api.ui.rendering import UiRoute, redirect, render
from api.ui.schema_form import UTC_OFFSETS, BoundForm, Option
from api.ui.security import UI_PREFIX
from api.ui.session import UiPrincipal, flash, flash_refusal
from domain.sessions.model import SessionDetailsIn

router = APIRouter(route_class=UiRoute)
SessionId = Annotated[str, Path(pattern=r"^OS-[0-9A-F]{16}$")]


def _form(principal: Any, posted: Any = None) -> BoundForm:
    """The scheduling form from ``SessionDetailsIn``'s JSON Schema, with the user's offices
    and the time zones to choose from; blank: the user's first office and its zone."""
    schema = SessionDetailsIn.model_json_schema()
    form = BoundForm.submitted(schema, posted) if posted is not None else BoundForm.blank(schema)
    form.with_field("office", kind="select", options=tuple(Option(o, o) for o in principal.offices), pattern=None,
                    help=None)
    form.with_field("time_zone", kind="select", options=time_zones(), required=True)  # starts_at is its wall clock
    form.with_field("starts_at", local_to="time_zone", help=_("The local time where it is held, in the time zone below."))
    if posted is None:
        office = principal.offices[0] if principal.offices else ""
        form.values.update({"office": office, "time_zone": office_time_zone(office) if office else "UTC"})
    return form


async def _list_page(request: Request, principal: Any, db: Any, form: BoundForm, submission: str, *,
                     problem: str | None = None, status: int = 200) -> Response:
    sessions = await api.list_sessions(principal, db, status=None, language=None, destination_country=None,
                                       starts_from=None, starts_until=None, case_id=None, offset=0, limit=100)
    return render(request, "orientation_sessions.html",
                  {"sessions": sessions.items, "form": form, "submission": submission, "problem": problem,
                   "utc_offsets": UTC_OFFSETS, "office_offset": offset_of(form.values.get("time_zone", ""))},
                  status=status, title="Orientation sessions")


@router.get("/orientation-sessions", summary="Orientation sessions of my offices, and the form that schedules one")
async def session_list(request: Request, principal: UiPrincipal, db: Db) -> Response:
    return await _list_page(request, principal, db, _form(principal), submission_token())


@router.post("/orientation-sessions", summary="Schedule an orientation session")
async def schedule_session(request: Request, principal: UiPrincipal, db: Db) -> Response:
    api._require_role(principal)  # like the page: caseworkers and supervisors
    posted = await request.form()
    form, submission = _form(principal, posted), submission_token(posted)
    not_scheduled = _("The session was not scheduled:")
    try:
        details = SessionDetailsIn.model_validate(form.payload())
    except ValidationError as exc:
        form.add_errors([{"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"]} for e in exc.errors()])
        return await _list_page(request, principal, db, form, submission, status=422,
                                problem=not_scheduled + " " + _("correct the fields marked below and submit again."))
    use_idempotency_key(request, f"ui-session-{submission}")
    try:
        scheduled = await api.schedule_session(details, request, principal, db, api._commands(request))
    except ApiError as exc:
        if exc.status not in (403, 409, 422, 503):
            raise
        if exc.code == "session_exists":  # this form scheduled one already (sent back changed): a new form now
            return await _list_page(request, principal, db, form, submission_token(), status=409,
                                    problem=already_created(exc.message))
        form.add_errors([d for d in exc.details if isinstance(d, dict)])
        return await _list_page(request, principal, db, form, submission, status=exc.status,
                                problem=f"{not_scheduled} {exc.message}.")
    response = redirect(f"{UI_PREFIX}/orientation-sessions/{scheduled.session_id}")
    flash(request, response, "success", _("Session scheduled: add its participants from the proposals."))
    return response


@router.get("/orientation-sessions/{session_id}", summary="An orientation session")
async def session_page(request: Request, session_id: SessionId, principal: UiPrincipal, db: Db) -> Response:
    session = await api.get_session(session_id, principal, db)
    proposals = await api.propose(session_id, principal, db)
    return render(request, "orientation_session.html", {"session": session, "proposals": proposals.items},
                  title=f"Orientation {session.session_date} · {session.session_id}")


@router.get("/orientation-sessions/{session_id}/sheet", summary="The session's attendance sheet, to print")
async def attendance_sheet(request: Request, session_id: SessionId, principal: UiPrincipal, db: Db) -> Response:
    """The sheet people sign on the day: each person under the name, date of birth and case
    their case has now (a correction or a split since the invitation wins over the session's
    copy: ``api.routes.orientation_sessions.current_view`` says why)."""
    session = await api.get_session(session_id, principal, db)
    return render(request, "orientation_session_sheet.html", {"session": session},
                  title=f"Attendance sheet · {session.session_id}")


@router.post("/orientation-sessions/{session_id}/{action}", summary="Act on an orientation session")
async def session_action(request: Request, session_id: SessionId,
                         action: Annotated[str, Path(pattern="^(add|remove|attendance|cancel)$")],
                         principal: UiPrincipal, db: Db) -> Response:
    form = await request.form()
    response = redirect(f"{UI_PREFIX}/orientation-sessions/{session_id}")
    commands = api._commands(request)
    try:
        done = await _act(action, form, session_id, principal, db, commands)
    except ValidationError as exc:
        flash_refusal(request, response, 422, "; ".join(e["msg"] for e in exc.errors(include_url=False)))
        return response
    except ApiError as exc:
        if exc.status not in (403, 404, 409, 422):
            raise
        named = "; ".join(f"{d.get('member_name') or d.get('member_id') or d.get('field')}: {d.get('reason') or d.get('rule')}"
                          for d in exc.details if isinstance(d, dict))
        flash_refusal(request, response, exc.status, exc.message + (f" ({named})" if named else ""))
        return response
    flash(request, response, "success", done)
    return response


async def _act(action: str, form: Any, session_id: str, principal: Any, db: Any, commands: Any) -> str:
    if action == "add":
        # Proposals ticked ("case_id|member_id"), and / or a whole case typed in.
        invitees = [{"case_id": v.split("|", 1)[0], "member_id": v.split("|", 1)[1]}
                    for v in form.getlist("person") if "|" in str(v)]
        typed = str(form.get("case_id", "")).strip()
        if typed:
            invitees.append({"case_id": typed})
        body = api.ParticipantsBody.model_validate({"participants": invitees})
        await api.add_participants(session_id, body, principal, db, commands)
        return f"{len(invitees)} added to the session."
    if action == "remove":
        reason = api.ReasonBody.model_validate({"reason": str(form.get("reason", "")).strip()})
        await api.remove_participant(session_id, str(form.get("member_id", "")), reason, principal, db, commands)
        return "Taken off the session."
    if action == "attendance":
        members = [str(m) for m in form.getlist("member_id")]
        rows = []
        for member_id in members:
            attended = form.get(f"attended-{member_id}") == "yes"
            reason = str(form.get(f"reason-{member_id}", "")).strip()
            rows.append({"member_id": member_id, "attended": attended} |
                        ({} if attended else {"absence_reason": reason or None}))
        body = api.AttendanceBody.model_validate({"attendance": rows})
        await api.record_attendance(session_id, body, principal, db, commands)
        return "Attendance recorded: each attendee's orientation is being recorded on their case."
    reason = api.ReasonBody.model_validate({"reason": str(form.get("reason", "")).strip()})
    await api.cancel_session(session_id, reason, principal, db, commands)
    return "The session is cancelled."


