"""Node affinity on the real hosts (h1, h2 in zone a; h3 in zone b): required `In` on the zone
label puts every replica on h3, required `NotIn` on kubernetes.io/hostname keeps replicas off
h1, a preferred term on h2 gathers replicas there (spreading would not); a pod whose only term
no host satisfies is reported unschedulable by `apply` with kube-scheduler's reason, and the
others stay. Namespace nodeaff-e2e; run under `flock /tmp/e2e.lock`.
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
NAMESPACE = "nodeaff-e2e"
REASON = "0/3 hosts: 3 didn't match Pod's node affinity/selector"

NAMESPACE_DOC = """\
apiVersion: v1
kind: Namespace
metadata:
  name: nodeaff-e2e
"""

DEPLOYMENT = """\
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: nodeaff-e2e
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      affinity:
        nodeAffinity:
{affinity}
      containers:
      - name: main
        image: 198.18.0.1:5000/demo/busybox:latest
        imagePullPolicy: IfNotPresent
        command: [sleep, "3600"]
        resources: {{requests: {{cpu: 10m, memory: 8Mi}}}}
"""

IN_ZONE_B = """\
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions:
              - {key: zone, operator: In, values: [b]}"""
NOT_ON_H1 = """\
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions:
              - {key: kubernetes.io/hostname, operator: NotIn, values: [h1]}"""
PREFER_H2 = """\
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 50
            preference:
              matchFields:
              - {key: metadata.name, operator: In, values: [h2]}"""
NOWHERE = """\
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions:
              - {key: zone, operator: In, values: [c]}
            - matchExpressions:
              - {key: disk, operator: NotIn, values: [ssd]}"""


@pytest.fixture(scope="module")
def cli(lab: labmod.Lab) -> Cli:
    return Cli(lab)


@pytest.fixture(scope="module")
def repo(lab: labmod.Lab, cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("nodeaff") / "repo"
    shutil.copytree(EXAMPLE / "hosts", path / "hosts")
    hosts_only = tmp_path_factory.mktemp("nodeaff-hosts") / "repo"
    shutil.copytree(EXAMPLE / "hosts", hosts_only / "hosts")
    yield path
    cli("apply", "--allow-mass-prune", str(hosts_only))


def _write(repo: Path, *deployments: tuple[str, int, str]) -> None:
    text = NAMESPACE_DOC + "".join(
        DEPLOYMENT.format(name=name, replicas=replicas, affinity=affinity)
        for name, replicas, affinity in deployments
    )
    (repo / "nodeaff.yaml").write_text(text)


def _hosts(cli: Cli, repo: Path) -> dict[str, list[str]]:
    """Deployment name -> the hosts of its pods, sorted."""
    result = cli("get", "pods", "-f", str(repo), "-o", "json", "-n", NAMESPACE)
    assert result.returncode == 0, result.stderr
    found: dict[str, list[str]] = {}
    for item in json.loads(result.stdout)["items"]:
        owner = item["name"].rsplit("-", 2)[0]
        found.setdefault(owner, []).append(item["host"])
    return {owner: sorted(hosts) for owner, hosts in found.items()}


PLACED = (("in-zone-b", 3, IN_ZONE_B), ("not-on-h1", 4, NOT_ON_H1), ("prefer-h2", 2, PREFER_H2))


def test_required_and_preferred_node_affinity_place_the_replicas(cli: Cli, repo: Path) -> None:
    _write(repo, *PLACED)
    validated = cli("validate", str(repo))
    assert validated.returncode == 0, validated.stdout + validated.stderr
    result = cli("apply", "--allow-mass-prune", str(repo))
    assert result.returncode == 0, result.stdout + result.stderr
    hosts = _hosts(cli, repo)
    assert hosts["in-zone-b"] == ["h3", "h3", "h3"]
    assert len(hosts["not-on-h1"]) == 4 and "h1" not in hosts["not-on-h1"]
    assert set(hosts["not-on-h1"]) == {"h2", "h3"}  # spread over the hosts it may use
    assert hosts["prefer-h2"] == ["h2", "h2"]


def test_no_host_satisfies_the_terms_unschedulable_with_the_reason(cli: Cli, repo: Path) -> None:
    before = _hosts(cli, repo)
    _write(repo, *PLACED, ("nowhere", 1, NOWHERE))
    applied = cli("apply", str(repo))
    assert applied.returncode == 4, applied.stdout + applied.stderr  # incomplete
    lines = [line for line in applied.stderr.splitlines() if REASON in line]
    assert len(lines) == 1, applied.stderr
    assert f"pod {NAMESPACE}/nowhere-" in lines[0]
    assert _hosts(cli, repo) == before  # the others keep running where they are
