"""The installed package holds the whole application (the Docker image installs it, not the
working tree): every module of the repository's packages, every top-level module, the
templates, static files, catalogs and migrations.  An editable install (`make`) hides a
missing one, because it falls back to the source folder."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("domain", "workflows", "activities", "api", "store", "embedded", "demo", "observability", "migrations")
NOT_SHIPPED_TOP_LEVEL: set[str] = set()  # every top-level module is part of the application


def test_the_wheel_holds_every_module_and_data_file(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q",
                    "-w", str(tmp_path)], check=True, timeout=300)
    (wheel,) = tmp_path.glob("itinera-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    wanted = {str(p.relative_to(REPO)) for package in PACKAGES for p in (REPO / package).rglob("*")
              if p.is_file() and "__pycache__" not in p.parts
              and p.suffix in (".py", ".html", ".css", ".js", ".po", ".sql", ".svg", ".png", ".ico")}
    wanted |= {p.name for p in REPO.glob("*.py") if p.stem not in NOT_SHIPPED_TOP_LEVEL}
    missing = sorted(wanted - shipped)
    assert not missing, f"not in the installed package (pyproject.toml [tool.setuptools]): {missing[:20]}"
