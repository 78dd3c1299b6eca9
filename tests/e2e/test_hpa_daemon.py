"""The HorizontalPodAutoscaler on the real test hosts (cgroup v1: usage read from /proc).

One push: Deployment `burn` (1 replica, cpu request 100m) whose container spins while
/tmp/load exists, and an HPA at 50% with maxReplicas 3, a 10 s scale-down window and a 3 s
metrics period. The executor's metrics read sane numbers (idle near 0, one spinning shell
hundreds of millicores); `touch /tmp/load` in the pod ▶ 3 replicas Running; the daemon restarted
keeps the 3 pods (the recorded count, not git's 1); `rm /tmp/load` ▶ back to 1 after the window.

Namespace `hpa-e2e`, its own git server user and port; pods removed at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.executor import podman_ssh
from reconciler.model import hoststate, metrics
from tests.harness import daemonproc, gitdaemon, proc
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "hpa-e2e"
IMAGE = "198.18.0.1:5000/demo/busybox:latest"
MANIFESTS = f"""\
apiVersion: v1
kind: Namespace
metadata: {{name: {NAMESPACE}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: burn, namespace: {NAMESPACE}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: burn}}}}
  template:
    metadata: {{labels: {{app: burn}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: burn
          image: {IMAGE}
          imagePullPolicy: IfNotPresent
          command: ["sh", "-c", "while :; do [ -e /tmp/load ] || sleep 1; done"]
          resources: {{requests: {{cpu: 100m, memory: 16Mi}}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: burn, namespace: {NAMESPACE}}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: burn}}
  minReplicas: 1
  maxReplicas: 3
  metrics:
    - type: Resource
      resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 50}}}}
  behavior:
    scaleDown: {{stabilizationWindowSeconds: 10}}
"""


@dataclass(frozen=True)
class Setup:
    daemon: daemonproc.DaemonProcess
    repo: Path
    state: Path


@dataclass(frozen=True)
class Running:
    host: str
    pod: str
    podman_id: str


@pytest.fixture(scope="module")
def setup(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp("hpa")
    with gitdaemon.daemon_on_git(
        lab, base, git_user="rc-git-hpa", namespace=NAMESPACE, extra_config="autoscale_period: 3\n"
    ) as (daemon, work):
        work.write("app.yaml", MANIFESTS)
        work.commit_and_push("burn and its autoscaler")
        yield Setup(daemon, work.path, base / "state")


def running(lab: labmod.Lab) -> list[Running]:
    """The burn containers that run, straight from Podman on the hosts."""
    found = []
    for host in lab.hosts():
        listed = lab.ssh(
            host,
            "podman",
            "ps",
            "--format",
            "json",
            "--filter",
            f"label=reconciler.dev/namespace={NAMESPACE}",
            check=False,
        )
        for item in json.loads(listed.stdout or "[]"):
            labels = item.get("Labels") or {}
            if labels.get("reconciler.dev/container") == "burn" and item.get("State") == "running":
                found.append(Running(host.name, labels["reconciler.dev/name"], item["Id"]))
    return sorted(found, key=lambda r: r.pod)


def wait_count(lab: labmod.Lab, count: int, timeout: float) -> list[Running]:
    def check() -> list[Running] | None:
        now = running(lab)
        return now if len(now) == count else None

    found = proc.wait_for(check, f"{count} burn pod(s) running", timeout, 1.0)
    assert found is not None
    return found


def cli(lab: labmod.Lab, setup: Setup, *args: str) -> str:
    env = {**gitdaemon.cli_env(lab), "RECONCILER_STATE_DIR": str(setup.state)}
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", *args, "-n", NAMESPACE, "-f", str(setup.repo)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def hpa_row(lab: labmod.Lab, setup: Setup) -> dict[str, str]:
    _head, row = cli(lab, setup, "get", "hpa").splitlines()
    cells = row.split()
    return {"REPLICAS": cells[-2], "SOURCE": cells[-1], "TARGETS": " ".join(cells[3:5])}


def cpu_rate(
    executor: podman_ssh.PodmanSSHExecutor, targets: list[hoststate.HostTarget], podman_id: str
) -> tuple[float, int, set[metrics.Source | None]]:
    """(millicores, bytes) of one container over 3 s, and the sources the hosts used."""
    first = executor.metrics(targets)
    time.sleep(3)
    second = executor.metrics(targets)
    for host, sample in second.items():
        for key, rate in metrics.rates(first[host], sample).items():
            usage = [c for c in sample.containers if (c.namespace, c.pod, c.container) == key]
            if usage and usage[0].podman_id == podman_id:
                return rate.cpu_millis, rate.memory_bytes, {s.source for s in second.values()}
    raise AssertionError(f"container {podman_id} not measured: {second}")


def test_scale_up_under_load_keep_across_restart_scale_down(lab: labmod.Lab, setup: Setup) -> None:
    (first,) = wait_count(lab, 1, 120)
    targets = [hoststate.HostTarget(h.name, h.address, 22, h.user) for h in lab.hosts()]
    with podman_ssh.PodmanSSHExecutor(
        lab.config.known_hosts, lab.config.key_file, connect_timeout=5, command_timeout=30
    ) as executor:
        idle_cpu, idle_memory, sources = cpu_rate(executor, targets, first.podman_id)
        print(f"\nidle: {idle_cpu:.1f}m, {idle_memory / 1024:.0f} KiB; sources {sources}")
        assert sources == {metrics.Source.PROC}  # cgroup v1: Podman's stats API refuses
        assert 0 <= idle_cpu < 50
        assert 64 * 1024 < idle_memory < 64 * 1024 * 1024
        lab.ssh(lab.get(first.host), "podman", "exec", first.podman_id, "touch", "/tmp/load")
        started = time.monotonic()
        busy_cpu, _, _ = cpu_rate(executor, targets, first.podman_id)
        print(f"loaded: {busy_cpu:.1f}m")
        assert 150 < busy_cpu < 1100  # a spinning shell: far above idle
    three = wait_count(lab, 3, 90)
    up = time.monotonic() - started
    print(f"3 replicas Running {up:.1f}s after the load started")
    row = hpa_row(lab, setup)
    assert row["REPLICAS"] == "3" and row["SOURCE"] == "proc", row
    assert row["TARGETS"].startswith("cpu:") and row["TARGETS"].endswith("/50%"), row
    described = cli(lab, setup, "describe", "hpa", "burn")
    assert "SuccessfulRescale" in described and "New size: 3" in described, described

    setup.daemon.stop()
    setup.daemon.start()
    time.sleep(12)  # several periods and resyncs of the new daemon
    assert running(lab) == three  # the same 3 pods: the recorded count, never git's 1

    lab.ssh(lab.get(first.host), "podman", "exec", first.podman_id, "rm", "-f", "/tmp/load")
    stopped = time.monotonic()
    (last,) = wait_count(lab, 1, 90)
    print(f"back to 1 replica {time.monotonic() - stopped:.1f}s after the load stopped")
    assert last.pod == first.pod  # scale-down removes the highest index first
    assert hpa_row(lab, setup)["REPLICAS"] == "1"
    assert "All metrics below target" in cli(lab, setup, "describe", "hpa", "burn")
