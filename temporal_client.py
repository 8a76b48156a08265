"""Connecting to Temporal the same way from the API, the worker, the CLI and the tests."""

from __future__ import annotations

import dataclasses

from temporalio.client import Client, Interceptor, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.service import RPCStatusCode

from observability.temporal import RequestIdInterceptor, runtime
from observability.tracing import temporal_interceptor
from payload_encryption import codec_from_settings
from settings import Settings


def _tls(settings: Settings) -> TLSConfig | bool:
    if not settings.temporal_tls:
        return False
    read = lambda path: path.read_bytes() if path else None  # noqa: E731
    return TLSConfig(
        server_root_ca_cert=read(settings.temporal_tls_server_ca),
        client_cert=read(settings.temporal_tls_client_cert),
        client_private_key=read(settings.temporal_tls_client_key),
    )


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic models as payloads, every payload encrypted (``payload_encryption``)."""
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec_from_settings(settings))


def interceptors(settings: Settings) -> list[Interceptor]:
    """The request id in Temporal headers and the activity metrics (always); OpenTelemetry
    spans when ITINERA_OTEL_ENABLED.  Workers built on the client use them too."""
    found: list[Interceptor] = [RequestIdInterceptor()]
    tracing = temporal_interceptor(settings)
    if tracing is not None:
        found.append(tracing)
    return found


async def connect_temporal(settings: Settings, target: str | None = None, *, sdk_metrics: bool = False) -> Client:
    """A client with the project's data converter and interceptors.  The SDK runtime forwards
    the SDK core's log lines to Python logging (JSON like the rest); with ``sdk_metrics`` (the
    worker) it also serves the SDK's metrics on ITINERA_TEMPORAL_METRICS_ADDRESS."""
    return await Client.connect(
        target or settings.temporal_target,
        namespace=settings.temporal_namespace,
        tls=_tls(settings),
        api_key=settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None,
        data_converter=data_converter(settings),
        interceptors=interceptors(settings),
        runtime=runtime(settings.temporal_metrics_address if sdk_metrics else ""),
    )


# Refusals that say "not now" rather than "no": a worker starting meets them while Temporal
# starts, restarts or is loaded, and waits (worker.run_worker).
TRANSIENT_RPC_STATUSES = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED,
                                    RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.ABORTED,
                                    RPCStatusCode.CANCELLED})


async def ensure_search_attributes(client: Client) -> None:
    """Register the case search attributes (``workflows.search_attributes``) the namespace
    lacks.  A case workflow upserts them; on a namespace without them its workflow tasks would
    fail, so a worker that cannot register them refuses to start instead, saying what to do."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
    from temporalio.service import RPCError

    from workflows.search_attributes import KEYS

    async def missing_keys() -> list[str]:
        try:
            listed = await client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=client.namespace))
        except RPCError as exc:
            if exc.status in TRANSIENT_RPC_STATUSES:
                raise  # Temporal busy or restarting: the caller waits and asks again
            if exc.status != RPCStatusCode.UNIMPLEMENTED:
                raise
            return [key.name for key in KEYS]  # a server that cannot list them (time-skipping): add them all
        return [key.name for key in KEYS if key.name not in listed.custom_attributes]

    missing = await missing_keys()
    if not missing:
        return
    try:
        await client.operator_service.add_search_attributes(AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for name in missing}))
    except RPCError as exc:
        if exc.status in TRANSIENT_RPC_STATUSES:
            raise
        if exc.status == RPCStatusCode.ALREADY_EXISTS and not await missing_keys():
            return  # another worker starting at the same moment added them
        commands = "; ".join(f"temporal operator search-attribute create --name {n} --type Keyword" for n in missing)
        raise RuntimeError(f"the Temporal namespace {client.namespace} lacks the case search attributes "
                           f"{', '.join(missing)} and this worker may not add them ({exc.message}): run {commands}") from exc
