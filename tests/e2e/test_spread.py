"""Pod anti-affinity on the real hosts: a Deployment with required podAntiAffinity on
kubernetes.io/hostname and 3 replicas runs one pod on each of h1..h3; scaled to 4, the 4th
replica is reported unschedulable with the scheduler's reason by `apply`, `diff` and
`describe pod`, and the three running pods stay. Namespace spread-e2e; run under
`flock /tmp/e2e.lock`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_apply import EXAMPLE, Cli
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "spread-e2e"
REASON = "0/3 hosts: 3 didn't match pod anti-affinity rules"

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata:
  name: spread-e2e
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: one-per-host
  namespace: spread-e2e
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: one-per-host}}}}
  template:
    metadata: {{labels: {{app: one-per-host}}}}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - topologyKey: kubernetes.io/hostname
            labelSelector: {{matchLabels: {{app: one-per-host}}}}
      containers:
      - name: main
        image: 198.18.0.1:5000/demo/busybox:latest
        imagePullPolicy: IfNotPresent
        command: [sleep, "3600"]
        resources: {{requests: {{cpu: 10m, memory: 8Mi}}}}
"""


@pytest.fixture(scope="module")
def cli(lab: labmod.Lab) -> Cli:
    return Cli(lab)


@pytest.fixture(scope="module")
def repo(lab: labmod.Lab, cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("spread") / "repo"
    shutil.copytree(EXAMPLE / "hosts", path / "hosts")
    hosts_only = tmp_path_factory.mktemp("spread-hosts") / "repo"
    shutil.copytree(EXAMPLE / "hosts", hosts_only / "hosts")
    yield path
    cli("apply", "--allow-mass-prune", str(hosts_only))


def _write(repo: Path, replicas: int) -> None:
    (repo / "spread.yaml").write_text(MANIFEST.format(replicas=replicas))


def _pods(cli: Cli, repo: Path) -> dict[str, str]:
    result = cli("get", "pods", "-f", str(repo), "-o", "json", "-n", NAMESPACE)
    assert result.returncode == 0, result.stderr
    return {item["name"]: item["host"] for item in json.loads(result.stdout)["items"]}


def test_three_replicas_one_per_host(cli: Cli, repo: Path) -> None:
    _write(repo, 3)
    result = cli("apply", "--allow-mass-prune", str(repo))
    assert result.returncode == 0, result.stdout + result.stderr
    pods = _pods(cli, repo)
    assert len(pods) == 3
    assert sorted(pods.values()) == ["h1", "h2", "h3"]


def test_fourth_replica_unschedulable_with_the_reason(cli: Cli, repo: Path) -> None:
    before = _pods(cli, repo)
    _write(repo, 4)
    diff = cli("diff", str(repo))
    assert diff.returncode != 0
    assert "Unschedulable:" in diff.stdout, diff.stdout + diff.stderr
    lines = [line for line in diff.stdout.splitlines() if REASON in line]
    assert len(lines) == 1, diff.stdout
    pending = lines[0].strip().split(":")[0].split("/")[1]

    applied = cli("apply", str(repo))
    assert applied.returncode == 4, applied.stdout + applied.stderr  # incomplete: one pod left out
    assert f"pod {NAMESPACE}/{pending} unschedulable: {REASON}" in applied.stderr
    assert _pods(cli, repo) == before  # the three keep running where they are

    described = cli("describe", "pod", pending, "-f", str(repo), "-n", NAMESPACE)
    assert described.returncode == 0, described.stdout + described.stderr
    assert "Status:       Pending (unschedulable)" in described.stdout
    assert f"FailedScheduling  scheduler  {REASON}" in described.stdout
