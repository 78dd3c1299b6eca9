"""Pod features of real manifests (issue 17) on the real test hosts (`reconciler apply`):
securityContext (user, group, read-only root, no-new-privileges, capabilities), hostAliases with
dnsPolicy Default next to the Service names, env from fieldRef and resourceFieldRef, an emptyDir
of medium Memory with a sizeLimit.

Namespace `rw-e2e`; every managed pod is pruned at the end (hosts-only repository).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import gitdaemon
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "rw-e2e"
IMAGE = "198.18.0.1:5000/demo/busybox:latest"
MANIFESTS = f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
---
apiVersion: v1
kind: Pod
metadata:
  name: secure
  namespace: {NAMESPACE}
spec:
  nodeSelector: {{zone: b}}
  terminationGracePeriodSeconds: 1
  securityContext:
    runAsUser: 1000
    runAsGroup: 3000
    runAsNonRoot: true
  containers:
    - name: app
      image: {IMAGE}
      command: ["sleep", "3600"]
      securityContext:
        readOnlyRootFilesystem: true
        allowPrivilegeEscalation: false
        capabilities:
          drop: [ALL]
          add: [NET_BIND_SERVICE]
      volumeMounts:
        - name: scratch
          mountPath: /scratch
  volumes:
    - name: scratch
      emptyDir: {{medium: Memory, sizeLimit: 2Mi}}
---
apiVersion: v1
kind: Pod
metadata:
  name: named
  namespace: {NAMESPACE}
spec:
  nodeSelector: {{zone: b}}
  terminationGracePeriodSeconds: 1
  dnsPolicy: Default
  hostAliases:
    - ip: 198.18.0.99
      hostnames: [db.internal, db]
  containers:
    - name: app
      image: {IMAGE}
      command: ["sleep", "3600"]
      resources: {{limits: {{memory: 32Mi}}}}
      env:
        - name: MY_NODE
          valueFrom: {{fieldRef: {{fieldPath: spec.nodeName}}}}
        - name: MY_HOST_IP
          valueFrom: {{fieldRef: {{fieldPath: status.hostIP}}}}
        - name: MY_NAME
          valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
        - name: MY_MEMORY_MI
          valueFrom: {{resourceFieldRef: {{resource: limits.memory, divisor: 1Mi}}}}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {NAMESPACE}
spec:
  selector: {{app: none}}
  ports:
    - port: 28191
      targetPort: 8080
"""


reconciler = gitdaemon.run_cli  # `reconciler ARGS...` against the lab


@pytest.fixture(scope="module")
def applied(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    repo, hosts_only = gitdaemon.hosts_repos(tmp_path_factory.mktemp, "rw")
    (repo / "app.yaml").write_text(MANIFESTS)
    result = reconciler(lab, "apply", "--allow-mass-prune", str(repo))
    assert result.returncode == 0, result.stdout + result.stderr
    yield repo
    reconciler(lab, "apply", "--allow-mass-prune", str(hosts_only))


def _exec(lab: labmod.Lab, host: labmod.Host, container: str, *command: str) -> Any:
    deadline = time.monotonic() + 30
    while True:
        result = lab.ssh(host, "podman", "exec", container, *command, check=False)
        if result.returncode in (0, 1) or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def _inspect(lab: labmod.Lab, host: labmod.Host, container: str) -> Any:
    return json.loads(lab.ssh(host, "podman", "container", "inspect", container).stdout)[0]


def test_security_context_runs_the_container_as_declared(lab: labmod.Lab, applied: Path) -> None:
    host = lab.get("h3")
    container = f"{NAMESPACE}_secure_app"
    ids = _exec(lab, host, container, "id")
    assert ids.returncode == 0, ids.stderr
    assert "uid=1000" in ids.stdout and "gid=3000" in ids.stdout
    write = _exec(lab, host, container, "touch", "/written")
    assert write.returncode != 0 and "Read-only file system" in write.stderr
    status = _exec(lab, host, container, "cat", "/proc/1/status").stdout
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["NoNewPrivs"].strip() == "1"
    assert int(fields["CapBnd"], 16) == 1 << 10  # CAP_NET_BIND_SERVICE (10) alone
    inspected = _inspect(lab, host, container)
    assert inspected["Config"]["User"] == "1000:3000"
    assert inspected["HostConfig"]["ReadonlyRootfs"] is True


def test_host_aliases_are_lines_of_the_pods_etc_hosts(lab: labmod.Lab, applied: Path) -> None:
    host = lab.get("h3")
    hosts = _exec(lab, host, f"{NAMESPACE}_named_app", "cat", "/etc/hosts")
    assert hosts.returncode == 0, hosts.stderr
    lines = [line.split() for line in hosts.stdout.splitlines() if not line.startswith("#")]
    entries = {name: fields[0] for fields in lines if fields for name in fields[1:]}
    assert entries["db.internal"] == "198.18.0.99" and entries["db"] == "198.18.0.99"
    assert entries["web"] == host.address  # the Service names are still there


def test_field_refs_are_the_pods_and_its_hosts_values(lab: labmod.Lab, applied: Path) -> None:
    host = lab.get("h3")
    result = _exec(lab, host, f"{NAMESPACE}_named_app", "env")
    assert result.returncode == 0, result.stderr
    env = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert env["MY_NODE"] == "h3"
    assert env["MY_HOST_IP"] == host.address
    assert env["MY_NAME"] == "named"
    assert env["MY_MEMORY_MI"] == "32"


def test_a_memory_empty_dir_is_a_tmpfs_of_its_size(lab: labmod.Lab, applied: Path) -> None:
    host = lab.get("h3")
    container = f"{NAMESPACE}_secure_app"
    mounts = _exec(lab, host, container, "cat", "/proc/mounts").stdout
    (line,) = [m for m in mounts.splitlines() if m.split()[1] == "/scratch"]
    assert line.split()[2] == "tmpfs" and "size=2048k" in line
    ok = _exec(lab, host, container, "sh", "-c", "echo hello > /scratch/a && cat /scratch/a")
    assert ok.stdout.strip() == "hello", ok.stderr  # writable; the root file system is read-only
    full = _exec(lab, host, container, "sh", "-c", "cat /dev/zero > /scratch/b")
    assert full.returncode != 0 and "No space left" in full.stderr  # the 2 MiB limit holds
