"""Temporal worker versioning: a new build rolls out while running cases carry on.

A worker started with ``ITINERA_WORKER_BUILD_ID`` (e.g. the image tag) polls as version
``<ITINERA_WORKER_DEPLOYMENT_NAME>.<build id>`` of a Temporal *worker deployment*.  Temporal
sends new workflows to the deployment's *current* version, and every workflow type here
**auto-upgrades** (the worker's default behaviour): cases, movements and orientation sessions
live for months, so they cannot wait for the build they started on; they move to the new build
at their next workflow task.  That is safe because every change to a workflow keeps the
recorded histories replaying (``tests/test_replay.py``) or is guarded by ``workflow.patched``
(README, "Versioning a workflow change").  No type is *pinned*: Temporal refuses a pinned
type's workflow tasks from an unversioned worker, which ``itinera dev`` and the tests run.

A roll-out (README, "Rolling out a new build"): start workers of the new build beside the old
ones; ``itinera rollout <build id> [--ramp PERCENT]`` makes it current (or ramps new
workflows to it); when ``temporal worker deployment describe-version`` says the old version is
drained, stop its workers.  The first versioned worker of a
deployment that has no current version makes itself current, so a fresh deployment works
without the step.

Without ``ITINERA_WORKER_BUILD_ID`` the worker is unversioned (``itinera dev``, the tests).
"""

from __future__ import annotations

import asyncio

from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
    SetWorkerDeploymentCurrentVersionRequest,
    SetWorkerDeploymentRampingVersionRequest,
)
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import WorkerDeploymentConfig

IDENTITY = "itinera-worker-versioning"


def deployment_config(deployment_name: str, build_id: str | None) -> WorkerDeploymentConfig | None:
    """The worker's deployment version, or None for an unversioned worker."""
    if not build_id:
        return None
    return WorkerDeploymentConfig(version=WorkerDeploymentVersion(deployment_name, build_id),
                                  use_worker_versioning=True,
                                  default_versioning_behavior=VersioningBehavior.AUTO_UPGRADE)


async def current_build_id(client: Client, deployment_name: str) -> str | None:
    """The build id of the deployment's current version (None: none yet, or no deployment)."""
    try:
        described = await client.workflow_service.describe_worker_deployment(
            DescribeWorkerDeploymentRequest(namespace=client.namespace, deployment_name=deployment_name))
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    current = described.worker_deployment_info.routing_config.current_deployment_version
    return current.build_id or None


async def rollout(client: Client, deployment_name: str, build_id: str, *, ramp_percent: float | None = None,
                  wait_seconds: float = 30.0) -> None:
    """Make ``build_id`` the current version (or, with ``ramp_percent``, send that share of new
    workflows to it).  Its workers must be polling: Temporal refuses a version it has not seen,
    or one that does not yet poll every task queue of the current version (its workers have
    just started); that refusal is retried for ``wait_seconds``."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        try:
            await _set_version(client, deployment_name, build_id, ramp_percent)
            return
        except RPCError as exc:
            if (exc.status not in (RPCStatusCode.FAILED_PRECONDITION, RPCStatusCode.NOT_FOUND)
                    or asyncio.get_running_loop().time() >= deadline):
                raise
            await asyncio.sleep(0.5)


async def _set_version(client: Client, deployment_name: str, build_id: str, ramp_percent: float | None) -> None:
    if ramp_percent is None:
        await client.workflow_service.set_worker_deployment_current_version(SetWorkerDeploymentCurrentVersionRequest(
            namespace=client.namespace, deployment_name=deployment_name, build_id=build_id, identity=IDENTITY))
    else:
        await client.workflow_service.set_worker_deployment_ramping_version(SetWorkerDeploymentRampingVersionRequest(
            namespace=client.namespace, deployment_name=deployment_name, build_id=build_id,
            percentage=ramp_percent, identity=IDENTITY))


async def become_current_if_none(client: Client, deployment_name: str, build_id: str) -> bool:
    """A fresh deployment: the first worker's version becomes current (True when it did).
    Called once the worker polls; a version Temporal has not registered yet is retried by the
    caller.  An existing current version is never replaced here: that is a roll-out's step."""
    if await current_build_id(client, deployment_name) is not None:
        return False
    await rollout(client, deployment_name, build_id)
    return True
