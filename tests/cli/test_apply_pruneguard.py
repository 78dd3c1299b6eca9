"""`apply` and the prune guard, against the fake executor: an empty revision exits 5 with the
counts and changes nothing; `diff` says apply would be held; `--allow-mass-prune`, the
config file's `allow_mass_prune` or the repository's override file let it through."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reconciler.cli import common, main
from reconciler.executor import fake as fake_executor
from reconciler.plan import pruneguard
from tests.cli import fakehosts
from tests.manifests.conftest import EXAMPLES


@pytest.fixture
def executor(monkeypatch: pytest.MonkeyPatch) -> fake_executor.FakeExecutor:
    return fakehosts.use(monkeypatch, ["h1", "h2", "h3"])


def _pods(fake: fake_executor.FakeExecutor) -> set[tuple[str, str, str]]:
    return {(host, *key) for host, pods in fake.pods.items() for key in pods}


def _repos(tmp_path: Path) -> tuple[Path, Path]:
    full, empty = tmp_path / "full", tmp_path / "empty"
    shutil.copytree(EXAMPLES, full)
    shutil.copytree(EXAMPLES / "hosts", empty / "hosts")
    return full, empty


def test_an_empty_revision_exits_5_and_changes_nothing_until_allowed(
    tmp_path: Path, executor: fake_executor.FakeExecutor, capsys: pytest.CaptureFixture[str]
) -> None:
    full, empty = _repos(tmp_path)
    assert main.main(["apply", "-q", str(full)]) == 0
    running = _pods(executor)
    assert len(running) == 5
    capsys.readouterr()
    assert main.main(["apply", str(empty)]) == common.EXIT_PRUNE_BLOCKED == 5
    out, err = capsys.readouterr()
    assert "would delete 5 of 5 managed pods (every managed pod) of 2 objects" in err
    assert "--allow-mass-prune" in err and out == ""
    assert _pods(executor) == running

    assert main.main(["diff", str(empty)]) == 1  # a dry run shows the deletions, and the hold
    out, err = capsys.readouterr()
    assert "apply would be held" in err and "0 to create, 0 to replace, 2 to delete" in out

    assert main.main(["apply", "-q", "--allow-mass-prune", str(empty)]) == 0
    assert _pods(executor) == set()


def test_the_override_file_or_the_config_file_lets_it_through(
    tmp_path: Path, executor: fake_executor.FakeExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    full, empty = _repos(tmp_path)
    assert main.main(["apply", "-q", str(full)]) == 0
    (empty / pruneguard.OVERRIDE_FILE).parent.mkdir()
    (empty / pruneguard.OVERRIDE_FILE).write_text("")
    assert main.main(["apply", "-q", str(empty)]) == 0
    assert _pods(executor) == set()

    assert main.main(["apply", "-q", str(full)]) == 0
    (empty / pruneguard.OVERRIDE_FILE).unlink()
    config = tmp_path / "config.yaml"
    config.write_text("allow_mass_prune: true\n")
    monkeypatch.setenv("RECONCILER_CONFIG", str(config))
    assert main.main(["apply", "-q", str(empty)]) == 0
    assert _pods(executor) == set()


def test_removing_one_deployment_applies(
    tmp_path: Path, executor: fake_executor.FakeExecutor
) -> None:
    full, _ = _repos(tmp_path)
    assert main.main(["apply", "-q", str(full)]) == 0
    (full / "shop" / "web.yaml").unlink()  # 3 of 5 pods, one object
    assert main.main(["apply", "-q", str(full)]) == 0
    assert len(_pods(executor)) == 2
