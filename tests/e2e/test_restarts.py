"""Restarts with back-off end to end, on a real host: a Pod whose container exits 1 two seconds
after each start. Podman's died event reaches `watch_exits` as it happens; the first restart
is due at once, the second only after its 10 s back-off (CrashLoopBackOff meanwhile); Podman on
the host itself shows the container started three times.

The pod is created in namespace `restart-e2e` with this namespace's actions only (`reconciler
apply` would prune the other namespaces that engineers run on the same hosts meanwhile). The
first restart's exit-to-restart latency is printed (the benchmark belongs in bench/).
"""

from __future__ import annotations

import json
import queue
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.controllers import backoff, lifecycle, sync
from reconciler.executor import exitwatch, podman_ssh
from reconciler.manifests import loader
from reconciler.model import hoststate
from reconciler.plan import pipeline
from reconciler.source import worktree
from tests.e2e import test_apply
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "restart-e2e"
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
  terminationGracePeriodSeconds: 1
  containers:
    - name: crash
      image: {image}
      command: ["sh", "-c", "sleep 2; exit 1"]
"""
WAIT = 60.0  # bound on waiting for an exit event (never asserted as a duration)


class Crashing:
    """The repository, the executor, the restart registry and the exits it saw."""

    def __init__(self, lab: labmod.Lab, path: Path) -> None:
        self.path = path
        self.name = f"crash-{uuid.uuid4().hex[:8]}"
        shutil.copytree(test_apply.EXAMPLE / "hosts", path / "hosts")
        manifest = MANIFESTS.format(namespace=NAMESPACE, name=self.name, image=lab.config.image)
        (path / f"{NAMESPACE}.yaml").write_text(manifest)
        self.targets = sync.targets_of(loader.load_repository(path).state)
        self.executor = podman_ssh.PodmanSSHExecutor(
            lab.config.known_hosts, lab.config.key_file, command_timeout=60, stop_timeout=2
        )
        self.restarts = lifecycle.Restarts()
        self.exits: queue.Queue[tuple[float, hoststate.ContainerExit]] = queue.Queue()

    def on_exit(self, exit: hoststate.ContainerExit) -> None:
        self.restarts.on_exit(exit)
        if (exit.namespace, exit.name) == (NAMESPACE, self.name):
            self.exits.put((time.time(), exit))

    def apply_namespace(self) -> list[hoststate.ActionResult]:
        loaded = loader.load_repository(self.path)
        assert loaded.ok, loaded.errors
        observations = self.executor.observe(self.targets)
        result = pipeline.build_plan(loaded.state, observations, worktree.UNVERSIONED)
        mine = tuple(a for a in result.plan.actions if a.namespace == NAMESPACE)
        return self.executor.apply(hoststate.Plan(mine), self.targets)

    def next_exit(self) -> tuple[float, hoststate.ContainerExit]:
        return self.exits.get(timeout=WAIT)

    def due(self) -> lifecycle.Verdicts:
        return self.restarts.due(self.executor.observe(self.targets), time.time())

    def restart(self, verdicts: lifecycle.Verdicts) -> hoststate.ActionResult:
        (action,) = [a for a in verdicts.restarts if a.namespace == NAMESPACE]
        (result,) = self.executor.apply(hoststate.Plan((action,)), self.targets)
        self.restarts.restarted(result)
        return result

    def remove_all(self) -> None:
        pods = [
            pod
            for seen in self.executor.observe(self.targets).values()
            for pod in seen.pods
            if pod.namespace == NAMESPACE
        ]
        deletes = tuple(
            hoststate.Action(hoststate.ActionKind.DELETE, p.host, p.namespace, p.name, observed=p)
            for p in pods
        )
        self.executor.apply(hoststate.Plan(deletes), self.targets)


@pytest.fixture
def crashing(lab: labmod.Lab, tmp_path: Path) -> Iterator[Crashing]:
    made = Crashing(lab, tmp_path / "repo")
    try:
        made.remove_all()  # an earlier run's leftovers
        yield made
    finally:
        made.remove_all()
        made.restarts.close()
        made.executor.close()


def _starts(lab: labmod.Lab, host: str, container: str) -> list[str]:
    """The container's start events, as Podman on the host logged them."""
    found = lab.ssh(
        lab.get(host), "podman", "events", "--stream=false", "--since", "10m",
        "--filter", f"container={container}", "--filter", "event=start", "--format", "json",
    )  # fmt: skip
    return [line for line in found.stdout.splitlines() if line.strip()]


def _state(lab: labmod.Lab, host: str, container: str) -> str:
    found = lab.ssh(lab.get(host), "podman", "inspect", container, "--format", "json")
    return str(json.loads(found.stdout)[0]["State"]["Status"])


def test_a_crashing_container_restarts_at_once_then_after_its_backoff(
    lab: labmod.Lab, crashing: Crashing
) -> None:
    crashing.executor.watch_exits(crashing.targets, crashing.on_exit)
    hosts = [t.name for t in crashing.targets]
    assert exitwatch.wait_connected(crashing.executor.exit_watcher, hosts, 30)
    (created,) = crashing.apply_namespace()
    assert created.outcome is hoststate.Outcome.DONE, created.message
    host = created.action.host
    container = f"{NAMESPACE}_{crashing.name}_crash"

    noticed, first = crashing.next_exit()  # from the event stream, not from a resync
    assert (first.host, first.container, first.exit_code) == (host, "crash", 1)
    verdicts = crashing.due()
    (action,) = verdicts.restarts
    assert action.reason == "container crash exited with code 1: restart 1 (back-off 0s)"
    result = crashing.restart(verdicts)
    restarted = time.time()
    assert result.outcome is hoststate.Outcome.DONE, result.message
    print(
        f"\nfirst restart: exit noticed {noticed - first.time:.3f}s after the exit, "
        f"restarted {restarted - first.time:.3f}s after the exit"
    )

    _, second = crashing.next_exit()
    assert second.exit_code == 1
    verdicts = crashing.due()
    assert verdicts.restarts == ()
    (waiting,) = [w for w in verdicts.waiting if w.key == (NAMESPACE, crashing.name)]
    assert waiting.message == "back-off 10s restarting failed container crash"
    assert crashing.restarts.waiting(NAMESPACE, crashing.name) == backoff.CRASH_LOOP
    assert _state(lab, host, container) == "exited"  # Podman itself does not restart it
    assert verdicts.next_due is not None
    time.sleep(verdicts.next_due)
    verdicts = crashing.due()
    result = crashing.restart(verdicts)
    assert result.outcome is hoststate.Outcome.DONE, result.message
    assert result.action.reason.endswith("restart 2 (back-off 10s)")
    assert crashing.restarts.restart_count(NAMESPACE, crashing.name, "crash") == 2
    assert crashing.restarts.waiting(NAMESPACE, crashing.name) == ""
    assert len(_starts(lab, host, container)) >= 3  # created and started, then restarted twice
