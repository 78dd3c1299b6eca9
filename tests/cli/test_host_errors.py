"""`diff` and `apply` name a host they could not use on stderr, each as itself, and exit 4."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.cli import common, main
from reconciler.executor import fake

HOST = """\
apiVersion: reconciler.dev/v1alpha1
kind: Host
metadata:
  name: {name}
spec:
  address: 198.18.0.{index}
  ssh:
    user: rc-{name}
  capacity: {{cpu: "1", memory: 1Gi}}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for index, name in ((11, "h1"), (12, "h2")):
        (tmp_path / f"{name}.yaml").write_text(HOST.format(name=name, index=index))
    executor = fake.FakeExecutor(["h1", "h2"])
    executor.kill("h2", "podman is not installed")

    @contextlib.contextmanager
    def fake_executor(_args: object) -> Iterator[fake.FakeExecutor]:
        yield executor

    monkeypatch.setattr(common, "executor_for", fake_executor)
    return tmp_path


@pytest.mark.parametrize("command", ["diff", "apply"])
def test_a_host_that_cannot_be_used_is_named_by_the_command_that_ran(
    repo: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main.main([command, str(repo)]) == common.EXIT_INCOMPLETE
    err = capsys.readouterr().err
    assert f"reconciler {command}: host h2: " in err
    assert "podman is not installed" in err
    assert err.count("reconciler ") == 1 and "h1" not in err
