"""Cases: refer, list, read, and read their event history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, Field

from api import policy, readmodel
from api.auth import CurrentPrincipal
from api.case_filters import CaseListFilter, Day, Instant
from api.commands import CaseAlreadyClosed
from api.deps import Commands, Db, lent_back
from api.errors import ERROR_RESPONSES, ApiError, ErrorBody
from api.idempotency import Idempotency
from api.schemas import CaseDetail, CaseSummary, EventView, Page, ReferralAccepted
from domain.case import referral_fingerprint
from api.ui.timeline import TimelineEntry, timeline
from domain.model import CaseStatus, Country, Priority, ProgrammeName, Referral, Stage
from domain.referral_request import ReferralRequest
from domain.programmes.registry import any_spec
from store.projection import read_rebuilt_projection

router = APIRouter(prefix="/api/v1/cases", tags=["cases"], responses={401: ERROR_RESPONSES[401]})


async def _visible_case(db: Db, principal: CurrentPrincipal, case_id: str) -> CaseDetail:
    case = await readmodel.get_case(db, case_id)
    policy.require_case_visible(principal, case_id, case.office if case else None)
    assert case is not None
    return policy.redact_case(case, principal)


@router.post(
    "",
    response_model=CaseDetail,
    status_code=201,
    summary="Refer a resettlement or AVRR case (idempotent on external_referral_id)",
    description="Answers with the recorded case (201), readable at once.  With `Prefer: respond-async` "
                "(bulk senders) a new referral is answered 202 as soon as the case's workflow has accepted "
                "it (checked by the case's rules and held durably in its history), before it is recorded: "
                "`GET` the `case_url` (also the `Location` header) shows the case once recorded, 404 until then.",
    responses={200: {"model": CaseDetail, "description": "This referral had already opened the case."},
               202: {"model": ReferralAccepted,
                     "description": "With `Prefer: respond-async`: accepted, being recorded (a referral the read "
                                    "model already knows is answered 200/201 as without the header)."},
               400: {"model": ErrorBody, "description": "An invalid Idempotency-Key header."},
               403: ERROR_RESPONSES[403], 409: ERROR_RESPONSES[409], 422: ERROR_RESPONSES[422]},
)
async def refer_case(body: ReferralRequest, principal: CurrentPrincipal, db: Db, commands: Commands,
                     request: Request, response: Response,
                     idempotency_key: Annotated[str | None, Header(
                         description="Optional: the same key again with the same body returns the first answer; "
                                     "with another body 422 (see README, 'The integration inbox').")] = None,
                     prefer: Annotated[str | None, Header(
                         description="`respond-async`: answer 202 once the referral is accepted, without waiting "
                                     "for it to be recorded (RFC 7240).")] = None) -> Any:
    referral = body.as_referral()  # the names were checked as typed; the workflow takes the plain Referral
    policy.require_may_refer(principal, referral.office)
    idem = Idempotency(request, db, f"user:{principal.username}")
    replay = await idem.begin()
    if replay is not None:
        return replay
    try:
        known = await readmodel.find_case_by_referral(db, referral.external_referral_id)
        accepted: ReferralAccepted | None = None
        if known is None and _respond_async(prefer):
            async with lent_back(db):  # not held while the workflow is awaited (api.deps)
                accepted = await _accept(referral, principal, commands, request)
        if accepted is not None:
            body = accepted.model_dump(mode="json")
            await idem.finish(202, body)
            return JSONResponse(body, status_code=202, headers={"Location": accepted.case_url,
                                                                "Preference-Applied": "respond-async"})
        case = await _refer(referral, known, principal, db, commands, request, response)
    except BaseException:
        await idem.abandon()
        raise
    await idem.finish(response.status_code or 201, case.model_dump(mode="json"))
    return case


def _respond_async(prefer: str | None) -> bool:
    """RFC 7240: ``Prefer: respond-async`` (among other preferences, any case)."""
    return prefer is not None and any(p.split(";")[0].strip().lower() == "respond-async" for p in prefer.split(","))


async def _accept(referral: Referral, principal: CurrentPrincipal, commands: Commands,
                  request: Request) -> ReferralAccepted | None:
    case_id = commands.case_id_for(referral.external_referral_id)
    request.state.audit_case_id = case_id
    try:
        await commands.accept_referral(referral, principal.actor, case_id)
    except CaseAlreadyClosed:
        return None  # this id's workflow has finished: the synchronous path says what it was
    return ReferralAccepted(case_id=case_id, case_url=f"/api/v1/cases/{case_id}")


async def _refer(referral: Referral, known: readmodel.KnownReferral | None, principal: CurrentPrincipal, db: Db, commands: Commands,
                 request: Request, response: Response) -> CaseDetail:
    case_id = known.case_id if known else commands.case_id_for(referral.external_referral_id)
    request.state.audit_case_id = case_id
    if known is not None and not policy.may_see_case(principal, known.office):
        # Another office's case: refused without naming it or showing anything of it.
        raise ApiError(409, "referral_id_in_use",
                       f"referral id {referral.external_referral_id} is already in use by a case your offices do "
                       "not work on; check the id with the referring organisation", [
                           {"field": "body.external_referral_id", "reason": "already used by another office's case"}])
    # Always through the workflow, even for a referral the read model already shows: the
    # read model alone cannot say that history holds the case (a referral whose first try
    # was lost in a Temporal outage must be sent again, not answered from PostgreSQL).
    try:
        async with lent_back(db):
            created = (await commands.refer(referral, principal.actor, case_id)).created
    except CaseAlreadyClosed:
        created = False
        if known is not None and known.fingerprint != referral_fingerprint(referral):
            raise _conflict(referral, case_id) from None
    case = await _visible_case(db, principal, case_id)
    response.status_code = 201 if created else 200
    return case


def _conflict(referral: Referral, case_id: str) -> ApiError:
    return ApiError(409, "referral_conflict",
                    f"referral {referral.external_referral_id} already opened case {case_id} with different "
                    "data; correct the case instead of referring it again")


@router.get("", response_model=Page[CaseSummary], summary="List cases, newest referral first")
async def list_cases(
    principal: CurrentPrincipal,
    db: Db,
    stage: Stage | None = None,
    status: CaseStatus | None = None,
    office: Annotated[str | None, Query(max_length=32)] = None,
    programme: ProgrammeName | None = None,
    priority: Priority | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in a member's name or the external id")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    destination: Annotated[Country | None, Query(description="Destination country (ISO 3166 alpha-2)")] = None,
    origin: Annotated[Country | None, Query(description="Country of origin (ISO 3166 alpha-2)")] = None,
    nationality: Annotated[Country | None, Query(description="Cases with a member of this nationality")] = None,
    referred_since: Instant | None = None, referred_before: Instant | None = None,
    departed_since: Instant | None = None, departed_before: Instant | None = None,
    closed_since: Instant | None = None, closed_before: Instant | None = None,
    arrived_since: Day | None = None, arrived_before: Day | None = None,
) -> Page[CaseSummary]:
    """Country and date filters (``*_since`` inclusive, ``*_before`` exclusive) list the cases
    behind a report's figure (``api/case_filters.py``)."""
    more = CaseListFilter(
        destination=destination, origin=origin, nationality=nationality,
        referred_since=referred_since, referred_before=referred_before, departed_since=departed_since,
        departed_before=departed_before, closed_since=closed_since, closed_before=closed_before,
        arrived_since=arrived_since, arrived_before=arrived_before)
    if problems := more.inverted():
        raise ApiError(422, "invalid_request", "; ".join(f"{p['field']}: {p['reason']}" for p in problems), problems)
    return await readmodel.list_cases(
        db, offices=policy.visible_offices(principal), stage=stage, status=status.value if status else None,
        office=office, programme=programme, priority=priority, text=q, cursor=cursor, limit=limit, more=more,
    )


@router.get("/{case_id}", response_model=CaseDetail, summary="A case's current state, or its state at a time",
            responses={404: ERROR_RESPONSES[404], 422: ERROR_RESPONSES[422]})
async def get_case(case_id: str, principal: CurrentPrincipal, db: Db, as_of: Annotated[AwareDatetime | None, Query(
        description="The case as it stood then (ISO 8601 with a time zone): the fold of the events that had "
                    "happened by that time, e.g. 'what did we know when we booked that flight?'. Open tasks "
                    "are those open then; claims are today's.")] = None) -> CaseDetail:
    if as_of is None:
        return await _visible_case(db, principal, case_id)
    policy.require_case_visible(principal, case_id, await readmodel.case_office(db, case_id))
    then = await read_rebuilt_projection(db, case_id, lambda conn: readmodel.get_case(conn, case_id), as_of=as_of)
    if then is None:
        raise ApiError(404, "case_not_found", f"case {case_id} had not been referred by {as_of.isoformat()}",
                       [{"field": "query.as_of", "reason": "before the case's referral"}])
    return policy.redact_case(then, principal)


class HistoryActor(BaseModel):
    kind: str = Field(description="user, integration or system (a timer of the engine).")
    id: str
    role: str | None
    label: str = Field(description="As people read it, e.g. 'ayse (caseworker)' or 'Itinera (automatic)'.")


class HistoryTask(BaseModel):
    task_id: str
    task_type: str | None
    title: str | None


class HistoryEntry(BaseModel):
    seq: int
    type: str = Field(description="The domain event, past tense: CaseReferred, TaskCompleted, ...")
    title: str
    occurred_at: datetime
    actor: HistoryActor
    stage_before: Stage | None
    stage_after: Stage | None
    task: HistoryTask | None = Field(description="The task the event opened, completed or concerns.")
    details: list[tuple[str, str]] = Field(description="The facts that matter, readable: (label, value).")
    data: dict[str, Any] = Field(description="The event's data as recorded (health details only for those "
                                             "allowed to read them).")
    withheld: bool = Field(description="True when health details were left out for this caller.")


class HistoryPage(BaseModel):
    items: list[HistoryEntry] = Field(description="Newest first.")
    next_before_seq: int | None = Field(description="Pass as before_seq for the next (older) page.")


@router.get("/{case_id}/history", response_model=HistoryPage,
            responses={404: ERROR_RESPONSES[404], 422: ERROR_RESPONSES[422]},
            summary="The case's history: who did what, when, at which stage, and why, newest first")
async def case_history(
    case_id: str, principal: CurrentPrincipal, db: Db,
    event_type: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z]+$",
                                            description="Only this event type, e.g. TaskCompleted.")] = None,
    actor: Annotated[str | None, Query(max_length=64, description="Only events by this user or key id, or "
                                                                  "'system' for the engine's timers.")] = None,
    since: Annotated[AwareDatetime | None, Query(description="Only events at or after this time; not after "
                                                             "until.")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Only events at or before this time; not before "
                                                             "since.")] = None,
    before_seq: Annotated[int | None, Query(ge=1, le=2_147_483_647, description="Page: events older than this.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> HistoryPage:
    if since is not None and until is not None and since > until:
        # An inverted range selects nothing by mistake: refused, as the reports refuse theirs.
        reason = f"since ({since.isoformat()}) is after until ({until.isoformat()})"
        raise ApiError(422, "invalid_request", f"the request is invalid: {reason}", [
            {"field": "query.since", "reason": f"after until ({until.isoformat()})", "allowed": "a time at or before until"},
            {"field": "query.until", "reason": f"before since ({since.isoformat()})", "allowed": "a time at or after since"}])
    case = await _visible_case(db, principal, case_id)
    entries = [e for e in timeline(await readmodel.list_events(db, case_id), case, principal)
               if (event_type is None or e.type == event_type)
               and (actor is None or (e.event is not None and (e.event.actor.id == actor or e.event.actor.kind == actor)))
               and (since is None or e.occurred_at >= since) and (until is None or e.occurred_at <= until)
               and (before_seq is None or e.seq < before_seq)]
    page = entries[:limit]
    return HistoryPage(items=[_history_entry(e) for e in page],
                       next_before_seq=page[-1].seq if len(entries) > limit else None)


def _task_title(task_type: str | None) -> str | None:
    if task_type is None:
        return None
    try:
        return any_spec(task_type).title
    except KeyError:  # a programme no longer registered: its stored name still reads
        return task_type


def _history_entry(entry: TimelineEntry) -> HistoryEntry:
    assert entry.event is not None
    who = entry.event.actor
    return HistoryEntry(
        seq=entry.seq, type=entry.type, title=entry.title, occurred_at=entry.occurred_at,
        actor=HistoryActor(kind=who.kind, id=who.id, role=who.role, label=entry.actor),
        stage_before=Stage(entry.stage_before) if entry.stage_before else None,
        stage_after=Stage(entry.stage_after) if entry.stage_after else None,
        task=HistoryTask(task_id=entry.task_id, task_type=entry.task_type,
                         title=_task_title(entry.task_type)) if entry.task_id else None,
        details=entry.details, data=entry.data, withheld=entry.withheld)


@router.get("/{case_id}/events", response_model=list[EventView], summary="The case's domain events, in order",
            responses={404: ERROR_RESPONSES[404]})
async def list_case_events(case_id: str, principal: CurrentPrincipal, db: Db) -> list[EventView]:
    policy.require_case_visible(principal, case_id, await readmodel.case_office(db, case_id))
    return [shown for shown, _ in policy.redact_events(await readmodel.list_events(db, case_id), principal)]
