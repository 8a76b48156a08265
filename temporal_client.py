"""Connecting to Temporal the same way from the API, the worker, the CLI and the tests."""

from __future__ import annotations

import dataclasses

from temporalio.client import Client, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

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


async def connect_temporal(settings: Settings, target: str | None = None) -> Client:
    return await Client.connect(
        target or settings.temporal_target,
        namespace=settings.temporal_namespace,
        tls=_tls(settings),
        api_key=settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None,
        data_converter=data_converter(settings),
    )
