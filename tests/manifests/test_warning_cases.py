"""Every folder of tests/cases/warnings/ is a repository `validate` accepts with exactly the
warnings of its expected.txt (references to objects no file declares, as the Kubernetes API server
accepts them), and that `validate --strict` refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli import main as cli
from reconciler.manifests import loader
from reconciler.model import diagnostics as dg
from tests.manifests.conftest import ROOT
from tests.manifests.test_cases import _render

CASES = ROOT / "tests" / "cases" / "warnings"
CASE_DIRS = sorted(p for p in CASES.iterdir() if p.is_dir())


def test_there_are_cases() -> None:
    assert len(CASE_DIRS) >= 5


@pytest.mark.parametrize("case", CASE_DIRS, ids=lambda p: p.name)
def test_case(case: Path) -> None:
    result = loader.load_repository(case)
    assert result.ok and result.diagnostics
    assert all(d.severity is dg.Severity.WARNING for d in result.diagnostics)
    assert _render(result) == (case / "expected.txt").read_text()


@pytest.mark.parametrize("case", CASE_DIRS, ids=lambda p: p.name)
def test_strict_refuses_what_plain_validate_accepts(
    case: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["validate", str(case)]) == 0
    plain = capsys.readouterr()
    first = (case / "expected.txt").read_text().splitlines()[0]
    assert f"{case}/{first}" in plain.out and "1 warning)" in plain.out
    assert cli.main(["validate", "--strict", str(case)]) == 1
    strict = capsys.readouterr()
    assert f"{case}/{first}" in strict.out and "refused by --strict" in strict.err
