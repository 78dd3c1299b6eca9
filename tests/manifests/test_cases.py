"""Every folder of tests/cases/manifests/ is an invalid repository with its exact expected
diagnostics (expected.txt); the loader must produce exactly those, and the CLI must refuse it."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli import main as cli
from reconciler.manifests import loader
from tests.manifests.conftest import CASES

CASE_DIRS = sorted(p for p in CASES.iterdir() if p.is_dir())


def _render(result: loader.LoadResult) -> str:
    lines: list[str] = []
    for diagnostic in result.diagnostics:
        lines.append(diagnostic.format())
        lines.append(f"    hint: {diagnostic.hint}")
    return "\n".join(lines) + "\n"


def test_there_are_cases() -> None:
    assert len(CASE_DIRS) >= 40


@pytest.mark.parametrize("case", CASE_DIRS, ids=lambda p: p.name)
def test_case(case: Path) -> None:
    result = loader.load_repository(case)
    assert not result.ok
    assert _render(result) == (case / "expected.txt").read_text()


@pytest.mark.parametrize("case", CASE_DIRS[:5], ids=lambda p: p.name)
def test_cli_refuses_case(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", str(case)]) == 1
    out = capsys.readouterr().out
    first = (case / "expected.txt").read_text().splitlines()[0]
    assert f"{case}/{first}" in out
