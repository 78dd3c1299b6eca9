"""`reconciler logs` and `reconciler exec` end to end, through the Podman API of a real host.

A two-container Pod in namespace `logs-e2e` (a new name each run) writes numbered lines to stdout
and stderr; the tests read them (`--tail`, `-f`, `--previous` after a restart), run commands in it
(exit codes, argv with shell characters kept literal, stdin with -i) and ask for what is not
there. The pod is created through the executor with this namespace's actions only (see
test_describe: `apply` would prune other engineers' namespaces).
"""

from __future__ import annotations

import fcntl
import os
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.controllers import sync
from reconciler.executor import podman_ssh
from reconciler.manifests import loader
from reconciler.model import hoststate
from reconciler.plan import pipeline
from reconciler.source import worktree
from tests.e2e import test_apply
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "logs-e2e"
MANIFESTS = """\
apiVersion: v1
kind: Namespace
metadata:
  name: {namespace}
---
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {namespace}
spec:
  containers:
    - name: main
      image: {image}
      command:
        - sh
        - -c
        - >-
          trap 'exit 0' TERM; i=0;
          while true; do echo out$i; echo err$i >&2; i=$((i+1)); sleep 1; done
    - name: side
      image: {image}
      command: ["sh", "-c", "trap 'exit 0' TERM; echo side-started; while true; do sleep 1; done"]
"""


class Pod:
    """The repository, the executor that plans and applies its namespace, and the pod's name."""

    def __init__(self, lab: labmod.Lab, path: Path) -> None:
        self.lab = lab
        self.path = path
        self.name = f"logs-{uuid.uuid4().hex[:8]}"
        shutil.copytree(test_apply.EXAMPLE / "hosts", path / "hosts")
        manifest = MANIFESTS.format(namespace=NAMESPACE, name=self.name, image=lab.config.image)
        (path / f"{NAMESPACE}.yaml").write_text(manifest)
        self.executor = podman_ssh.PodmanSSHExecutor(
            lab.config.known_hosts, lab.config.key_file, command_timeout=60, stop_timeout=2
        )

    def targets(self) -> tuple[hoststate.HostTarget, ...]:
        return sync.targets_of(loader.load_repository(self.path).state)

    def observed(self) -> list[hoststate.ObservedPod]:
        return [p for seen in self.executor.observe(self.targets(), detail=True).values()
                for p in seen.pods if p.namespace == NAMESPACE]  # fmt: skip

    def apply_namespace(self) -> list[hoststate.ActionResult]:
        loaded = loader.load_repository(self.path)
        assert loaded.ok, loaded.errors
        targets = sync.targets_of(loaded.state)
        result = pipeline.build_plan(loaded.state, self.executor.observe(targets),
                                     worktree.UNVERSIONED)  # fmt: skip
        mine = tuple(a for a in result.plan.actions if a.namespace == NAMESPACE)
        return self.executor.apply(hoststate.Plan(mine), targets)

    def act(self, kind: hoststate.ActionKind, pod: hoststate.ObservedPod, container: str = ""
            ) -> hoststate.ActionResult:  # fmt: skip
        action = hoststate.Action(kind, pod.host, pod.namespace, pod.name, observed=pod,
                                  container=container)  # fmt: skip
        (result,) = self.executor.apply(hoststate.Plan((action,)), self.targets())
        return result

    def remove_all(self) -> None:
        for pod in self.observed():
            self.act(hoststate.ActionKind.DELETE, pod)


@pytest.fixture(scope="module")
def pod(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pod]:
    made = Pod(lab, tmp_path_factory.mktemp("logs") / "repo")
    made.remove_all()  # an earlier run's pods
    try:
        (result,) = made.apply_namespace()
        assert result.outcome is hoststate.Outcome.DONE, result.message
        yield made
    finally:
        made.remove_all()
        made.executor.close()


@pytest.fixture(scope="module")
def cli(lab: labmod.Lab) -> test_apply.Cli:
    return test_apply.Cli(lab)


def _wait_lines(cli: test_apply.Cli, pod: Pod, count: int) -> subprocess.CompletedProcess[str]:
    deadline = time.monotonic() + 30
    while True:
        result = cli("logs", pod.name, "-n", NAMESPACE, "-c", "main", "--filename", str(pod.path))
        assert result.returncode == 0, result.stderr
        if result.stdout.count("\n") >= count or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def test_logs_split_stdout_and_stderr_and_tail(cli: test_apply.Cli, pod: Pod) -> None:
    result = _wait_lines(cli, pod, 3)
    assert result.stdout.startswith("out0\nout1\nout2\n"), result.stdout
    assert "err0\nerr1\n" in result.stderr and "out" not in result.stderr
    tail = cli("logs", pod.name, "-n", NAMESPACE, "-c", "main", "--tail", "1",
               "--filename", str(pod.path))  # fmt: skip
    assert tail.returncode == 0, tail.stderr
    assert len(tail.stdout.splitlines()) <= 1 and len(tail.stderr.splitlines()) <= 1
    side = cli("logs", pod.name, "-c", "side", "--filename", str(pod.path))  # -n: found anyway
    assert (side.returncode, side.stdout) == (0, "side-started\n"), side.stderr
    default = cli("logs", pod.name, "-n", NAMESPACE, "--filename", str(pod.path), "--tail", "0")
    assert default.returncode == 0 and 'Defaulted container "main" out of: main, side' in (
        default.stderr
    )


def test_logs_follow_prints_new_lines_as_they_come(lab: labmod.Lab, pod: Pod) -> None:
    cli = test_apply.Cli(lab)
    args = [sys.executable, "-m", "reconciler", "logs", pod.name, "-n", NAMESPACE, "-c", "main",
            "-f", "--tail", "1", "--filename", str(pod.path)]  # fmt: skip
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=cli.env) as follower:  # fmt: skip
        assert follower.stdout is not None and follower.stderr is not None
        try:
            lines = [follower.stdout.readline().decode() for _ in range(3)]
        finally:
            follower.kill()
        problem = follower.stderr.read().decode()
    assert all(line.startswith("out") for line in lines), (lines, problem)
    first = int(lines[0].removeprefix("out"))
    assert [int(line.removeprefix("out")) for line in lines] == [first, first + 1, first + 2]


def test_exec_returns_the_command_exit_code_and_keeps_argv_literal(
    cli: test_apply.Cli, pod: Pod
) -> None:
    base = ["exec", pod.name, "-n", NAMESPACE, "-c", "main", "--filename", str(pod.path)]
    tricky = "a b; echo injected $(id) `id` 'q'"
    result = cli(*base, "--", "sh", "-c", 'echo "$0"; echo to-stderr >&2; exit 7', tricky)
    assert result.returncode == 7, result.stderr
    assert result.stdout == tricky + "\n"
    assert result.stderr == "to-stderr\n"
    assert cli(*base, "--", "true").returncode == 0
    fed = subprocess.run([sys.executable, "-m", "reconciler", *base, "-i", "--", "cat"],
                         input="through stdin\n", capture_output=True, text=True, env=cli.env,
                         timeout=120, check=False)  # fmt: skip
    assert (fed.returncode, fed.stdout) == (0, "through stdin\n"), fed.stderr
    missing = cli(*base, "--", "/no/such/command")
    assert missing.returncode != 0 and "no/such/command" in missing.stderr


def test_missing_pod_and_container_are_named(cli: test_apply.Cli, pod: Pod) -> None:
    nope = cli("logs", "no-such-pod", "-n", NAMESPACE, "--filename", str(pod.path))
    assert nope.returncode == 1 and 'pod "no-such-pod" not found' in nope.stderr
    wrong = cli("exec", pod.name, "-n", NAMESPACE, "-c", "nope", "--filename", str(pod.path),
                "--", "true")  # fmt: skip
    assert wrong.returncode == 1 and "its containers: main, side" in wrong.stderr
    early = cli("logs", pod.name, "-n", NAMESPACE, "-c", "side", "--previous",
                "--filename", str(pod.path))  # fmt: skip
    assert early.returncode == 1 and "previous terminated container" in early.stderr, early.stderr


def test_previous_shows_the_run_before_a_restart(cli: test_apply.Cli, pod: Pod) -> None:
    (seen,) = pod.observed()
    result = pod.act(hoststate.ActionKind.RESTART, seen, "side")
    assert result.outcome is hoststate.Outcome.DONE, result.message
    base = ["logs", pod.name, "-n", NAMESPACE, "-c", "side", "--filename", str(pod.path)]
    deadline = time.monotonic() + 30
    # No daemon here keeps a restart record, and Podman counts no restart it was asked for:
    # the whole log (both runs) is shown; --previous still cuts at the current start.
    while (current := cli(*base)).stdout != "side-started\n" * 2:
        assert time.monotonic() < deadline, (current.stdout, current.stderr)
        time.sleep(0.5)
    previous = cli(*base, "--previous")
    assert (previous.returncode, previous.stdout) == (0, "side-started\n"), previous.stderr


def test_exec_with_a_terminal_runs_an_interactive_shell(lab: labmod.Lab, pod: Pod) -> None:
    """`exec -it -- sh` on a pseudo-terminal: what is typed reaches the shell, its terminal
    knows our window size, and its exit code is ours."""
    cli = test_apply.Cli(lab)
    args = [sys.executable, "-m", "reconciler", "exec", pod.name, "-n", NAMESPACE, "-c", "main",
            "-it", "--filename", str(pod.path), "--", "sh"]  # fmt: skip
    primary, secondary = os.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    with subprocess.Popen(args, stdin=secondary, stdout=secondary, stderr=subprocess.PIPE,
                          env=cli.env) as shell:  # fmt: skip
        os.close(secondary)
        seen = _until(primary, b"# ")  # the prompt: ash reads now
        os.write(primary, b"echo sum-$((40+2)) $(busybox stty size)\n")
        seen += _until(primary, b"sum-42 33 101")
        os.write(primary, b"exit 3\n")
        code = shell.wait(timeout=60)
        problem = shell.stderr.read().decode() if shell.stderr else ""
    os.close(primary)
    assert b"sum-42 33 101" in seen, (seen, problem)
    assert code == 3, problem


def _until(fd: int, wanted: bytes) -> bytes:
    """What the terminal shows until `wanted` (answering ash's cursor-position queries)."""
    seen = b""
    deadline = time.monotonic() + 60
    while wanted not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if not ready:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        seen += data
        if b"\x1b[6n" in data:
            os.write(fd, b"\x1b[1;1R")
    return seen
