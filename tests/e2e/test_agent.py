"""The warm per-user agent on the 3 real test hosts: `reconciler apply` through it creates the
pods, a second one is a no-op (exit 0) on the agent's same SSH connections (its sockets to the
hosts' port 22, read from /proc, are the same ones), `diff` and `get` print the same bytes as a
direct run, and after the agent is killed mid-way the next command starts a new one and works.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
EXAMPLE = labmod.REPO / "examples" / "repo"
NAMESPACE = "agent-e2e"
DEPLOYMENT = f"""apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: sleeper
  namespace: {NAMESPACE}
spec:
  replicas: 3
  selector:
    matchLabels: {{app: sleeper}}
  template:
    metadata:
      labels: {{app: sleeper}}
    spec:
      containers:
        - name: main
          image: 198.18.0.1:5000/demo/busybox:latest
          imagePullPolicy: IfNotPresent
          command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
      terminationGracePeriodSeconds: 2
"""


class Cli:
    def __init__(self, lab: labmod.Lab, folder: Path) -> None:
        self.env = {
            **os.environ,
            "RECONCILER_SSH_KEY": str(lab.config.key_file),
            "RECONCILER_KNOWN_HOSTS": str(lab.config.known_hosts),
            "RECONCILER_CONFIG": "/dev/null",
            "RECONCILER_DAEMON": "none",  # no daemon of another test answers `diff`
            "RECONCILER_AGENT_DIR": str(folder),
            "RECONCILER_AGENT": "1",
        }

    def __call__(self, *args: str, agent: bool = True) -> subprocess.CompletedProcess[str]:
        flag = "--agent" if agent else "--no-agent"
        return subprocess.run(
            [sys.executable, "-m", "reconciler", *args, flag], capture_output=True, text=True,
            env=self.env, timeout=300, check=False,
        )  # fmt: skip


@pytest.fixture(scope="module")
def setup(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
    tuple[Cli, Path, Path]
]:  # fmt: skip
    base = tmp_path_factory.mktemp("agent")
    folder = base / "agent"
    repo = base / "repo"
    shutil.copytree(EXAMPLE / "hosts", repo / "hosts")
    (repo / "app.yaml").write_text(DEPLOYMENT)
    cli = Cli(lab, folder)
    yield cli, folder, repo
    hosts_only = base / "hosts-only"
    shutil.copytree(EXAMPLE / "hosts", hosts_only / "hosts")
    cli("apply", "-q", "--allow-mass-prune", str(hosts_only))  # its pods removed
    cli("agent", "stop")
    pid = _agent_pid(cli)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)


def _agent_pid(cli: Cli) -> int | None:
    done = cli("agent", "status")
    if done.returncode != 0:
        return None
    return int(done.stdout.split()[2].rstrip(","))


def _ssh_sockets(pid: int) -> set[int]:
    """The inodes of the process's TCP sockets connected to port 22 (its SSH connections)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with_target = os.readlink(fd) if fd.is_symlink() else ""
        if with_target.startswith("socket:["):
            inodes.add(int(with_target[8:-1]))
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_port, state, inode = int(fields[2].split(":")[1], 16), fields[3], int(fields[9])
        if remote_port == 22 and state == "01" and inode in inodes:  # ESTABLISHED
            found.add(inode)
    return found


def test_apply_through_the_agent_then_a_no_op_on_the_same_connections(
    setup: tuple[Cli, Path, Path],
) -> None:
    cli, _folder, repo = setup
    first = cli("apply", str(repo))
    assert first.returncode == 0, first.stderr
    assert "3 created" in first.stdout
    pid = _agent_pid(cli)
    assert pid is not None
    before = _ssh_sockets(pid)
    assert len(before) == 3  # one connection per host
    again = cli("apply", "-q", str(repo))
    assert again.returncode == 0, again.stderr
    assert "0 created, 0 replaced, 0 deleted, 0 failed, 3 unchanged" in again.stdout
    assert _agent_pid(cli) == pid and _ssh_sockets(pid) == before


def test_diff_and_get_print_what_a_direct_run_prints(setup: tuple[Cli, Path, Path]) -> None:
    cli, _folder, repo = setup
    app = repo / "app.yaml"
    app.write_text(DEPLOYMENT.replace("replicas: 3", "replicas: 2"))
    try:
        for argv in (("diff", str(repo)), ("get", "pods", "-f", str(repo), "-n", NAMESPACE),
                     ("get", "deployments", "-f", str(repo), "-n", NAMESPACE, "-o", "json")):
            through, here = cli(*argv), cli(*argv, agent=False)
            assert (through.returncode, through.stderr) == (here.returncode, here.stderr)
            if argv[-1] == "json":  # ages and times move on between the two runs
                assert json.loads(through.stdout).keys() == json.loads(here.stdout).keys()
            else:
                assert _without_age(through.stdout) == _without_age(here.stdout)
            assert through.returncode == (1 if argv[0] == "diff" else 0)
    finally:
        app.write_text(DEPLOYMENT)


def _without_age(text: str) -> list[list[str]]:
    """The table's rows without the AGE column (its last or a time-like word)."""
    return [[w for w in line.split() if not (w[:-1].isdigit() and w[-1] in "smhd")]
            for line in text.splitlines()]  # fmt: skip


def test_a_killed_agent_is_replaced_by_the_next_command(setup: tuple[Cli, Path, Path]) -> None:
    cli, folder, repo = setup
    pid = _agent_pid(cli)
    assert pid is not None
    slow = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", str(repo), "--agent"], env=cli.env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    log = folder / "agent.log"
    while log.read_text().count("running reconciler apply") < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    _, err = slow.communicate(timeout=120)
    assert slow.returncode in (0, 4), err  # done just before the kill, or cut short
    again = cli("apply", "-q", str(repo))
    assert again.returncode == 0, again.stderr
    assert "3 unchanged" in again.stdout
    new = _agent_pid(cli)
    assert new is not None and new != pid
