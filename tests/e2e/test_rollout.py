"""Rollouts by `reconciler apply` on the 3 real test hosts, watched from the hosts themselves
(`tests/harness/readiness`: each host's Podman API and an HTTP GET on each pod's loopback probe
port inside the host's network namespace, 20 times a second, never through the reconciler).

RollingUpdate maxSurge 1 / maxUnavailable 0: never fewer than 4 pods serve, the end state is 4
new pods. A new template that crashes: apply exits 4 after progressDeadlineSeconds, the old pods
keep serving. Recreate: every old container has died before the first new one starts.
Namespace `rollout-e2e`, removed at the end (other tests share the hosts).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import gitdaemon, proc, readiness
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
EXAMPLE = gitdaemon.EXAMPLE
NAMESPACE = "rollout-e2e"
SERVE = "mkdir -p /www && sleep 2 && echo ok > /www/ready && exec httpd -f -p 8080 -h /www"
"""A pod that is not ready for ~2 s after its start, then serves /ready."""
CRASH = "exit 1"


def manifests(
    namespace: str,
    name: str,
    version: str,
    *,
    replicas: int = 4,
    command: str = SERVE,
    strategy: str = "RollingUpdate",
    deadline: int = 20,
    rollback: bool = False,
) -> str:
    """The Namespace and one Deployment of busybox httpd pods with a readinessProbe on /ready
    (no hostPort: probed on a loopback port); `version` goes into an env var (the template)."""
    rolling = "\n    rollingUpdate:\n      maxSurge: 1\n      maxUnavailable: 0"
    annotations = '\n  annotations:\n    reconciler.dev/rollback-on-failure: "true"'
    return f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {namespace}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}{annotations if rollback else ""}
spec:
  replicas: {replicas}
  progressDeadlineSeconds: {deadline}
  selector:
    matchLabels:
      app: {name}
  strategy:
    type: {strategy}{rolling if strategy == "RollingUpdate" else ""}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: httpd
          image: 198.18.0.1:5000/demo/busybox:latest
          imagePullPolicy: IfNotPresent
          command: ["sh", "-c", "{command}"]
          env:
            - name: VERSION
              value: "{version}"
          ports:
            - name: http
              containerPort: 8080
          readinessProbe:
            httpGet:
              path: /ready
              port: 8080
            periodSeconds: 1
"""


cli_env = gitdaemon.cli_env  # the other daemon and CLI tests import these from here too
remove_namespace_pods = gitdaemon.remove_namespace_pods


def reconciler(
    lab: labmod.Lab, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args], capture_output=True, text=True,
        env=cli_env(lab), timeout=timeout, check=False,
    )  # fmt: skip


def wait_ready(views: readiness.HostViews, count: int, timeout: float = 60) -> readiness.Sample:
    """The first sample with exactly `count` pods, all ready and of one template."""

    def settled() -> readiness.Sample | None:
        sample = views.sample()
        ok = len(sample.pods) == count and sample.ready == count and len(sample.hashes()) == 1
        return sample if ok else None

    found: readiness.Sample = proc.wait_for(settled, f"{count} ready pods", timeout, step=0.2)
    return found


def describe(sample: readiness.Sample) -> str:
    return "\n".join(
        f"  {p.host} {p.name} {p.template_hash} running={p.running} ready={p.ready} {p.detail}"
        for p in sample.pods
    )


@pytest.fixture(scope="module")
def repo(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("rollout") / "repo"
    shutil.copytree(EXAMPLE / "hosts", path / "hosts")
    remove_namespace_pods(lab, NAMESPACE)
    yield path
    remove_namespace_pods(lab, NAMESPACE)


@pytest.fixture(scope="module")
def views(lab: labmod.Lab) -> Iterator[readiness.HostViews]:
    with readiness.HostViews(lab.hosts(), NAMESPACE) as found:
        yield found


def apply(lab: labmod.Lab, repo: Path, text: str) -> subprocess.CompletedProcess[str]:
    (repo / "app.yaml").write_text(text)
    return reconciler(lab, "apply", str(repo))


def test_rolling_update_never_drops_below_four_ready_pods(
    lab: labmod.Lab, repo: Path, views: readiness.HostViews
) -> None:
    first = apply(lab, repo, manifests(NAMESPACE, "web", "v1"))
    assert first.returncode == 0, first.stdout + first.stderr
    before = wait_ready(views, 4)
    (old,) = before.hashes()

    watcher = readiness.Watcher(views).start()
    started = time.monotonic()
    result = apply(lab, repo, manifests(NAMESPACE, "web", "v2"))
    seconds = time.monotonic() - started
    watch = watcher.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert watch.errors == [], watch.errors[:5]
    worst = watch.worst()
    assert worst.ready >= 4, f"only {worst.ready} ready pods at one moment:\n{describe(worst)}"
    assert watch.seconds_per_sample <= 0.1, f"{len(watch.samples)} samples in {seconds:.1f}s"
    # the watcher saw the rollout itself: old and new pods side by side at some moment
    assert any(len(s.hashes()) == 2 for s in watch.samples), "no sample during the rollout"
    after = views.sample()
    assert len(after.hashes()) == 1, describe(after)
    (new,) = after.hashes()
    assert new != old, describe(after)
    assert len(after.pods) == 4 and after.running_of(new) == 4, describe(after)
    assert after.ready_of(new) == 4, describe(after)
    print(f"rolling update of 4 pods: {seconds:.1f}s, {len(watch.samples)} samples")


def test_crashing_template_exits_4_after_the_deadline_and_old_pods_keep_serving(
    lab: labmod.Lab, repo: Path, views: readiness.HostViews
) -> None:
    before = wait_ready(views, 4)
    (old,) = before.hashes()
    watcher = readiness.Watcher(views).start()
    started = time.monotonic()
    result = apply(lab, repo, manifests(NAMESPACE, "web", "v3", command=CRASH, deadline=15))
    seconds = time.monotonic() - started
    watch = watcher.stop()
    assert result.returncode == 4, result.stdout + result.stderr
    assert "made no progress for 15s" in result.stderr, result.stderr
    assert "deployment rollout-e2e/web" in result.stderr, result.stderr
    assert seconds >= 15, seconds  # it waited for the deadline, it did not give up at once
    assert watch.errors == [], watch.errors[:5]
    worst = watch.worst()
    assert worst.ready_of(old) >= 4, f"old pods stopped serving:\n{describe(worst)}"
    after = views.sample()
    assert after.ready_of(old) == 4, describe(after)
    failing = [p for p in after.pods if p.template_hash != old]
    assert failing, f"no pod of the new template exists:\n{describe(after)}"
    assert not any(p.ready for p in failing), describe(after)
    print(f"stuck rollout reported after {seconds:.1f}s")


def test_recreate_stops_every_old_container_before_any_new_one_starts(
    lab: labmod.Lab, repo: Path, views: readiness.HostViews
) -> None:
    text = manifests(NAMESPACE, "recreate", "r1", replicas=3, strategy="Recreate")
    first = apply(lab, repo, text)  # the Deployment `web` is gone from the repo: pruned
    assert first.returncode == 0, first.stdout + first.stderr
    before = wait_ready(views, 3)
    (old,) = before.hashes()
    old_ids = {cid for pod in before.pods for cid in pod.container_ids}

    since = time.time()
    watcher = readiness.Watcher(views).start()
    result = apply(lab, repo, manifests(NAMESPACE, "recreate", "r2", replicas=3,
                                        strategy="Recreate"))  # fmt: skip
    watch = watcher.stop()
    until = time.time()
    assert result.returncode == 0, result.stdout + result.stderr
    after = wait_ready(views, 3, timeout=30)
    (new,) = after.hashes()
    assert new != old
    new_ids = {cid for pod in after.pods for cid in pod.container_ids}
    events = views.events(since - 1, until + 1)
    died = {e.container_id: e.time_ns for e in events if e.action == "died"}
    started = {e.container_id: e.time_ns for e in events if e.action == "start"}
    assert old_ids <= died.keys(), f"old containers without a died event: {old_ids - died.keys()}"
    assert new_ids <= started.keys(), f"new containers never started: {new_ids - started.keys()}"
    last_death = max(died[cid] for cid in old_ids)
    first_start = min(started[cid] for cid in new_ids)
    assert last_death < first_start, f"a new container started {last_death - first_start} ns early"
    assert watch.errors == [], watch.errors[:5]
    both = [s for s in watch.samples if s.running_of(old) and s.running_of(new)]
    assert not both, f"old and new running together:\n{describe(both[0])}"
    print(f"recreate: gap between last old death and first new start "
          f"{(first_start - last_death) / 1e9:.2f}s")  # fmt: skip
