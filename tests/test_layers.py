"""Layers import one way: cli > runtime > web > controllers > plan/executor/source/state >
manifests/scheduler > model. (The controllers write their conditions and rollout history
through `state`, which knows nothing but its own vocabulary and SQLite.)

A module may import its own package and packages of strictly lower layers, never upward or
sideways (plan and executor, for instance, meet only through the model).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "reconciler"
RANK = {
    "model": 0,
    "manifests": 1,
    "scheduler": 1,
    "plan": 2,
    "executor": 2,
    "source": 2,
    "controllers": 3,
    "state": 2,
    "web": 4,
    "runtime": 5,
    "cli": 6,
}
TOP_LEVEL = {"__init__", "__main__"}


def _package_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "reconciler":
                names = [f"reconciler.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "reconciler" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_every_package_has_a_layer() -> None:
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(RANK), f"give these packages a layer in RANK: {packages - set(RANK)}"


def test_imports_go_one_way() -> None:
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = _package_of(path)
        if own in TOP_LEVEL or own not in RANK:
            continue
        for imported in _imported_packages(path) - {own} - TOP_LEVEL:
            if imported in RANK and RANK[imported] >= RANK[own]:
                where = path.relative_to(PACKAGE.parent)
                violations.append(f"{where} imports reconciler.{imported}")
    assert violations == []


def test_the_check_catches_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from reconciler.cli import main\nimport reconciler.plan.diff\n")
    assert _imported_packages(bad) == {"cli", "plan"}
