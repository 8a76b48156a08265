"""The baseline's worker, run as its own process (like Itinera's worker) so its CPU time and
memory are measured the same way:

    ITINERA_TEMPORAL_ADDRESS=127.0.0.1:7233 BENCH_TASK_QUEUE=bench-baseline python -m bench.baseline_worker

Connects like every Itinera process (``ITINERA_*`` settings: address, namespace, TLS, API
key) but with the SDK's default data converter: a bare worker.  Stops on SIGTERM / SIGINT.
"""

from __future__ import annotations

import asyncio
import os
import signal

from temporalio.client import Client
from temporalio.worker import Worker

from bench.baseline_workflow import BaselineCaseWorkflow


async def bare_client() -> Client:
    """A client on the ITINERA_* Temporal settings, with the default (JSON) data converter."""
    from settings import Settings
    from temporal_client import connect_temporal

    settings = Settings()
    itinera = await connect_temporal(settings)
    return Client(itinera.service_client, namespace=settings.temporal_namespace)


async def main() -> None:
    client = await bare_client()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(client, task_queue=os.environ["BENCH_TASK_QUEUE"], workflows=[BaselineCaseWorkflow]):
        print("baseline worker started", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
