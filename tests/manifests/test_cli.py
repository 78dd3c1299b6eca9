"""`reconciler validate`: output formats and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli import main as cli
from tests.manifests.conftest import CASES, EXAMPLES, ROOT


def test_valid_repository_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", str(EXAMPLES)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == "valid: 11 objects in 10 files"
    assert not any("warning" in line for line in out)


def test_invalid_repository_exits_1_with_compiler_style_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    case = CASES / "bad-cpu-quantity"
    assert cli.main(["validate", str(case)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0] == (
        f"{case}/web.yaml:20:18: error: spec.template.spec.containers[0].resources.requests.cpu:"
        " invalid quantity '100x'"
    )
    assert lines[1].startswith("    hint: ")
    assert captured.err.strip() == "1 error in 1 file"


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    case = CASES / "unknown-volume"
    assert cli.main(["validate", "-o", "json", str(case)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    assert report["errors"] == 1
    [diagnostic] = report["diagnostics"]
    first = (case / "expected.txt").read_text().splitlines()
    assert f"{diagnostic['file']}:{diagnostic['line']}:{diagnostic['column']}: error: " \
        f"{diagnostic['path']}: {diagnostic['message']}" == first[0]
    assert (diagnostic["severity"], diagnostic["code"]) == ("error", "missing-reference")
    assert first[1] == f"    hint: {diagnostic['hint']}"


def test_json_output_of_a_warning_and_strict(capsys: pytest.CaptureFixture[str]) -> None:
    case = CASES.parent / "warnings" / "missing-configmap"
    assert cli.main(["validate", "-o", "json", str(case)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["valid"], report["errors"]) == (True, 0)
    [diagnostic] = report["diagnostics"]
    assert diagnostic == {
        "file": "web.yaml",
        "line": 20,
        "column": 21,
        "path": "spec.template.spec.containers[0].envFrom[0].configMapRef.name",
        "severity": "warning",
        "code": "missing-reference",
        "message": "ConfigMap default/web-config does not exist: the pods that use it are not "
        "created (CreateContainerConfigError) until it is declared; pods already running keep "
        "running",
        "hint": "declare the ConfigMap in namespace default, or fix the name",
    }
    assert cli.main(["validate", "--strict", "-o", "json", str(case)]) == 1
    assert json.loads(capsys.readouterr().out)["valid"] is False


def test_json_output_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", str(EXAMPLES), "-o", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["valid"], report["objects"], report["files"]) == (True, 11, 10)


def test_missing_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", str(tmp_path / "nope")]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_bad_option_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["validate", "-o", "xml"])
    assert caught.value.code == 2


def test_default_path_is_current_directory() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate"],
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(ROOT), "SOPS_AGE_KEY_FILE": os.environ["SOPS_AGE_KEY_FILE"]},
    )
    assert result.returncode == 0, result.stderr
    assert "valid: 11 objects" in result.stdout


def test_missing_schemas_is_reported_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECONCILER_SCHEMAS", str(tmp_path / "no-schemas"))
    assert cli.main(["validate", str(EXAMPLES)]) == 3
    assert "run scripts/copy_schemas.py" in capsys.readouterr().err
