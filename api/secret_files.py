"""Secrets the embedded default keeps in its data folder (token key, case-id key) when no
setting provides them: generated once, and created atomically, so that several processes
starting together (two APIs, a worker) all end up with the one secret."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def data_folder_secret(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_suffix(f".{os.getpid()}.tmp")
        draft.write_text(secrets.token_urlsafe(48))
        draft.chmod(0o600)
        try:
            os.link(draft, path)  # fails if another process got there first: theirs stands
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()
