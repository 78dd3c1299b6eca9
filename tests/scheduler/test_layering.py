"""The scheduler is a pure library at the bottom of the layers: it imports nothing from the rest
of the project and no module that does I/O."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler" / "scheduler"
ALLOWED_THIRD_PARTY = {"numpy"}
IO_MODULES = {
    "os",
    "io",
    "subprocess",
    "socket",
    "asyncio",
    "pathlib",
    "shutil",
    "sqlite3",
    "logging",
    "time",
    "random",
    "threading",
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module)
    return names


def test_scheduler_imports_only_itself_numpy_and_pure_stdlib() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) >= 5
    for path in modules:
        for name in _imports(path):
            top = name.split(".")[0]
            if top == "reconciler":
                assert name.startswith("reconciler.scheduler"), f"{path.name} imports {name}"
            else:
                assert top not in IO_MODULES, f"{path.name} imports {name}"
                known = top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY
                assert known, f"{path.name} imports {name}"


def test_scheduler_does_not_open_files() -> None:
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in {"open", "print", "input"}, path.name
