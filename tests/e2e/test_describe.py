"""`reconciler describe pod` end to end: the `Events:` section read from Podman on a real host.

A one-container Pod in namespace `describe-e2e` (a new pod name each run, so no earlier run's
events count) is planned from a small repository and created; `describe` shows its container
created and started; after a `podman stop` by hand it shows the container died.

The pod is created through the executor with this namespace's actions only: `reconciler apply`
would prune the other namespaces that engineers run on the same hosts meanwhile.
"""

from __future__ import annotations

import shutil
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
NAMESPACE = "describe-e2e"
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
      command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
"""


class Probe:
    """The repository, the executor that plans and applies its namespace, and the pod's name."""

    def __init__(self, lab: labmod.Lab, path: Path) -> None:
        self.lab = lab
        self.path = path
        self.name = f"probe-{uuid.uuid4().hex[:8]}"
        shutil.copytree(test_apply.EXAMPLE / "hosts", path / "hosts")
        manifest = MANIFESTS.format(namespace=NAMESPACE, name=self.name, image=lab.config.image)
        (path / f"{NAMESPACE}.yaml").write_text(manifest)
        self.executor = podman_ssh.PodmanSSHExecutor(
            lab.config.known_hosts, lab.config.key_file, command_timeout=60, stop_timeout=2
        )

    def apply_namespace(self) -> list[hoststate.ActionResult]:
        """Converge this namespace only: the plan's actions on other namespaces are dropped."""
        loaded = loader.load_repository(self.path)
        assert loaded.ok, loaded.errors
        targets = sync.targets_of(loaded.state)
        observations = self.executor.observe(targets)
        result = pipeline.build_plan(loaded.state, observations, worktree.UNVERSIONED)
        mine = tuple(a for a in result.plan.actions if a.namespace == NAMESPACE)
        return self.executor.apply(hoststate.Plan(mine), targets)

    def remove_all(self) -> None:
        """Delete every pod of the namespace (this run's and any left by an earlier one)."""
        targets = sync.targets_of(loader.load_repository(self.path).state)
        pods = [
            pod
            for seen in self.executor.observe(targets).values()
            for pod in seen.pods
            if pod.namespace == NAMESPACE
        ]
        deletes = tuple(
            hoststate.Action(hoststate.ActionKind.DELETE, p.host, p.namespace, p.name, observed=p)
            for p in pods
        )
        self.executor.apply(hoststate.Plan(deletes), targets)


@pytest.fixture(scope="module")
def probe(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Probe]:
    made = Probe(lab, tmp_path_factory.mktemp("describe") / "repo")
    try:
        yield made
    finally:
        made.remove_all()
        made.executor.close()


def _events(cli: test_apply.Cli, probe: Probe) -> list[list[str]]:
    """The rows of describe's Events section, split into words."""
    result = cli("describe", "pod", probe.name, "-f", str(probe.path), "-n", NAMESPACE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Name:         {probe.name}\n" in result.stdout
    section = result.stdout.split("\nEvents:", 1)[1]
    assert "<unavailable" not in section, section
    return [line.split() for line in section.splitlines()[1:]]


def _has(rows: list[list[str]], event: str, *obj: str) -> bool:
    return any(row[1:2] == [event] and row[2 : 2 + len(obj)] == list(obj) for row in rows)


def test_describe_shows_the_container_created_started_then_died(
    lab: labmod.Lab, probe: Probe
) -> None:
    cli = test_apply.Cli(lab)
    (result,) = probe.apply_namespace()
    assert result.outcome is hoststate.Outcome.DONE, result.message
    host = result.action.host

    rows = _events(cli, probe)
    assert rows[0] == ["AGE", "EVENT", "OBJECT", "MESSAGE"]
    assert _has(rows, "create", "pod") and _has(rows, "start", "pod"), rows
    assert ["create", "container", "main", "image", lab.config.image] in [r[1:] for r in rows]
    assert _has(rows, "start", "container", "main"), rows
    assert not _has(rows, "died", "container", "main"), rows

    container = f"{NAMESPACE}_{probe.name}_main"
    lab.ssh(lab.get(host), "podman", "stop", "-t", "5", container)
    deadline = time.monotonic() + 60  # the event log is written by podman's cleanup process
    while not _has(rows := _events(cli, probe), "died", "container", "main"):
        assert time.monotonic() < deadline, rows
        time.sleep(1)
    assert ["died", "container", "main", "exit", "code", "0"] in [r[1:] for r in rows]
