"""What a no-op `reconciler apply` leaves out (issue 15 item 3: the one-shot CLI near the `ps`
floor): no exit streams (they open only once apply waits for a rollout), and among the modules
of the command and the real executor neither `uuid` nor `platform` (the executor names its temp
files from `os.urandom`; croniter, loaded for CronJobs, still imports `platform`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.executor import fake as fake_executor
from tests.cli import fakehosts
from tests.manifests.conftest import EXAMPLES

NOT_IMPORTED = ("uuid", "platform")

PROBE = """
import json, sys
from reconciler.cli import main
main.build_parser(("apply",))  # the apply command's modules, as `reconciler apply` loads them
from reconciler.executor import podman_ssh  # and the real executor's (its connections)
print(json.dumps(sorted(sys.modules)))
"""


@pytest.fixture
def executor(monkeypatch: pytest.MonkeyPatch) -> fake_executor.FakeExecutor:
    return fakehosts.use(monkeypatch, ["h1", "h2", "h3"])


def test_a_no_op_apply_opens_no_exit_stream(
    tmp_path: Path, executor: fake_executor.FakeExecutor, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES, repo)
    assert main.main(["apply", "-q", str(repo)]) == 0
    executor.calls.clear()
    assert main.main(["apply", "-q", str(repo)]) == 0
    assert "0 created, 0 replaced, 0 deleted, 0 failed, 5 unchanged" in capsys.readouterr().out
    assert [c for c in executor.calls if c.startswith("observe")]  # it did read the hosts
    assert not [c for c in executor.calls if c.startswith("watch_exits")]


def test_apply_and_the_real_executor_import_neither_uuid_nor_platform() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          check=True)  # fmt: skip
    modules = set(json.loads(done.stdout))
    assert "reconciler.executor.sshconn" in modules and "reconciler.cli.apply" in modules
    assert sorted(m for m in modules if m.split(".")[0] in NOT_IMPORTED) == []
