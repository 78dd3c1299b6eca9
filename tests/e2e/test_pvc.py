"""PersistentVolumeClaims on the real test hosts (`reconciler apply`, `get pvc`): a Deployment
writes into its claim, a template change rolls it to a new pod on the same host that reads the
same data, a second apply keeps it, two replicas of one ReadWriteOnce claim share one host, and a
claim removed from git keeps its volume (Orphaned in `get pvc`).

Namespace `pvc-e2e`; its pods are pruned and its claim volumes removed at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.model import claims
from tests.harness import gitdaemon
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "pvc-e2e"
IMAGE = "198.18.0.1:5000/demo/busybox:latest"
CLAIMS = f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  namespace: {NAMESPACE}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: local
  resources: {{requests: {{storage: 1Gi}}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: shared
  namespace: {NAMESPACE}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 64Mi}}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: scratch
  namespace: {NAMESPACE}
  annotations: {{reconciler.dev/reclaim-policy: Delete}}
spec:
  accessModes: [ReadWriteOncePod]
  resources: {{requests: {{storage: 16Mi}}}}
"""
WORKLOADS = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: store
  namespace: {NAMESPACE}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: store}}}}
  template:
    metadata: {{labels: {{app: store}}, annotations: {{edition: "{{edition}}"}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: app
          image: {IMAGE}
          command: ["sh", "-c", "[ -f /data/first ] || echo $POD > /data/first; sleep 3600"]
          env:
            - name: POD
              valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
          volumeMounts: [{{name: data, mountPath: /data}}]
      volumes:
        - name: data
          persistentVolumeClaim: {{claimName: data}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: pair
  namespace: {NAMESPACE}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: pair}}}}
  template:
    metadata: {{labels: {{app: pair}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: app
          image: {IMAGE}
          command: ["sleep", "3600"]
          volumeMounts: [{{name: shared, mountPath: /shared, readOnly: true}}]
      volumes:
        - name: shared
          persistentVolumeClaim: {{claimName: shared}}
---
apiVersion: v1
kind: Pod
metadata:
  name: scratcher
  namespace: {NAMESPACE}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: app
      image: {IMAGE}
      command: ["sleep", "3600"]
      volumeMounts: [{{name: s, mountPath: /s}}]
  volumes:
    - name: s
      persistentVolumeClaim: {{claimName: scratch}}
"""


def reconciler(lab: labmod.Lab, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args, *(("--direct",) if args[0] == "get" else ())],
        capture_output=True, text=True, env=gitdaemon.cli_env(lab), timeout=300, check=False,
    )  # fmt: skip


def _apply(lab: labmod.Lab, repo: Path) -> None:
    result = reconciler(lab, "apply", "--allow-mass-prune", str(repo))
    assert result.returncode == 0, result.stdout + result.stderr


def _write(repo: Path, edition: str, *, with_claims: bool = True) -> None:
    (repo / "app.yaml").write_text(WORKLOADS.replace("{edition}", edition))
    if with_claims:
        (repo / "claims.yaml").write_text(CLAIMS)
    else:
        (repo / "claims.yaml").write_text(CLAIMS.partition("---\n")[0])  # the Namespace only
        (repo / "app.yaml").unlink()


def _get(lab: labmod.Lab, repo: Path, what: str) -> list[dict[str, Any]]:
    result = reconciler(lab, "get", what, "-f", str(repo), "-n", NAMESPACE, "-o", "json")
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout)["items"])


def _exec(lab: labmod.Lab, host: labmod.Host, container: str, *command: str) -> Any:
    deadline = time.monotonic() + 30
    while True:
        result = lab.ssh(host, "podman", "exec", container, *command, check=False)
        if result.returncode == 0 or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def _volumes(lab: labmod.Lab) -> dict[str, list[str]]:
    """Host name -> the claim volumes of the namespace on it."""
    found = {}
    for host in lab.hosts():
        listed = lab.ssh(host, "podman", "volume", "ls", "-q", "--filter",
                         f"label=reconciler.dev/namespace={NAMESPACE}").stdout.split()  # fmt: skip
        found[host.name] = [v for v in listed if v.startswith(claims.VOLUME_PREFIX)]
    return found


@pytest.fixture(scope="module")
def repo(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path, hosts_only = gitdaemon.hosts_repos(tmp_path_factory.mktemp, "pvc")
    for host, names in _volumes(lab).items():  # a volume left by an earlier run starts over
        for name in names:
            lab.ssh(lab.get(host), "podman", "volume", "rm", "-f", name, check=False)
    _write(path, "1")
    _apply(lab, path)
    yield path
    reconciler(lab, "apply", "--allow-mass-prune", str(hosts_only))
    for host, names in _volumes(lab).items():
        for name in names:
            lab.ssh(lab.get(host), "podman", "volume", "rm", "-f", name, check=False)


def _store_pod(lab: labmod.Lab, repo: Path) -> dict[str, Any]:
    (pod,) = [p for p in _get(lab, repo, "pods") if p["owner"] == "Deployment/store"]
    return pod


def test_claims_are_bound_on_the_host_of_their_pods(lab: labmod.Lab, repo: Path) -> None:
    rows = {row["name"]: row for row in _get(lab, repo, "pvc")}
    pod = _store_pod(lab, repo)
    assert rows["data"]["status"] == "Bound" and rows["data"]["host"] == pod["host"]
    assert rows["data"]["capacity"] == "1Gi" and rows["data"]["accessModes"] == "RWO"
    assert rows["data"]["volume"] == claims.volume_name(NAMESPACE, "data")
    assert _volumes(lab)[pod["host"]].count(claims.volume_name(NAMESPACE, "data")) == 1
    pair = [p for p in _get(lab, repo, "pods") if p["owner"] == "Deployment/pair"]
    assert len(pair) == 2 and len({p["host"] for p in pair}) == 1  # one RWO claim: one host
    assert rows["shared"]["host"] == pair[0]["host"]


def test_a_rollout_keeps_the_data_and_the_host(lab: labmod.Lab, repo: Path) -> None:
    before = _store_pod(lab, repo)
    host = lab.get(before["host"])
    first = _exec(lab, host, f"{NAMESPACE}_{before['name']}_app", "cat", "/data/first")
    assert first.stdout.strip() == before["name"], first.stderr
    _write(repo, "2")
    _apply(lab, repo)
    after = _store_pod(lab, repo)
    assert after["name"] != before["name"] and after["host"] == before["host"]
    again = _exec(lab, host, f"{NAMESPACE}_{after['name']}_app", "cat", "/data/first")
    assert again.stdout.strip() == before["name"], again.stderr  # written by the old pod
    _apply(lab, repo)  # a second apply changes nothing
    assert _store_pod(lab, repo)["name"] == after["name"]
    kept = _exec(lab, host, f"{NAMESPACE}_{after['name']}_app", "cat", "/data/first")
    assert kept.stdout.strip() == before["name"]


def test_a_claim_removed_from_git_keeps_its_volume_unless_delete(
    lab: labmod.Lab, repo: Path
) -> None:
    holder = _store_pod(lab, repo)["host"]
    (scratcher,) = [p for p in _get(lab, repo, "pods") if p["name"] == "scratcher"]
    scratch = claims.volume_name(NAMESPACE, "scratch")
    assert scratch in _volumes(lab)[scratcher["host"]]
    _write(repo, "2", with_claims=False)
    _apply(lab, repo)  # the pods go; a volume is reclaimed only once no pod mounts it
    assert not _get(lab, repo, "pods")
    _apply(lab, repo)  # reclaim policy Delete: `scratch` goes now
    volumes = _volumes(lab)
    assert claims.volume_name(NAMESPACE, "data") in volumes[holder]
    assert all(scratch not in names for names in volumes.values())
    rows = {row["name"]: row for row in _get(lab, repo, "pvc")}
    assert rows["data"]["status"] == "Orphaned" and rows["data"]["host"] == holder
    assert "scratch" not in rows
