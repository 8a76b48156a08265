"""Connecting to Temporal the same way from the API, the worker, the CLI and the tests."""

from __future__ import annotations

from temporalio.client import Client, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter

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


async def connect_temporal(settings: Settings, target: str | None = None) -> Client:
    """Client with the pydantic data converter: models travel as Temporal payloads."""
    return await Client.connect(
        target or settings.temporal_target,
        namespace=settings.temporal_namespace,
        tls=_tls(settings),
        api_key=settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None,
        data_converter=pydantic_data_converter,
    )
