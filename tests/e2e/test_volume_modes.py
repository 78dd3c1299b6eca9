"""File modes of configMap and secret volumes (issue 17) on a real test host (`reconciler
apply`): `defaultMode: 0400` (written as YAML 1.1 octal, as Kubernetes manifests do) and a
secret item's `mode: 0640` are the modes `stat` shows inside the container, owned by root (the
host user); a secret item without a mode keeps 0600; a secret volume of `defaultMode: 0444` is
readable by a container running as uid 1000.

Namespace `volmode-e2e`; every managed pod is pruned at the end (hosts-only repository).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import gitdaemon, hostsetup
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "volmode-e2e"
IMAGE = "198.18.0.1:5000/demo/busybox:latest"
MANIFESTS = f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: conf
  namespace: {NAMESPACE}
data:
  app.conf: "level=debug\\n"
---
apiVersion: v1
kind: Secret
metadata:
  name: keys
  namespace: {NAMESPACE}
stringData:
  token: volmode-t0ken
  other: volmode-0ther
---
apiVersion: v1
kind: Pod
metadata:
  name: modes
  namespace: {NAMESPACE}
spec:
  nodeSelector: {{zone: b}}
  terminationGracePeriodSeconds: 1
  containers:
    - name: app
      image: {IMAGE}
      command: ["sleep", "3600"]
      volumeMounts:
        - {{name: conf, mountPath: /conf}}
        - {{name: keys, mountPath: /keys}}
    - name: reader
      image: {IMAGE}
      command: ["sleep", "3600"]
      securityContext: {{runAsUser: 1000}}
      volumeMounts:
        - {{name: shared, mountPath: /shared}}
  volumes:
    - name: conf
      configMap:
        name: conf
        defaultMode: 0400
    - name: keys
      secret:
        secretName: keys
        items:
          - key: token
            path: token
            mode: 0640
          - key: other
            path: other
    - name: shared
      secret:
        secretName: keys
        defaultMode: 0444
"""


reconciler = gitdaemon.run_cli  # `reconciler ARGS...` against the lab


@pytest.fixture(scope="module")
def applied(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    repo, hosts_only = gitdaemon.hosts_repos(tmp_path_factory.mktemp, "volmode")
    (repo / "app.yaml").write_text(MANIFESTS)
    validated = reconciler(lab, "validate", str(repo))
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "ambiguous" not in validated.stdout + validated.stderr
    result = reconciler(lab, "apply", "--allow-mass-prune", str(repo))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "volmode-t0ken" not in result.stdout + result.stderr
    yield repo
    reconciler(lab, "apply", "--allow-mass-prune", str(hosts_only))


def _exec(lab: labmod.Lab, host: hostsetup.Host, container: str, *command: str) -> Any:
    deadline = time.monotonic() + 30
    while True:
        result = lab.ssh(host, "podman", "exec", container, *command, check=False)
        if result.returncode in (0, 1) or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def _stat(lab: labmod.Lab, host: hostsetup.Host, container: str, *paths: str) -> dict[str, str]:
    result = _exec(lab, host, container, "busybox", "stat", "-L", "-c", "%n %a %U", *paths)
    listed = lab.ssh(host, "podman", "ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout
    assert result.returncode == 0, result.stderr + listed
    return {line.split()[0]: " ".join(line.split()[1:]) for line in result.stdout.splitlines()}


def test_modes_are_what_the_manifest_says_inside_the_container(
    lab: labmod.Lab, applied: Path
) -> None:
    host = lab.get("h3")
    found = _stat(lab, host, f"{NAMESPACE}_modes_app", "/conf/app.conf", "/keys/token",
                  "/keys/other")  # fmt: skip
    assert found == {
        "/conf/app.conf": "400 root",  # defaultMode: 0400, read as octal
        "/keys/token": "640 root",  # items[].mode: 0640
        "/keys/other": "600 root",  # a secret file without a mode
    }
    content = _exec(lab, host, f"{NAMESPACE}_modes_app", "cat", "/conf/app.conf")
    assert content.stdout == "level=debug\n"


def test_a_readable_secret_mode_lets_a_non_root_user_read_it(
    lab: labmod.Lab, applied: Path
) -> None:
    host = lab.get("h3")
    container = f"{NAMESPACE}_modes_reader"
    assert _stat(lab, host, container, "/shared/token") == {"/shared/token": "444 root"}
    read = _exec(lab, host, container, "cat", "/shared/token")
    assert read.returncode == 0 and read.stdout == "volmode-t0ken", read.stderr
