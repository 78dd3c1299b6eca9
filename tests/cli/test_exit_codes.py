"""Exit codes scripts can trust when two things are wrong at once: invalid manifests (3) are
reported before missing connection settings (2), since nothing could be planned either way."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reconciler.cli import main
from tests.manifests.conftest import EXAMPLES


@pytest.mark.parametrize("command", ["apply", "diff"])
def test_invalid_manifests_without_an_ssh_key_exit_3(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "hosts", repo / "hosts")
    (repo / "broken.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {}\n")
    argv = [command, str(repo), "--ssh-key", str(tmp_path / "missing"), "--known-hosts",
            str(tmp_path / "missing-too")]  # fmt: skip
    assert main.main(argv) == 3
    err = capsys.readouterr().err
    assert "broken.yaml:" in err and "nothing was planned or changed" in err


def test_valid_manifests_without_an_ssh_key_exit_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "hosts", repo / "hosts")
    argv = ["diff", str(repo), "--ssh-key", str(tmp_path / "missing")]
    assert main.main(argv) == 2
    assert "SSH key" in capsys.readouterr().err
