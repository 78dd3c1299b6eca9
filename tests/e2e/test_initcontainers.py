"""initContainers on the real test hosts (`reconciler apply`): two init containers write, in
order, into an emptyDir that the app container then reads; a failing init container leaves the
pod at `Init:Error` in `get pods` (restartPolicy Never: not retried) with its app container
never started; `describe pod` shows the Init Containers with their exit codes.

Namespace `init-e2e`; every managed pod is pruned at the end (hosts-only repository).
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import gitdaemon
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "init-e2e"
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
  name: ordered
  namespace: {NAMESPACE}
spec:
  nodeSelector: {{zone: b}}
  terminationGracePeriodSeconds: 1
  volumes:
    - name: work
      emptyDir: {{}}
  initContainers:
    - name: first
      image: {IMAGE}
      command: ["sh", "-c", "sleep 1; echo first >> /work/order"]
      volumeMounts: [{{name: work, mountPath: /work}}]
    - name: second
      image: {IMAGE}
      command: ["sh", "-c", "grep -q first /work/order && echo second >> /work/order"]
      volumeMounts: [{{name: work, mountPath: /work}}]
  containers:
    - name: app
      image: {IMAGE}
      command: ["sh", "-c", "cp /work/order /work/seen-by-app; exec sleep 3600"]
      volumeMounts: [{{name: work, mountPath: /work}}]
---
apiVersion: v1
kind: Pod
metadata:
  name: failing
  namespace: {NAMESPACE}
spec:
  nodeSelector: {{zone: b}}
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  initContainers:
    - name: check
      image: {IMAGE}
      command: ["sh", "-c", "echo the database is not there; exit 3"]
  containers:
    - name: app
      image: {IMAGE}
      command: ["sleep", "3600"]
"""


reconciler = gitdaemon.run_cli  # `reconciler ARGS...` against the lab


@pytest.fixture(scope="module")
def applied(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    repo, hosts_only = gitdaemon.hosts_repos(tmp_path_factory.mktemp, "init")
    (repo / "app.yaml").write_text(MANIFESTS)
    result = reconciler(lab, "apply", "--allow-mass-prune", str(repo))
    assert result.returncode == 0, result.stdout + result.stderr
    yield repo
    reconciler(lab, "apply", "--allow-mass-prune", str(hosts_only))


def _inspect(lab: labmod.Lab, container: str) -> Any:
    found = lab.ssh(lab.get("h3"), "podman", "container", "inspect", container)
    return json.loads(found.stdout)[0]


def _time(value: str) -> datetime.datetime:
    """Podman's nanosecond timestamps (`...T14:34:31.819620094Z`), cut to microseconds."""
    match = re.fullmatch(r"(.+?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", value.replace(" ", "T", 1))
    assert match is not None, value
    date, fraction, zone = match.groups()
    zone = "+00:00" if zone == "Z" else zone
    return datetime.datetime.fromisoformat(f"{date}.{((fraction or '') + '000000')[:6]}{zone}")


def test_init_containers_run_in_order_before_the_app(lab: labmod.Lab, applied: Path) -> None:
    seen = lab.ssh(lab.get("h3"), "podman", "exec", f"{NAMESPACE}_ordered_app",
                   "cat", "/work/seen-by-app")  # fmt: skip
    assert seen.stdout.split() == ["first", "second"], seen.stderr
    first = _inspect(lab, f"{NAMESPACE}_ordered_first")["State"]
    second = _inspect(lab, f"{NAMESPACE}_ordered_second")["State"]
    app = _inspect(lab, f"{NAMESPACE}_ordered_app")["State"]
    assert (first["Status"], first["ExitCode"]) == ("exited", 0)
    assert (second["Status"], second["ExitCode"]) == ("exited", 0)
    assert app["Status"] == "running"
    assert _time(first["FinishedAt"]) <= _time(second["StartedAt"])
    assert _time(second["FinishedAt"]) <= _time(app["StartedAt"])


def test_get_pods_shows_the_states(lab: labmod.Lab, applied: Path) -> None:
    result = reconciler(lab, "get", "pods", "-n", NAMESPACE, "-o", "json", "-f", str(applied))
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)["items"]}
    assert rows["ordered"]["status"] == "Running" and rows["ordered"]["ready"] == "1/1"
    assert rows["failing"]["status"] == "Init:Error"
    assert rows["failing"]["ready"] == "0/1"
    table = reconciler(lab, "get", "pods", "-n", NAMESPACE, "-f", str(applied)).stdout
    assert "Init:Error" in table


def test_a_failed_init_container_keeps_the_app_from_starting(
    lab: labmod.Lab, applied: Path
) -> None:
    check = _inspect(lab, f"{NAMESPACE}_failing_check")["State"]
    assert (check["Status"], check["ExitCode"]) == ("exited", 3)
    app = _inspect(lab, f"{NAMESPACE}_failing_app")["State"]
    assert app["Status"] == "created"  # never started
    again = reconciler(lab, "apply", str(applied))  # Never: not retried, not replaced
    assert again.returncode == 0, again.stdout + again.stderr
    assert _inspect(lab, f"{NAMESPACE}_failing_app")["State"]["Status"] == "created"


def test_describe_shows_the_init_containers(lab: labmod.Lab, applied: Path) -> None:
    result = reconciler(lab, "describe", "pod", "failing", "-n", NAMESPACE, "-f", str(applied))
    assert result.returncode == 0, result.stdout + result.stderr
    text = result.stdout
    assert "Init Containers:" in text
    init = text[text.index("Init Containers:"):text.index("\nContainers:")]
    assert "check:" in init and "Terminated (Error, exit code 3)" in init
