"""The API's write side: every change is a Temporal Update to the case's workflow.

A rejection decided by the workflow's validator comes back as an ``ApplicationError``
whose type is a ``RejectionCode``; it is turned into the matching HTTP error here, so
routes never see Temporal exceptions.

Exactly once: every command carries an update id that Temporal deduplicates within the
case's run.  A task completion's id is derived from what it says (task, actor, form), so
the same completion sent again (a client retrying after a 503) attaches to the first one
and gets its answer instead of being applied twice; any other command's id comes from the
request's ``Idempotency-Key`` header when it has one (with the body, so the same key with
another body is another command), else it is fresh.

Outages answer 503 with ``Retry-After`` within ``ITINERA_COMMAND_TIMEOUT_SECONDS``, never
500 and never a hang: Temporal unreachable, an update Temporal lost while restarting, or
a command not answered in time (still in flight: it will be applied once, and sending it
again with the same id returns its outcome).

Each programme has its own workflow type (``ResettlementCase``, ``AvrrCase``); a referral
starts the one of its programme.  Both answer the same updates (``refer``,
``complete_task``, ``act``), so commands to an existing case need not know its type.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import REJECTION_STATUS, ApiError
from api.request_context import current_idempotency_key, current_stamp, mark_audited_with_command
from domain.destination_services import CaseServices
from domain.errors import RejectionCode
from domain.identity import case_id_for
from domain.model import Actor, Referral
from domain.referral_request import ReferralRequest
from domain.programmes.resettlement.orientation import ORIENTATION_MIN_AGE
from domain.programmes.registry import definition_of, names
from domain.offices import (
    DEFAULT_TIME_ZONE,
    EXIT_PERMISSIONS,
    OFFICE_COUNTRIES,
    OFFICE_TIME_ZONES,
    exit_permission_of,
    host_country_problem,
    office_time_zone,
)
from domain.case import CaseAction
from domain.records import (
    AuditStamp,
    CaseActionRequest,
    CaseWorkflowInput,
    CommandOutcome,
    CompleteTaskRequest,
    ReferCaseRequest,
    ReferralOutcome,
)
from workflows.case_workflow import CaseWorkflow
from workflows.creation import DEFAULT_GRACE_SECONDS
from workflows.case_types import CASE_WORKFLOWS, workflow_type_name


class _WorkflowTypes(Mapping[str, type[CaseWorkflow]]):
    """Programme name -> the workflow class its cases run as (``ProgrammeDefinition.workflow_type``)."""

    _BY_TYPE = {workflow_type_name(cls): cls for cls in CASE_WORKFLOWS}

    def __getitem__(self, programme: str) -> type[CaseWorkflow]:
        return self._BY_TYPE[definition_of(programme).workflow_type]

    def __iter__(self) -> Iterator[str]:
        return iter(names())

    def __len__(self) -> int:
        return len(names())


WORKFLOW_TYPES = _WorkflowTypes()


ENGINE_RETRY_AFTER_SECONDS = 5

# RPC statuses that mean "Temporal is not there right now", not "the request is wrong".
_UNAVAILABLE = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED,
                RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.ABORTED, RPCStatusCode.UNKNOWN,
                RPCStatusCode.INTERNAL}

# Failures of recording (not rejections by the case's rules): the input could not be stored,
# or the event store disagrees with the workflow (a defect: `itinera check` reports it).
_RECORDING_FAILURES = {"unstorable_input": 422, "recording_conflict": 409, "event_store_conflict": 500,
                       "recording_failed": 500}


class CaseAlreadyClosed(Exception):
    """The referral's case exists but its workflow has finished; serve it from the read model."""


def engine_unavailable(message: str) -> ApiError:
    return ApiError(503, "engine_unavailable", message,
                    headers={"Retry-After": str(ENGINE_RETRY_AFTER_SECONDS)})


def _digest(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def _update_id(kind: str, actor: Actor, *content: Any, natural: bool = False) -> str | None:
    """The Temporal update id of a command (see the module docstring); None: a fresh one."""
    key = current_idempotency_key()
    if key is not None:
        return f"{kind}-key-{_digest(actor.kind, actor.id, key, *content)}"
    if natural:
        return f"{kind}-{_digest(actor.kind, actor.id, *content)}"
    return None


async def ended_empty(client: Client, workflow_id: str, start: WithStartWorkflowOperation[Any, Any]) -> bool:
    """Whether the finished workflow of this id is one whose creation (a referral, a movement,
    a session) was refused and never came again: it ended with no result
    (``workflows/creation.py``), so the same request may start it anew.  The start
    operation's own outcome is read, so that its error is not logged later as "never retrieved"."""
    with contextlib.suppress(Exception):
        await start.workflow_handle()
    try:
        return await client.get_workflow_handle(workflow_id).result(follow_runs=False) is None
    except Exception:  # failed, terminated or unreadable: not an empty one
        return False


class CaseCommands:
    def __init__(self, client: Client, task_queue: str, timeout: timedelta = timedelta(seconds=15),
                 arrival_confirmation_days: int = 3, avrr_monitoring_months: tuple[int, ...] = (3, 6, 12),
                 case_id_key: bytes | None = None, office_time_zones: Mapping[str, str] | None = None,
                 default_time_zone: str = DEFAULT_TIME_ZONE,
                 services_for: Callable[[str | None], Awaitable[CaseServices | None]] | None = None,
                 exit_permissions: Mapping[str, str] | None = None,
                 nothing_created_grace_seconds: int = DEFAULT_GRACE_SECONDS,
                 office_countries: Mapping[str, str] | None = None):
        self._grace = nothing_created_grace_seconds
        # office -> its host country (domain.offices.OFFICE_COUNTRIES): no destination there
        self._office_countries = dict(OFFICE_COUNTRIES if office_countries is None else office_countries)
        # office -> the exit permission its host state requires (domain.offices.EXIT_PERMISSIONS)
        self._exit_permissions = dict(EXIT_PERMISSIONS if exit_permissions is None else exit_permissions)
        self._client = client
        # The destination's current profile, which a new case records and follows
        # (``domain.destination_services``); None: no profiles, every stage applies.
        self._services_for = services_for
        self._case_id_key = case_id_key
        self._task_queue = task_queue
        self._timeout = timeout.total_seconds()
        self._arrival_confirmation_days = arrival_confirmation_days
        self._avrr_monitoring_months = list(avrr_monitoring_months)
        self._office_time_zones = dict(OFFICE_TIME_ZONES if office_time_zones is None else office_time_zones)
        self._default_time_zone = default_time_zone

    def case_id_for(self, external_referral_id: str) -> str:
        """The id a new referral's case gets (keyed: see ``domain.identity``)."""
        return case_id_for(external_referral_id, self._case_id_key)

    async def refer(self, referral: Referral, actor: Actor, case_id: str | None = None,
                    audit: AuditStamp | None = None) -> ReferralOutcome:
        """Open the case of a referral, or find the one it already opened (update-with-start).

        ``case_id``: the case the read model knows for this referral id (cases opened before
        ids were keyed keep theirs); else derived.  Always sent to the workflow, also for a
        referral the read model already knows: only the workflow's answer says that the
        case exists in history."""
        self.check_admission(referral)
        case_id = case_id or self.case_id_for(referral.external_referral_id)
        outcome: ReferralOutcome = await self._with_start(
            case_id, referral, actor, audit or current_stamp(201),
            # No fixed update id: a referral is idempotent in the workflow itself (the same
            # referral again decides nothing and answers created=False).
            lambda start, request: self._client.execute_update_with_start_workflow(
                CaseWorkflow.refer, request, start_workflow_operation=start))
        if outcome.created:
            mark_audited_with_command()
        return outcome

    async def accept_referral(self, referral: Referral, actor: Actor, case_id: str | None = None) -> str:
        """``refer`` without waiting for the recording (``Prefer: respond-async``): returns the
        case id as soon as the case's workflow has *accepted* the referral, i.e. its validator
        (the case's rules) passed and the acceptance is in history, so it will be recorded,
        through any outage, exactly once.  A referral the rules refuse is refused here, as by
        ``refer``.  The audit row is the request's own (the middleware's, 202): the recording
        writes none, since the request did not wait for it."""
        self.check_admission(referral)
        case_id = case_id or self.case_id_for(referral.external_referral_id)
        await self._with_start(case_id, referral, actor, None, lambda start, request: (
            self._client.start_update_with_start_workflow(CaseWorkflow.refer, request, start_workflow_operation=start,
                                                          wait_for_stage=WorkflowUpdateStage.ACCEPTED)))
        return case_id

    def check_admission(self, referral: Referral | ReferralRequest, at: str = "") -> None:
        """The referral rules that need the deployment's settings: a destination that is the
        referring office's host country is refused (an admission rule: every way a referral
        comes in passes here, a recorded one is never judged by it).  An integration message's
        intake asks it too (``at="referral."``), so the partner hears the refusal at once
        instead of reading it later as a failed delivery."""
        field = "destination_country" if referral.destination_country is not None else "origin_country"
        problem = host_country_problem(referral.office, getattr(referral, field), self._office_countries)
        if problem is not None:
            raise ApiError(422, "invalid_request", f"the referral is invalid: {at}{field}: {problem[0]}",
                           [{"field": f"{at}{field}", "reason": problem[0], "allowed": problem[1]}])

    def check_host_country(self, office: str, country: str | None, field: str, what: str) -> None:
        """The host-country rule for a destination chosen later than the referral (a review's
        resubmission): the same 422 as ``check_admission``, at ``field``."""
        problem = host_country_problem(office, country, self._office_countries)
        if problem is not None:
            raise ApiError(422, "invalid_form", f"the {what} form is invalid: {field}: {problem[0]}",
                           [{"field": field, "reason": problem[0], "allowed": problem[1], "type": "case_rule"}])

    async def _referral(self, referral: Referral, actor: Actor, case_id: str, audit: AuditStamp | None,
                        reuse: WorkflowIDReusePolicy) -> tuple[WithStartWorkflowOperation[Any, Any], ReferCaseRequest]:
        start = WithStartWorkflowOperation(
            WORKFLOW_TYPES[referral.programme].run,  # type: ignore[attr-defined]
            CaseWorkflowInput(case_id=case_id, nothing_created_grace_seconds=self._grace),
            id=case_id,
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=reuse,
        )
        services = await self._services_for(referral.destination_country) if self._services_for else None
        request = ReferCaseRequest(referral=referral, actor=actor, audit=audit, services=services,
                                   arrival_confirmation_days=self._arrival_confirmation_days,
                                   # programme terms: a programme without monitoring visits ignores them
                                   monitoring_months=self._avrr_monitoring_months,
                                   office_time_zone=office_time_zone(referral.office, self._office_time_zones,
                                                                     self._default_time_zone),
                                   orientation_min_age=ORIENTATION_MIN_AGE,
                                   exit_permission=exit_permission_of(referral.office, self._exit_permissions))
        return start, request

    async def _with_start(self, case_id: str, referral: Referral, actor: Actor, audit: AuditStamp | None,
                          send: Callable[[WithStartWorkflowOperation[Any, Any], ReferCaseRequest], Awaitable[Any]]) -> Any:
        """The referral's update-with-start.  A finished workflow of this id is a closed case,
        unless it ended empty (its referral was refused and not sent again in time,
        ``workflows/creation.py``): the referral then starts it anew."""
        for reuse in (WorkflowIDReusePolicy.REJECT_DUPLICATE, WorkflowIDReusePolicy.ALLOW_DUPLICATE):
            start, request = await self._referral(referral, actor, case_id, audit, reuse)
            try:
                return await self._await(send(start, request))
            except WorkflowAlreadyStartedError:
                if reuse == WorkflowIDReusePolicy.REJECT_DUPLICATE and await ended_empty(self._client, case_id, start):
                    continue
                raise CaseAlreadyClosed(case_id) from None
            except RPCError as exc:
                raise await self._rpc_error(case_id, exc) from None
        raise CaseAlreadyClosed(case_id)

    async def complete_task(self, case_id: str, task_id: str, form: dict[str, Any], actor: Actor,
                            audit: AuditStamp | None = None) -> CommandOutcome:
        """``audit``: the stamp of a completion sent outside a request (the integration inbox)."""
        return await self._update(case_id, CaseWorkflow.complete_task,
                                  CompleteTaskRequest(task_id=task_id, form=form, actor=actor,
                                                      audit=audit or current_stamp()),
                                  _update_id("complete", actor, task_id, form, natural=True))

    async def act(self, case_id: str, action: CaseAction, actor: Actor) -> CommandOutcome:
        """A case-level action (withdraw, hold, resume, reassign, note, member correction,
        consent withdrawal)."""
        return await self._update(case_id, CaseWorkflow.act,
                                  CaseActionRequest(action=action, actor=actor, audit=current_stamp()),
                                  _update_id("act", actor, case_id, action.model_dump(mode="json")))

    async def _update(self, case_id: str, update: Any, request: Any, update_id: str | None) -> CommandOutcome:
        handle = self._client.get_workflow_handle(case_id)  # either workflow type: same updates
        try:
            outcome: CommandOutcome = await self._await(handle.execute_update(update, request, id=update_id))
        except RPCError as exc:
            raise await self._rpc_error(case_id, exc) from None
        if outcome.event_types:
            mark_audited_with_command()
        return outcome

    async def _rpc_error(self, case_id: str, exc: RPCError) -> ApiError:
        if exc.status == RPCStatusCode.NOT_FOUND:
            # Either the workflow has finished (the case is closed), or Temporal lost an update
            # it had not accepted yet (a server restart): ask which.
            try:
                description = await asyncio.wait_for(self._client.get_workflow_handle(case_id).describe(), 5)
            except RPCError as inner:
                if inner.status == RPCStatusCode.NOT_FOUND:
                    return ApiError(404, RejectionCode.CASE_NOT_FOUND.value, f"case {case_id} does not exist")
                return engine_unavailable(f"the case engine is unavailable ({inner.status.name}); try again")
            except TimeoutError:
                return engine_unavailable("the case engine is unavailable; try again")
            if description.status != WorkflowExecutionStatus.RUNNING:
                return ApiError(409, RejectionCode.CASE_CLOSED.value, f"case {case_id} is closed")
            return engine_unavailable("the case engine lost this command while restarting; nothing was applied, "
                                      "send it again")
        if exc.status in _UNAVAILABLE:
            return engine_unavailable(f"the case engine is unavailable ({exc.status.name}); nothing was applied "
                                      "unless a retry of the same request says so: send it again")
        return ApiError(500, "engine_error", f"the case engine refused the call: {exc.message}")

    async def _await(self, call: Any) -> Any:
        try:
            return await asyncio.wait_for(call, timeout=self._timeout)
        except WorkflowUpdateFailedError as exc:
            raise _as_api_error(exc) from None
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            raise engine_unavailable(
                "the case engine did not answer in time; the command may still be applied, exactly once: "
                "send the same request again to get its outcome") from None


def _as_api_error(exc: WorkflowUpdateFailedError) -> ApiError:
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        if cause.type in _RECORDING_FAILURES:
            return ApiError(_RECORDING_FAILURES[cause.type], cause.type, cause.message)
        try:
            code = RejectionCode(cause.type or "")
        except ValueError:
            return ApiError(500, cause.type or "command_failed", cause.message)
        details = cause.details[0].get("details", []) if cause.details and isinstance(cause.details[0], dict) else []
        # A code without an HTTP status of its own conflicts with the case's state.
        return ApiError(REJECTION_STATUS[code], code.value, cause.message, details)
    return ApiError(500, "command_failed", str(cause or exc))
