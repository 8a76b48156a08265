"""Group movements for movement officers and supervisors: the list with the form that creates a
movement, and a movement's page with its manifest, seats, the cases taken off and the fan-out's
progress, where cases are added and the manifest is locked, the departure confirmed or the
movement cancelled.  The UI face of ``/api/v1/movements``: every action goes through the same
route functions (same rules, same audit).

The creation form carries a random token of its own (``submission``, made when the form is
shown and kept when it comes back refused): it is the creation's ``Idempotency-Key``, so the
same form sent twice (a double click, a reload) creates one movement, as the API does for a
client that sends the same key again."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import ValidationError
from starlette.responses import Response

from api.deps import Db
from api.errors import ApiError
from api.readmodel import office_time_zone
from api.routes import movements as api
from api.ui.i18n import gettext as _
from api.ui.i18n import ngettext
from api.ui.rendering import UiRoute, redirect, render
from api.ui.security import UI_PREFIX
from api.ui.session import UiPrincipal, flash
from domain.movements import commands as c
from domain.movements.model import MovementDetails, MovementKind
from domain.offices import time_zone

router = APIRouter(route_class=UiRoute)
MovementId = Annotated[str, Path(pattern=r"^MV-[0-9A-F]{16}$")]

def _limit(schema: dict[str, Any], key: str) -> Any:
    """``key`` (maxLength, minimum, ...) of a property's schema, a nullable one's too."""
    return next((s[key] for s in (schema, *schema.get("anyOf", ())) if key in s), None)


# The API's own limits, read from its models: a form never allows more than the route accepts.
_DETAILS = MovementDetails.model_json_schema()
_PROPERTIES = _DETAILS["properties"]
REASON_MAX_LENGTH: int = _limit(api.ReasonBody.model_json_schema()["properties"]["reason"], "maxLength")
LIMITS = {"reason": REASON_MAX_LENGTH,
          "carrier": _limit(_PROPERTIES["carrier"], "maxLength"),
          "charter_id": _limit(_PROPERTIES["charter_id"], "maxLength"),
          "notes": _limit(_PROPERTIES["notes"], "maxLength"),
          "escort_name": _limit(_DETAILS["$defs"]["Escort"]["properties"]["name"], "maxLength"),
          "seats_min": _limit(_PROPERTIES["seat_capacity"], "minimum"),
          "seats_max": _limit(_PROPERTIES["seat_capacity"], "maximum")}
TRANSIT_ROWS = 2  # the form's rows (the API takes up to 6 transit points and 50 escorts)
ESCORT_ROWS = 3
_SUBMISSION = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_FIELD_LABELS = {"kind": "Kind", "flight_number": "Flight number", "charter_id": "Charter id", "carrier": "Carrier",
                 "departure_airport": "Departure airport", "arrival_airport": "Arrival airport",
                 "departure_at": "Departure", "departure_time_zone": "Time zone", "arrival_at": "Arrival",
                 "transit": "Transit", "seat_capacity": "Seat capacity", "escorts": "Escorts", "office": "Office",
                 "notes": "Notes"}
_ROW_LABELS = {"transit": "Transit point", "escorts": "Escort"}
_SUB_LABELS = {"airport": "airport", "arrives_at": "arrives", "departs_at": "departs", "name": "name", "kind": "kind"}


def _new_form(principal: Any) -> dict[str, str]:
    """A blank creation form: the user's (first) office, its time zone, a fresh submission token."""
    office = principal.offices[0] if principal.offices else ""
    return {"office": office, "departure_time_zone": office_time_zone(office) if office else "",
            "kind": MovementKind.CHARTER.value, "submission": secrets.token_urlsafe(18)}


def _list_page(request: Request, movements: list[Any], principal: Any, form: dict[str, str], *,
               problem: str | None = None, errors: dict[str, list[str]] | None = None,
               status: int = 200) -> Response:
    zones = sorted({office_time_zone(o) for o in principal.offices} | {"UTC"})
    return render(request, "movements.html",
                  {"movements": movements, "form": form, "problem": problem, "errors": errors or {},
                   "kinds": [k.value for k in MovementKind], "offices": list(principal.offices), "zones": zones,
                   "transit_rows": range(TRANSIT_ROWS), "escort_rows": range(ESCORT_ROWS), "limits": LIMITS},
                  status=status, title="Group movements")


async def _movements(principal: Any, db: Any) -> list[Any]:
    found = await api.list_movements(principal, db, status=None, departs_from=None, departs_until=None,
                                     case_id=None, offset=0, limit=100)
    return found.items


@router.get("/movements", summary="Group movements of my offices, and the form that creates one")
async def movement_list(request: Request, principal: UiPrincipal, db: Db) -> Response:
    return _list_page(request, await _movements(principal, db), principal, _new_form(principal))


def _local(value: str, zone: str) -> str | None:
    """A ``datetime-local`` field's value (no offset: local time in ``zone``) as an ISO date-time
    with the zone's offset on that day; empty: None; unreadable, or no usable zone: as typed (the
    model's validation names the field)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
        return (moment if moment.tzinfo else moment.replace(tzinfo=time_zone(zone))).isoformat()
    except ValueError:
        return value


def _count(value: str) -> int | str:
    """A number field's digits as the integer the API's JSON would carry; anything else as typed
    (the model names the field)."""
    return int(value) if re.fullmatch(r"[0-9]{1,9}", value) else value


def _filled_rows(posted: dict[str, str]) -> dict[str, list[int]]:
    """The form's transit and escort rows that were filled in (an empty row is no row): the
    body's n-th transit point is the form's row ``rows["transit"][n]``."""
    return {"transit": [i for i in range(TRANSIT_ROWS)
                        if any(posted.get(f"transit-{i}-{f}") for f in ("airport", "arrives_at", "departs_at"))],
            "escorts": [i for i in range(ESCORT_ROWS) if posted.get(f"escorts-{i}-name")]}


def _details_body(posted: dict[str, str]) -> dict[str, Any]:
    """The create route's body from the form: every time the form's local time in its time zone."""
    zone = posted.get("departure_time_zone", "")
    rows = _filled_rows(posted)
    upper = {name: posted.get(name, "").upper() for name in ("flight_number", "departure_airport", "arrival_airport")}
    transit = [{"airport": posted.get(f"transit-{i}-airport", "").upper(),
                "arrives_at": _local(posted.get(f"transit-{i}-arrives_at", ""), zone),
                "departs_at": _local(posted.get(f"transit-{i}-departs_at", ""), zone)} for i in rows["transit"]]
    escorts = [{"name": posted.get(f"escorts-{i}-name", ""), "kind": posted.get(f"escorts-{i}-kind") or "operational"}
               for i in rows["escorts"]]
    return {"kind": posted.get("kind", ""), **upper, "charter_id": posted.get("charter_id") or None,
            "carrier": posted.get("carrier", ""), "departure_at": _local(posted.get("departure_at", ""), zone) or "",
            "departure_time_zone": zone, "arrival_at": _local(posted.get("arrival_at", ""), zone),
            "transit": transit, "seat_capacity": _count(posted.get("seat_capacity", "")), "escorts": escorts,
            "office": posted.get("office", ""), "notes": posted.get("notes") or None}


def _field_errors(exc: ValidationError, posted: dict[str, str]) -> tuple[list[str], dict[str, list[str]]]:
    """Each problem as a reader sees it ("Transit point 2, arrives: ..."), and by the form field
    it names (``transit-1-arrives_at``)."""
    listed: list[str] = []
    by_field: dict[str, list[str]] = {}
    rows = _filled_rows(posted)
    errors = exc.errors(include_url=False)
    if any(e["loc"] == ("departure_time_zone",) for e in errors):
        # no zone to place the local times in: that is the problem, not each time's missing offset
        errors = [e for e in errors if e["type"] != "timezone_aware"]
    for e in errors:
        loc = [p for p in e["loc"] if not (isinstance(p, str) and (p.startswith("function-") or "[" in p))]
        message = e["msg"].removeprefix("Value error, ")
        if not loc:
            listed.append(message)
            continue
        head = str(loc[0])
        label, name = _FIELD_LABELS.get(head, head), head
        if head in rows and len(loc) > 1 and isinstance(loc[1], int) and loc[1] < len(rows[head]):
            row = rows[head][loc[1]]
            label, name = f"{_ROW_LABELS[head]} {row + 1}", f"{head}-{row}"
            if len(loc) > 2:
                label += f", {_SUB_LABELS.get(str(loc[2]), str(loc[2]))}"
                name += f"-{loc[2]}"
        listed.append(f"{label}: {message}")
        by_field.setdefault(name, []).append(message)
    return listed, by_field


def _use_idempotency_key(request: Request, key: str) -> None:
    """This request's ``Idempotency-Key``, as an API client would send it: the id of the movement
    it creates is derived from it (``api.movements.new_movement_id``)."""
    headers = request.scope["headers"]
    headers[:] = [(n, v) for n, v in headers if n != b"idempotency-key"] + [(b"idempotency-key", key.encode())]


@router.post("/movements", summary="Create a movement")
async def create_movement(request: Request, principal: UiPrincipal, db: Db) -> Response:
    api._require_role(principal)  # like the page: movement officers and supervisors
    posted = {k: str(v).strip() for k, v in (await request.form()).items() if k != "csrf_token"}
    if not _SUBMISSION.match(posted.get("submission", "")):
        posted["submission"] = secrets.token_urlsafe(18)
    body = _details_body(posted)
    try:
        details = MovementDetails.model_validate(body)
    except ValidationError as exc:
        listed, by_field = _field_errors(exc, posted)
        return _list_page(request, await _movements(principal, db), principal, posted, status=422,
                          problem=_("The movement was not created:") + " " + "; ".join(listed), errors=by_field)
    _use_idempotency_key(request, f"ui-movement-{posted['submission']}")
    try:
        created = await api.create_movement(details, principal, db, api._commands(request))
    except ApiError as exc:
        if exc.status not in (403, 409, 422, 503):
            raise
        named = "; ".join(f"{d.get('field')}: {d.get('reason')}" for d in exc.details
                          if isinstance(d, dict) and d.get("reason"))
        return _list_page(request, await _movements(principal, db), principal, posted, status=exc.status,
                          problem=_("The movement was not created:") + " " + exc.message
                          + (f" ({named})" if named else ""))
    response = redirect(f"{UI_PREFIX}/movements/{created.movement_id}")
    flash(request, response, "success", _("Movement %(flight)s created: add its cases, then lock the manifest.",
                                          flight=created.details.flight_number))
    return response


@router.get("/movements/{movement_id}", summary="A movement and its manifest")
async def movement_page(request: Request, movement_id: MovementId, principal: UiPrincipal, db: Db) -> Response:
    movement = await api.get_movement(movement_id, principal, db)
    return render(request, "movement.html", {"movement": movement, "here": request.url.path,
                                             "reason_max_length": REASON_MAX_LENGTH},
                  title=f"{movement.details.flight_number} · {movement.movement_id}")


@router.post("/movements/{movement_id}/{action}", summary="Act on a movement")
async def movement_action(request: Request, movement_id: MovementId,
                          action: Annotated[str, Path(pattern="^(add|remove|lock|departure|cancel|boarding|delay|"
                                                                  "arrival|needs)$")],
                          principal: UiPrincipal, db: Db) -> Response:
    posted = {k: str(v).strip() for k, v in (await request.form()).items()}
    response = redirect(f"{UI_PREFIX}/movements/{movement_id}")
    commands = api._commands(request)
    try:
        done = await _act(action, posted, movement_id, principal, db, commands)
    except ValidationError as exc:
        flash(request, response, "error", "; ".join(e["msg"] for e in exc.errors(include_url=False)))
        return response
    except ApiError as exc:
        if exc.status not in (403, 404, 409, 422):
            raise
        named = "; ".join(f"{d.get('member_name') or d.get('case_id') or d.get('field')}: {d.get('reason') or d.get('rule')}"
                          for d in exc.details if isinstance(d, dict))
        flash(request, response, "error", exc.message + (f" ({named})" if named else ""))
        return response
    flash(request, response, "success", done)
    return response


def _in_zone(value: str, zone: str) -> str:
    """A browser's date-time field has no offset: it is the departure airport's local time."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value  # the command's validation names the field
    return (moment if moment.tzinfo else moment.replace(tzinfo=time_zone(zone))).isoformat()


async def _act(action: str, posted: dict[str, Any], movement_id: str, principal: Any, db: Any, commands: Any) -> str:
    if action == "add":
        body = api.AddCaseBody.model_validate({"case_id": posted.get("case_id", "")})
        await api.add_case(movement_id, body, principal, db, commands)
        return f"Case {posted.get('case_id')} is on the manifest."
    if action == "remove":
        reason = api.ReasonBody.model_validate({"reason": posted.get("reason", "")})
        await api.remove_case(movement_id, posted.get("case_id", ""), reason, principal, db, commands)
        return f"Case {posted.get('case_id')} is off the manifest."
    if action == "lock":
        await api.lock_manifest(movement_id, principal, db, commands)
        return "The manifest is locked: every case is being booked on the flight."
    if action == "boarding":
        movement = await api.get_movement(movement_id, principal, db)
        records = [{"case_id": e.case_id, "member_id": p.member_id, "boarded": posted[f"boarded-{p.member_id}"] == "yes",
                    "reason": posted.get(f"reason-{p.member_id}") or None}
                   for e in movement.manifest for p in e.members if posted.get(f"boarded-{p.member_id}") in ("yes", "no")]
        if not records:
            raise ApiError(422, "invalid_command", "mark at least one person as boarded or not boarded")
        await api.record_boarding(movement_id, c.RecordBoarding.model_validate({"records": records}), principal, db,
                                  commands)
        return ngettext("Boarding recorded for %(num)s person.", "Boarding recorded for %(num)s people.",
                        len(records))
    if action == "needs":
        needs = [n.strip() for n in posted.get("needs", "").split(",") if n.strip()]
        movement = await api.get_movement(movement_id, principal, db)
        member_id = posted.get("member_id", "")
        case_id = next((e.case_id for e in movement.manifest if e.member(member_id) is not None), "")
        await api.record_needs(movement_id, case_id, member_id,
                               api.NeedsBody.model_validate({"needs": needs}), principal, db, commands)
        return "Needs recorded."
    if action == "delay":
        movement = await api.get_movement(movement_id, principal, db)
        delayed = c.DelayMovement.model_validate({"departure_at": _in_zone(posted.get("departure_at", ""),
                                                                           movement.details.departure_time_zone),
                                                  "reason": posted.get("reason", "")})
        view = await api.delay_movement(movement_id, delayed, principal, db, commands)
        named = "; ".join(p.message for p in view.delay_problems)
        return "The flight is delayed: every booked case is being moved to the new time." + (
            f" Back to rebooking: {named}" if named else "")
    if action == "arrival":
        arrived = c.ConfirmArrival.model_validate({"arrived_on": posted.get("arrived_on", ""),
                                                   "place": posted.get("place", ""),
                                                   "receiving_partner": posted.get("receiving_partner") or None})
        await api.confirm_arrival(movement_id, arrived, principal, db, commands)
        return "Arrival confirmed: it is being recorded on every case that departed."
    if action == "departure":
        departed = posted.get("departed_at") or datetime.now(UTC).isoformat()
        await api.confirm_departure(movement_id, c.ConfirmDeparture.model_validate({"departed_at": departed}),
                                    principal, db, commands)
        return "Departure confirmed: it is being recorded on every case of the manifest."
    reason = api.ReasonBody.model_validate({"reason": posted.get("reason", "")})
    await api.cancel_movement(movement_id, reason, principal, db, commands)
    return "The movement is cancelled: its cases go back to booking."
