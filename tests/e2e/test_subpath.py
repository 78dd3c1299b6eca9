"""subPath mounts and pod hostname/subdomain on the real test hosts (issue 17, `reconciler
apply`): a Deployment mounts two subdirectories of one PersistentVolumeClaim, one key of a
ConfigMap as a single file and a subdirectory of an emptyDir named by `subPathExpr`; the container
sees exactly those, the volumes hold the subdirectories, the pod has its hostname and FQDN, and
data written through a subPath is read by the replacing pod. A pod's fsGroup gets its emptyDir
subdirectory.

Namespace `subpath-e2e`; its pods are pruned and its claim volume removed at the end. Run under
`flock /tmp/e2e.lock` (an apply prunes every other repository's pods).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.model import claims
from tests.harness import gitdaemon
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "subpath-e2e"
IMAGE = "198.18.0.1:5000/demo/busybox:latest"
FQDN = f"db-0.backend.{NAMESPACE}.svc.cluster.local"
MANIFESTS = f"""\
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
  resources: {{requests: {{storage: 64Mi}}}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: conf
  namespace: {NAMESPACE}
data:
  app.ini: "answer = 42"
  other.ini: "not mounted"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: store
  namespace: {NAMESPACE}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: store}}}}
  template:
    metadata: {{labels: {{app: store}}, annotations: {{edition: "EDITION"}}}}
    spec:
      hostname: db-0
      subdomain: backend
      terminationGracePeriodSeconds: 1
      containers:
        - name: app
          image: {IMAGE}
          command: ["sh", "-c", "[ -f /var/lib/db/first ] || echo $POD > /var/lib/db/first; \\
            echo cached > /cache/note; sleep 3600"]
          env:
            - name: POD
              valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
          volumeMounts:
            - {{name: data, mountPath: /var/lib/db, subPath: mysql}}
            - {{name: data, mountPath: /srv/html, subPath: site/html}}
            - {{name: data, mountPath: /whole, readOnly: true}}
            - {{name: conf, mountPath: /etc/app/app.ini, subPath: app.ini}}
            - {{name: scratch, mountPath: /cache, subPathExpr: $(POD)}}
            - {{name: scratch, mountPath: /scratch}}
      volumes:
        - name: data
          persistentVolumeClaim: {{claimName: data}}
        - name: conf
          configMap: {{name: conf}}
        - name: scratch
          emptyDir: {{}}
---
apiVersion: v1
kind: Pod
metadata:
  name: grouped
  namespace: {NAMESPACE}
spec:
  terminationGracePeriodSeconds: 1
  securityContext: {{fsGroup: 2000}}
  containers:
    - name: app
      image: {IMAGE}
      command: ["sleep", "3600"]
      securityContext: {{runAsUser: 1000}}
      volumeMounts: [{{name: g, mountPath: /g, subPath: sub}}]
  volumes:
    - {{name: g, emptyDir: {{}}}}
"""


def _apply(lab: labmod.Lab, repo: Path) -> None:
    result = gitdaemon.run_cli(lab, "apply", "--allow-mass-prune", str(repo))
    assert result.returncode == 0, result.stdout + result.stderr


def _write(repo: Path, edition: str) -> None:
    (repo / "app.yaml").write_text(MANIFESTS.replace("EDITION", edition))


def _pod(lab: labmod.Lab, repo: Path, owner: str = "Deployment/store") -> dict[str, Any]:
    result = gitdaemon.run_cli(lab, "get", "pods", "--direct", "-f", str(repo), "-n", NAMESPACE,
                               "-o", "json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    (pod,) = [p for p in json.loads(result.stdout)["items"] if p["owner"] == owner]
    return dict(pod)


def _exec(lab: labmod.Lab, pod: dict[str, Any], *command: str) -> str:
    """The command's output in the pod's container (retried while the container starts)."""
    host = lab.get(pod["host"])
    deadline = time.monotonic() + 30
    while True:
        result = lab.ssh(host, "podman", "exec", f"{NAMESPACE}_{pod['name']}_app", *command,
                         check=False)  # fmt: skip
        if result.returncode == 0:
            return result.stdout.strip()
        assert time.monotonic() < deadline, result.stderr
        time.sleep(0.5)


def _remove_claim_volume(lab: labmod.Lab) -> None:
    volume = claims.volume_name(NAMESPACE, "data")
    for host in lab.hosts():
        lab.ssh(host, "podman", "volume", "rm", "-f", volume, check=False)


@pytest.fixture(scope="module")
def repo(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path, hosts_only = gitdaemon.hosts_repos(tmp_path_factory.mktemp, "subpath")
    _remove_claim_volume(lab)  # a volume left by an earlier run starts over
    _write(path, "1")
    _apply(lab, path)
    yield path
    gitdaemon.run_cli(lab, "apply", "--allow-mass-prune", str(hosts_only))
    gitdaemon.remove_namespace_pods(lab, NAMESPACE)
    _remove_claim_volume(lab)


def test_the_container_sees_only_the_subpaths(lab: labmod.Lab, repo: Path) -> None:
    pod = _pod(lab, repo)
    assert _exec(lab, pod, "cat", "/etc/app/app.ini") == "answer = 42"
    assert _exec(lab, pod, "ls", "/etc/app") == "app.ini"  # one file, not the whole ConfigMap
    assert _exec(lab, pod, "cat", "/var/lib/db/first") == pod["name"]
    assert _exec(lab, pod, "ls", "/whole") == "mysql\nsite"  # made in the claim volume
    assert _exec(lab, pod, "cat", "/whole/mysql/first") == pod["name"]
    assert _exec(lab, pod, "ls", "/whole/site") == "html"
    assert _exec(lab, pod, "ls", "/srv/html") == ""  # an empty new directory
    assert _exec(lab, pod, "ls", "/scratch") == pod["name"]  # subPathExpr: $(POD)
    assert _exec(lab, pod, "cat", f"/scratch/{pod['name']}/note") == "cached"
    listed = _exec(lab, pod, "ls", "-ld", f"/scratch/{pod['name']}")
    assert listed.startswith("drwxrwxrwx")  # an emptyDir's subdirectory, as Kubernetes makes it


def test_the_pod_has_its_hostname_and_fqdn(lab: labmod.Lab, repo: Path) -> None:
    pod = _pod(lab, repo)
    assert _exec(lab, pod, "hostname") == "db-0"
    assert _exec(lab, pod, "hostname", "-f") == FQDN
    hosts = _exec(lab, pod, "cat", "/etc/hosts").splitlines()
    own = [line.split() for line in hosts if "db-0" in line.split()]
    assert own[0][1:] == [FQDN, "db-0"]  # the kubelet's line comes first
    assert len({fields[0] for fields in own}) == 1  # the address Podman gives the hostname


def test_data_written_through_a_subpath_survives_pod_replacement(
    lab: labmod.Lab, repo: Path
) -> None:
    before = _pod(lab, repo)
    _write(repo, "2")
    _apply(lab, repo)
    after = _pod(lab, repo)
    assert after["name"] != before["name"] and after["host"] == before["host"]
    assert _exec(lab, after, "cat", "/var/lib/db/first") == before["name"]  # the old pod's
    assert _exec(lab, after, "ls", "/scratch") == after["name"]  # a new emptyDir


def test_fs_group_gets_the_subdirectory(lab: labmod.Lab, repo: Path) -> None:
    pod = _pod(lab, repo, owner="")
    fields = _exec(lab, pod, "ls", "-ldn", "/g").split()
    assert (fields[0], fields[2], fields[3]) == ("drwxrwsr-x", "0", "2000")
    _exec(lab, pod, "touch", "/g/by-1000")  # the pod's user 1000 writes through the group
    assert _exec(lab, pod, "ls", "-ln", "/g/by-1000").split()[2:4] == ["1000", "2000"]
