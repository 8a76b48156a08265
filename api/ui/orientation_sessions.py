"""Orientation sessions for caseworkers (orientation officers) and supervisors: the list, a
session's page (its people, the system's proposals, add / take off, cancel), the attendance
form for the whole session, and a printable attendance sheet (print CSS) to sign on the day.
The UI face of ``/api/v1/orientation-sessions``: every action goes through the same route
functions (same rules, same audit)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import ValidationError
from starlette.responses import Response

from api.deps import Db
from api.errors import ApiError
from api.routes import orientation_sessions as api
from api.ui.rendering import UiRoute, redirect, render
from api.ui.security import UI_PREFIX
from api.ui.session import UiPrincipal, flash

router = APIRouter(route_class=UiRoute)
SessionId = Annotated[str, Path(pattern=r"^OS-[0-9A-F]{16}$")]


@router.get("/orientation-sessions", summary="Orientation sessions of my offices")
async def session_list(request: Request, principal: UiPrincipal, db: Db) -> Response:
    sessions = await api.list_sessions(principal, db, status=None, language=None, destination_country=None,
                                       starts_from=None, starts_until=None, case_id=None, offset=0, limit=100)
    return render(request, "orientation_sessions.html", {"sessions": sessions.items}, title="Orientation sessions")


@router.get("/orientation-sessions/{session_id}", summary="An orientation session")
async def session_page(request: Request, session_id: SessionId, principal: UiPrincipal, db: Db) -> Response:
    session = await api.get_session(session_id, principal, db)
    proposals = await api.propose(session_id, principal, db)
    return render(request, "orientation_session.html", {"session": session, "proposals": proposals.items},
                  title=f"Orientation {session.session_date} · {session.session_id}")


@router.get("/orientation-sessions/{session_id}/sheet", summary="The session's attendance sheet, to print")
async def attendance_sheet(request: Request, session_id: SessionId, principal: UiPrincipal, db: Db) -> Response:
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
        flash(request, response, "error", "; ".join(e["msg"] for e in exc.errors(include_url=False)))
        return response
    except ApiError as exc:
        if exc.status not in (403, 404, 409, 422):
            raise
        named = "; ".join(f"{d.get('member_name') or d.get('member_id') or d.get('field')}: {d.get('reason') or d.get('rule')}"
                          for d in exc.details if isinstance(d, dict))
        flash(request, response, "error", exc.message + (f" ({named})" if named else ""))
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


