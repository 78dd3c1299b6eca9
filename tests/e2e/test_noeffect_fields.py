"""Fields without effect here (issue 17) on the real test hosts: a pod and a Deployment that carry
a service account, a termination message path and policy and a revision history are applied and
run, `validate` warns about each at its line, and what the warning says holds (no service
account token in the container).

Namespace `noeffect-e2e`; every managed pod is pruned at the end (hosts-only repository).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import gitdaemon
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "noeffect-e2e"
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
  name: sa
  namespace: {NAMESPACE}
spec:
  nodeSelector: {{zone: b}}
  terminationGracePeriodSeconds: 1
  serviceAccountName: app
  serviceAccount: app
  automountServiceAccountToken: true
  containers:
    - name: app
      image: {IMAGE}
      command: ["sleep", "3600"]
      terminationMessagePath: /dev/termination-log
      terminationMessagePolicy: FallbackToLogsOnError
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hist
  namespace: {NAMESPACE}
spec:
  replicas: 1
  revisionHistoryLimit: 2
  selector:
    matchLabels: {{app: hist}}
  template:
    metadata:
      labels: {{app: hist}}
    spec:
      nodeSelector: {{zone: b}}
      terminationGracePeriodSeconds: 1
      serviceAccountName: app
      containers:
        - name: app
          image: {IMAGE}
          command: ["sleep", "3600"]
"""


reconciler = gitdaemon.run_cli  # `reconciler ARGS...` against the lab


@pytest.fixture(scope="module")
def applied(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    repo, hosts_only = gitdaemon.hosts_repos(tmp_path_factory.mktemp, "noeffect")
    (repo / "app.yaml").write_text(MANIFESTS)
    result = reconciler(lab, "apply", "--allow-mass-prune", str(repo))
    assert result.returncode == 0, result.stdout + result.stderr
    yield repo
    reconciler(lab, "apply", "--allow-mass-prune", str(hosts_only))


def _exec(lab: labmod.Lab, container: str, *command: str) -> subprocess.CompletedProcess[str]:
    deadline = time.monotonic() + 30
    while True:
        result = lab.ssh(lab.get("h3"), "podman", "exec", container, *command, check=False)
        if result.returncode in (0, 1) or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def test_validate_warns_about_each_field_at_its_line(lab: labmod.Lab, applied: Path) -> None:
    result = reconciler(lab, "validate", str(applied))
    assert result.returncode == 0, result.stdout + result.stderr
    warned = {line.split(": warning: ", 1)[1].split(":", 1)[0]: line.split(":", 2)[1]
              for line in result.stdout.splitlines() if ": warning: " in line}  # fmt: skip
    assert warned == {
        "spec.serviceAccountName": "14",
        "spec.serviceAccount": "15",
        "spec.automountServiceAccountToken": "16",
        "spec.containers[0].terminationMessagePath": "21",
        "spec.containers[0].terminationMessagePolicy": "22",
        "spec.revisionHistoryLimit": "31",
        "spec.template.spec.serviceAccountName": "40",
    }


def test_the_pods_run_without_a_service_account_token(lab: labmod.Lab, applied: Path) -> None:
    running = _exec(lab, f"{NAMESPACE}_sa_app", "true")
    assert running.returncode == 0, running.stderr
    token = _exec(lab, f"{NAMESPACE}_sa_app", "ls", "/var/run/secrets/kubernetes.io")
    assert token.returncode != 0  # what the warning says: nothing is mounted there
    names = lab.ssh(lab.get("h3"), "podman", "ps", "--format", "{{.Names}}").stdout.split()
    assert [n for n in names if n.startswith(f"{NAMESPACE}_hist-") and n.endswith("_app")]
