"""Group movements for movement officers and supervisors: the list with the form that creates a
movement, and a movement's page with its manifest, seats, the cases taken off and the fan-out's
progress, where cases are added and the manifest is locked, the departure confirmed or the
movement cancelled.  The UI face of ``/api/v1/movements``: every action goes through the same
route functions (same rules, same audit).

The creation form carries a random token of its own (``submission``, made when the form is
shown and kept when it comes back refused): it is the creation's ``Idempotency-Key``, so the
same form sent twice (a double click, a reload) creates one movement, as the API does for a
client that sends the same key again.  The form itself is generated from ``MovementDetails``'
JSON Schema (``api.ui.schema_form``, as the referral and task forms are): its fields, limits,
rows of transit points and escorts, and errors in plain words next to their fields.  Every time
is typed as the wall clock of its airport: the departure in the zone chosen on the form, the
arrival and each transit point's times in their airport's zone (the IATA airports table), each
with that zone's offset on its day; the UTC offset beside an arrival or transit time counts only
for an airport the table has no zone for."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import ValidationError
from starlette.responses import Response

from api.deps import Db
from api.airports import time_zone_of
from api.errors import ApiError
from api.readmodel import office_time_zone
from api.routes import movements as api
from api.ui.creation_forms import already_created, offset_of, submission_token, time_zones, use_idempotency_key
from api.ui.i18n import gettext as _
from api.ui.formatting import humanize
from api.ui.i18n import ngettext
from api.ui.plain_errors import plain_query_reason
from api.ui.rendering import UiRoute, redirect, render
from api.ui.schema_form import UTC_OFFSETS, BoundForm, Option, row_key
from api.ui.security import UI_PREFIX
from api.ui.session import UiPrincipal, flash, flash_refusal
from domain.movements import commands as c
from domain.movements.model import MovementDetails
from domain.offices import time_zone

router = APIRouter(route_class=UiRoute)
MovementId = Annotated[str, Path(pattern=r"^MV-[0-9A-F]{16}$")]

# The API's own limit, read from its model: a form never allows more than the route accepts.
REASON_MAX_LENGTH: int = api.ReasonBody.model_json_schema()["properties"]["reason"]["maxLength"]
OPTIONAL_LISTS = ("transit", "escorts")  # shown without rows until "Add" is pressed
TRANSIT_TIMES = ("arrives_at", "departs_at")


def _form(principal: Any, posted: Any = None) -> BoundForm:
    """The creation form generated from ``MovementDetails``' JSON Schema (the one the API
    serves), with the user's offices and the time zones to choose from; blank: the user's
    first office and its zone, no transit point or escort rows until added."""
    schema = MovementDetails.model_json_schema()
    form = BoundForm.submitted(schema, posted) if posted is not None else BoundForm.blank(schema)
    form.with_field("office", kind="select", options=tuple(Option(o, o) for o in principal.offices), pattern=None,
                    help=None)
    form.with_field("departure_time_zone", kind="select", options=time_zones())
    form.with_field("departure_at", local_to="departure_time_zone",
                    help=_("The departure airport's local time, in the time zone above."))
    form.with_field("arrival_at", help=_("The arrival airport's local time, read in its time zone; the UTC offset "
                                         "counts only for an airport without a known time zone."))
    transit = next(f for f in form.fields if f.name == "transit")
    form.with_field("transit", items=tuple(
        replace(i, help=_("The transit airport's local time, read in its time zone; the UTC offset counts only for an "
                          "airport without a known time zone.")) if i.name in TRANSIT_TIMES else i
        for i in transit.items))
    zone = next(f for f in form.fields if f.name == "departure_time_zone")  # asked before the times in it
    form.fields.remove(zone)
    form.fields.insert(next(i for i, f in enumerate(form.fields) if f.name == "departure_at"), zone)
    if posted is None:
        office = principal.offices[0] if principal.offices else ""
        form.values.update({"office": office, "departure_time_zone": office_time_zone(office) if office else "UTC"})
        for name in OPTIONAL_LISTS:
            form.rows[name] = 0
    return form


def _airport_time(typed: str, airport: Any, posted: Any) -> Any:
    """A wall clock typed for an airport (``2026-12-10T14:00`` at YYZ) in that airport's zone,
    with the offset the zone has on that day (``-05:00``); ``posted`` (the typed time with the
    offset chosen beside it) for an airport the IATA table has no zone for, or a time that
    does not read (the form model names the field)."""
    zone = time_zone_of(airport.strip().upper()) if isinstance(airport, str) and airport.strip() else None
    if zone is None or not typed:
        return posted
    try:
        moment = datetime.fromisoformat(typed)
    except ValueError:
        return posted
    return moment.replace(tzinfo=zone).isoformat() if moment.tzinfo is None else posted


def _in_airport_zones(payload: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The form's payload with the arrival and each transit point's times read in their
    airport's zone, as the departure is read in its own: an officer in Istanbul typing a
    14:00 arrival at YYZ means 14:00 in Toronto, whatever offset the select beside it shows."""
    if payload.get("arrival_at"):
        payload["arrival_at"] = _airport_time(str(values.get("arrival_at", "")), payload.get("arrival_airport"),
                                              payload["arrival_at"])
    for row, point in enumerate(payload.get("transit") or []):
        if not isinstance(point, dict):
            continue
        for name in TRANSIT_TIMES:
            if point.get(name):
                point[name] = _airport_time(str(values.get(row_key("transit", row, name), "")), point.get("airport"),
                                            point[name])
    return payload


def _list_page(request: Request, movements: list[Any], form: BoundForm, submission: str, *,
               problem: str | None = None, status: int = 200) -> Response:
    return render(request, "movements.html",
                  {"movements": movements, "form": form, "submission": submission, "problem": problem,
                   "utc_offsets": UTC_OFFSETS, "office_offset": offset_of(form.values.get("departure_time_zone", ""))},
                  status=status, title="Group movements")


async def _movements(principal: Any, db: Any) -> list[Any]:
    found = await api.list_movements(principal, db, status=None, departs_from=None, departs_until=None,
                                     case_id=None, offset=0, limit=100)
    return found.items


@router.get("/movements", summary="Group movements of my offices, and the form that creates one")
async def movement_list(request: Request, principal: UiPrincipal, db: Db) -> Response:
    return _list_page(request, await _movements(principal, db), _form(principal), submission_token())


@router.post("/movements", summary="Create a movement")
async def create_movement(request: Request, principal: UiPrincipal, db: Db) -> Response:
    api._require_role(principal)  # like the page: movement officers and supervisors
    posted = await request.form()
    form, submission = _form(principal, posted), submission_token(posted)
    if form.row_action(posted):  # a transit point or escort added or removed: the same form, nothing sent
        return _list_page(request, await _movements(principal, db), form, submission)
    not_created = _("The movement was not created:")
    try:
        details = MovementDetails.model_validate(_in_airport_zones(form.payload(), form.values))
    except ValidationError as exc:
        form.add_errors([{"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"]} for e in exc.errors()])
        return _list_page(request, await _movements(principal, db), form, submission, status=422,
                          problem=not_created + " " + _("correct the fields marked below and submit again."))
    use_idempotency_key(request, f"ui-movement-{submission}")
    try:
        created = await api.create_movement(details, principal, db, api._commands(request))
    except ApiError as exc:
        if exc.status not in (403, 409, 422, 503):
            raise
        if exc.code == "movement_exists":  # this form created one already (sent back changed): a new form now
            return _list_page(request, await _movements(principal, db), form, submission_token(), status=409,
                              problem=already_created(exc.message))
        form.add_errors([d for d in exc.details if isinstance(d, dict)])
        return _list_page(request, await _movements(principal, db), form, submission, status=exc.status,
                          problem=f"{not_created} {exc.message}.")
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
        flash_refusal(request, response, 422, _plain(exc))
        return response
    except ApiError as exc:
        if exc.status not in (403, 404, 409, 422):
            raise
        # each detail once: a refusal whose message says it already (a delay's times, a case that
        # cannot join) is not repeated
        named = "; ".join(f"{d.get('member_name') or d.get('case_id') or d.get('field')}: {d.get('reason') or d.get('rule')}"
                          for d in exc.details if isinstance(d, dict) and not (
                              (said := d.get("reason") or d.get("rule")) and str(said) in exc.message))
        flash_refusal(request, response, exc.status, exc.message + (f" ({named})" if named else ""))
        return response
    flash(request, response, "success", done)
    return response


def _plain(exc: ValidationError) -> str:
    """A refused field in plain words (api/ui/plain_errors.py), named by its label."""
    return "; ".join(f"{humanize(e['loc'][-1]) if e.get('loc') else ''}: {plain_query_reason(e)}".lstrip(": ")
                     for e in exc.errors(include_url=False))


def _in_zone(value: str, zone: str) -> str:
    """A browser's date-time field has no offset: it is the departure airport's local time."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value  # the command's validation names the field
    return (moment if moment.tzinfo else moment.replace(tzinfo=time_zone(zone))).isoformat()


async def _act(action: str, posted: dict[str, Any], movement_id: str, principal: Any, db: Any, commands: Any) -> str:
    if action == "add":
        case_id = posted.get("case_id", "").upper()  # typed as c-563p-...: case ids are upper case
        body = api.AddCaseBody.model_validate({"case_id": case_id})
        await api.add_case(movement_id, body, principal, db, commands)
        return _("Case %(case)s is on the manifest.", case=case_id)
    if action == "remove":
        reason = api.ReasonBody.model_validate({"reason": posted.get("reason", "")})
        await api.remove_case(movement_id, posted.get("case_id", ""), reason, principal, db, commands)
        return _("Case %(case)s is off the manifest.", case=posted.get("case_id", ""))
    if action == "lock":
        await api.lock_manifest(movement_id, principal, db, commands)
        return _("The manifest is locked: every case is being booked on the flight.")
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
        return _("Needs recorded.")
    if action == "delay":
        movement = await api.get_movement(movement_id, principal, db)
        delayed = c.DelayMovement.model_validate({"departure_at": _in_zone(posted.get("departure_at", ""),
                                                                           movement.details.departure_time_zone),
                                                  "reason": posted.get("reason", "")})
        view = await api.delay_movement(movement_id, delayed, principal, db, commands)
        named = "; ".join(p.message for p in view.delay_problems)
        # The seats recounted for the new day (a baby who turned 2): the officer takes a case off.
        seats = "; ".join(p.message for p in view.rule_check if p.rule in ("capacity", "infant_without_adult"))
        return _("The flight is delayed: every booked case is being moved to the new time.") + (
            " " + _("Back to rebooking: %(cases)s", cases=named) if named else "") + (
            " " + _("Seats on the new day: %(problems)s", problems=seats) if seats else "")
    if action == "arrival":
        arrived = c.ConfirmArrival.model_validate({"arrived_on": posted.get("arrived_on", ""),
                                                   "place": posted.get("place", ""),
                                                   "receiving_partner": posted.get("receiving_partner") or None})
        await api.confirm_arrival(movement_id, arrived, principal, db, commands)
        return _("Arrival confirmed: it is being recorded on every case that departed.")
    if action == "departure":
        departed = posted.get("departed_at") or datetime.now(UTC).isoformat()
        await api.confirm_departure(movement_id, c.ConfirmDeparture.model_validate({"departed_at": departed}),
                                    principal, db, commands)
        return _("Departure confirmed: it is being recorded on every case of the manifest.")
    reason = api.ReasonBody.model_validate({"reason": posted.get("reason", "")})
    await api.cancel_movement(movement_id, reason, principal, db, commands)
    return _("The movement is cancelled: its cases go back to booking.")
