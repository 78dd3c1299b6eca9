"""`reconciler describe deployment NAME`, as kubectl users type it: spec, replicas counted from
the hosts, what the rollout waits for, its pods. Before, `deployment` was not a choice (exit 2)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reconciler.cli import main
from tests.cli import fakehosts
from tests.manifests.conftest import EXAMPLES


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    fakehosts.use(monkeypatch, ["h1", "h2", "h3"])
    monkeypatch.setenv("RECONCILER_STATE_DIR", str(tmp_path / "no-daemon"))
    path = tmp_path / "repo"
    shutil.copytree(EXAMPLES, path)
    assert main.main(["apply", "-q", str(path)]) == 0
    return path


def test_describe_deployment_shows_spec_counts_and_pods(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main.main(["describe", "deployment", "web", "-n", "shop", "-f", str(repo)]) == 0
    out = capsys.readouterr().out
    assert "Name:                    web\nNamespace:               shop\n" in out
    assert "Selector:                app=web\n" in out
    assert (
        "Replicas:                3 desired | 3 updated | 3 total | 3 available | 0 unavailable"
        in out
    )
    assert "StrategyType:            RollingUpdate\n" in out
    assert "RollingUpdateStrategy:   1 max unavailable, 1 max surge\n" in out
    assert "Rollout:                 complete\n" in out
    assert "    Image:      198.18.0.1:5000/demo/busybox:latest\n" in out
    assert "    Readiness:  http-get :8080/index.html" in out
    pods = out.split("Pods:\n")[1].split("Events:")[0].splitlines()
    assert pods[0].split()[:2] == ["NAMESPACE", "NAME"] and len(pods) == 4
    assert all(line.split()[1].startswith("web-") for line in pods[1:])


def test_describe_deploy_missing_is_exit_1(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main.main(["describe", "deploy", "web", "-n", "ops", "-f", str(repo)]) == 1
    assert capsys.readouterr().err == (
        'reconciler describe: error: deployment "web" not found in namespace ops\n'
    )
