"""The Itinera worker: the one place that wires workflows to their activities."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import asyncpg
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import (
    UnsandboxedWorkflowRunner,
    Worker,
    WorkerDeploymentConfig,
    WorkflowRunner,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.case_records import CaseRecordActivities
from activities.case_splits import CaseSplitActivities
from activities.movements import MovementActivities
from activities.orientation_sessions import OrientationSessionActivities
from activities.referral_import import ReferralImportActivities
from observability.logs import get_logger
from observability.metrics import serve_metrics
from observability.temporal import updates_in_flight
from settings import Settings, get_settings
from store.db import create_pool
from temporal_client import TRANSIENT_RPC_STATUSES, connect_temporal, ensure_search_attributes
from webhook_dispatch import WebhookDispatcher
from stored_secrets import SecretSealer
from webhook_targets import networks
from worker_versioning import become_current_if_none, current_build_id, deployment_config
from workflows.case_types import CASE_WORKFLOWS
from workflows.movement import MovementWorkflow
from workflows.orientation_session import OrientationSessionWorkflow
from workflows.referral_import import ReferralImportWorkflow

log = get_logger("itinera.worker")

WORKFLOWS = [*CASE_WORKFLOWS, ReferralImportWorkflow]
WORKFLOWS.append(MovementWorkflow)  # group movements (issue 13)
WORKFLOWS.append(OrientationSessionWorkflow)  # orientation sessions (issue 15)


def build_worker(client: Client, pool: asyncpg.Pool, task_queue: str,
                 graceful_shutdown: timedelta = timedelta(0),
                 deployment: WorkerDeploymentConfig | None = None, sandbox: bool = False) -> Worker:
    """One worker for the case workflows and their activities.  Interceptors (request id,
    metrics, tracing) come from the client (``temporal_client.connect_temporal``)."""
    records = CaseRecordActivities(pool)
    return Worker(client, task_queue=task_queue, workflows=WORKFLOWS,
                  activities=[records.record_case_events, *ReferralImportActivities(pool).activities(),
                              *MovementActivities(client, pool).all(),
                              *OrientationSessionActivities(client, pool).all(),
                              CaseSplitActivities(client).open_split_case],
                  graceful_shutdown_timeout=graceful_shutdown, deployment_config=deployment,
                  workflow_runner=workflow_runner(sandbox))


def workflow_runner(sandbox: bool = False) -> WorkflowRunner:
    """How workflow code runs: without the SDK's sandbox unless ``ITINERA_WORKFLOW_SANDBOX=true``.

    The sandbox re-imports each workflow's modules and proxies its standard library calls to
    catch non-determinism at run time; here the pure core was already passed through it, so it
    guarded only ``workflows/`` itself, at about a fifth of the worker's CPU per case (bench
    workload 2, ``bench/profiles/``: sandbox frames ``_Instance._run_code`` and the importer).
    The same guarantees come from elsewhere: ``tests/test_determinism_boundary.py`` forbids I/O
    imports, clocks, randomness and module-level mutable state in ``workflows/`` and everything
    it imports; every recorded history replays under both runners (``tests/test_replay.py``);
    and nothing in ``workflows/`` keeps state between workflow instances.
    """
    return SandboxedWorkflowRunner() if sandbox else UnsandboxedWorkflowRunner()


def build_workers(client: Client, pool: asyncpg.Pool, task_queue: str,
                  graceful_shutdown: timedelta = timedelta(0),
                  deployment: WorkerDeploymentConfig | None = None, sandbox: bool = False) -> tuple[Worker, Worker]:
    """The same work split in two, so that shutdown can go in two steps (``run_worker``): a
    worker of the workflows (and of local activities, which histories recorded before
    ``RECORDING_IN_HISTORY_PATCH`` use) and a worker of the (remote) activities."""
    records = CaseRecordActivities(pool)
    workflows = Worker(client, task_queue=task_queue, workflows=WORKFLOWS, activities=[records.record_case_events],
                       no_remote_activities=True, graceful_shutdown_timeout=graceful_shutdown,
                       deployment_config=deployment, workflow_runner=workflow_runner(sandbox))
    activities = Worker(client, task_queue=task_queue,
                        activities=[records.record_case_events, *ReferralImportActivities(pool).activities(),
                                    *MovementActivities(client, pool).all(),
                                    *OrientationSessionActivities(client, pool).all(),
                              CaseSplitActivities(client).open_split_case],
                        graceful_shutdown_timeout=graceful_shutdown, deployment_config=deployment)
    return workflows, activities


T = TypeVar("T")

# What a dependency says while it starts, restarts or is loaded ("not now", never "no"):
# connection refused or reset, a time-out, PostgreSQL starting up or out of connections, and
# the SDK's "Failed client connect" (a RuntimeError naming the transport's error).
_NOT_NOW = (OSError, TimeoutError, asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError,
            asyncpg.ConnectionDoesNotExistError)


def _not_now(exc: BaseException) -> bool:
    if isinstance(exc, RPCError):
        return exc.status in TRANSIENT_RPC_STATUSES
    if isinstance(exc, RuntimeError) and str(exc).startswith("Failed client connect"):
        return True
    return isinstance(exc, _NOT_NOW)


async def _patiently(what: str, attempt: Callable[[], Awaitable[T]], patience: float) -> T:
    """``attempt()`` until it succeeds, as long as it fails with "not now" and ``patience``
    seconds have not passed (each failure logged, with a growing pause); then the last error.
    A worker restarted while Temporal or PostgreSQL is (re)starting or loaded comes up by
    itself; a wrong address or password still fails at once."""
    deadline = asyncio.get_running_loop().time() + patience
    pause = 0.5
    while True:
        try:
            return await attempt()
        except Exception as exc:  # noqa: BLE001 - sorted below: only "not now" is waited out
            left = deadline - asyncio.get_running_loop().time()
            if not _not_now(exc) or left <= 0:
                raise
            log.warning("worker starting: waiting for a dependency", dependency=what, error=str(exc)[:300],
                        retry_in_seconds=round(min(pause, left), 1))
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, 5.0)


async def run_worker(settings: Settings | None = None, *, stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set (``itinera worker``: SIGTERM or SIGINT), then shut down so
    that no command in flight here is left unanswered:

    1. the activity worker stops polling; the recordings running here finish (they get
       ITINERA_WORKER_SHUTDOWN_SECONDS, then they are cancelled and Temporal retries them
       elsewhere);
    2. the workflow worker, still polling, runs the workflow tasks that follow them: every
       update that was being handled here at the signal is answered (waited for within the
       same time; one still waiting then, e.g. for an activity no worker has started yet, is
       answered by whichever worker runs its workflow next);
    3. the workflow worker stops: its sticky queue goes back to the others.
    """
    settings = settings or get_settings()
    stop_metrics = serve_metrics(settings.worker_metrics_address) if settings.worker_metrics_address else None
    patience = settings.worker_startup_wait_seconds
    client = await _patiently("Temporal", lambda: connect_temporal(settings, sdk_metrics=True), patience)
    await _patiently("Temporal's search attributes", lambda: ensure_search_attributes(client), patience)
    pool = await _patiently("PostgreSQL", lambda: create_pool(settings.database_url, min_size=1,
                                                              max_size=settings.database_pool_max), patience)
    loop = asyncio.get_running_loop()
    # the webhook outbox (webhook_dispatch.py), to public addresses and the allowed networks
    dispatcher = WebhookDispatcher(pool, sealer=SecretSealer.from_settings(settings),
                                   allowed_networks=networks(settings.webhook_allowed_networks),
                                   retention_days=settings.webhook_outbox_retention_days)
    try:
        grace = timedelta(seconds=settings.worker_shutdown_seconds)
        # A versioned worker (worker_versioning.py) when ITINERA_WORKER_BUILD_ID is set.
        deployment = deployment_config(settings.worker_deployment_name, settings.worker_build_id)
        workflows, activities = build_workers(client, pool, settings.temporal_task_queue, graceful_shutdown=grace,
                                              deployment=deployment, sandbox=settings.workflow_sandbox)
        log.info("worker started", task_queue=settings.temporal_task_queue, temporal=settings.temporal_target,
                 metrics=settings.worker_metrics_address or None,
                 temporal_metrics=settings.temporal_metrics_address or None)
        dispatcher.start()
        async with workflows:
            async with activities:
                if deployment is not None:
                    await _bootstrap_version(client, settings)
                await (stop or asyncio.Event()).wait()
                await dispatcher.stop()
                deadline = loop.time() + grace.total_seconds()
                pending = updates_in_flight()
                log.info("worker stopping: no new tasks, in-flight work finishing", grace_seconds=grace.total_seconds(),
                         updates_in_flight=len(pending))
            await _answer(pending, deadline)
        log.info("worker stopped")
    finally:
        await dispatcher.stop()
        await pool.close()
        if stop_metrics is not None:
            stop_metrics()


async def _bootstrap_version(client: Client, settings: Settings) -> None:
    """A fresh deployment's first worker makes its version current (worker_versioning.py);
    Temporal knows a version only once its workers poll, so this retries for a while."""
    assert settings.worker_build_id
    for _ in range(60):
        try:
            if await become_current_if_none(client, settings.worker_deployment_name, settings.worker_build_id):
                log.info("worker version made current (the deployment had none)",
                         deployment=settings.worker_deployment_name, build_id=settings.worker_build_id)
            else:
                current = await current_build_id(client, settings.worker_deployment_name)
                log.info("versioned worker polling", deployment=settings.worker_deployment_name,
                         build_id=settings.worker_build_id, current_build_id=current,
                         hint=None if current == settings.worker_build_id
                         else f"itinera rollout {settings.worker_build_id} makes this build current")
            return
        except RPCError as exc:
            if exc.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION,
                                  RPCStatusCode.INVALID_ARGUMENT):
                raise
            await asyncio.sleep(0.5)
    log.warning("the worker's version did not register in time; set it current with itinera rollout",
                build_id=settings.worker_build_id)


async def _answer(updates: frozenset[tuple[str, str]], deadline: float) -> None:
    """Wait until the ``updates`` handled here at the signal are answered, or ``deadline``
    (at least a few seconds after the activities are done)."""
    loop = asyncio.get_running_loop()
    deadline = max(deadline, loop.time() + 5.0)
    while remaining := updates & updates_in_flight():
        if loop.time() >= deadline:
            log.warning("updates still in flight at shutdown: another worker will answer them",
                        updates=len(remaining), cases=sorted({case_id for case_id, _ in remaining})[:20])
            return
        await asyncio.sleep(0.05)
    if updates:
        log.info("updates in flight at shutdown answered", updates=len(updates))
