"""`reconciler apply --dry-run` as kubectl users type it: what `diff` prints, nothing changed on
any host, exit 0 when the plan could be applied (kubectl's), 3 for invalid manifests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reconciler.cli import lightsettings, main
from reconciler.executor import fake as fake_executor
from tests.cli import fakehosts
from tests.manifests.conftest import EXAMPLES

MUTATIONS = ("apply", "create", "delete", "replace", "restart")


@pytest.fixture
def executor(monkeypatch: pytest.MonkeyPatch) -> fake_executor.FakeExecutor:
    monkeypatch.setenv(lightsettings.ENV_ADDRESS, "off")  # no daemon asked: planned here
    return fakehosts.use(monkeypatch, ["h1", "h2", "h3"])


def test_a_dry_run_prints_the_plan_changes_nothing_and_exits_0(
    tmp_path: Path, executor: fake_executor.FakeExecutor, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES, repo)
    assert main.main(["apply", "--dry-run", str(repo)]) == 0
    out = capsys.readouterr().out
    assert main.main(["diff", str(repo)]) == 1  # changes pending: diff says so with 1
    assert capsys.readouterr().out == out and "create" in out
    assert not [c for c in executor.calls if c.startswith(MUTATIONS)]
    assert all(not pods for pods in executor.pods.values())

    assert main.main(["apply", "--dry-run=server", str(repo)]) == 0
    assert main.main(["apply", "-q", str(repo)]) == 0  # really applied: the dry run had no effect
    capsys.readouterr()


def test_a_dry_run_of_invalid_manifests_exits_3(
    tmp_path: Path, executor: fake_executor.FakeExecutor
) -> None:
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n")
    assert main.main(["apply", "--dry-run", str(tmp_path)]) == 3


def test_a_dry_run_value_that_is_no_mode_next_to_a_path_is_a_usage_error(
    tmp_path: Path, executor: fake_executor.FakeExecutor, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main.main(["apply", "--dry-run", "bogus", str(tmp_path)]) == 2
    assert "--dry-run takes none, client or server, not 'bogus'" in capsys.readouterr().err
    assert not executor.calls
