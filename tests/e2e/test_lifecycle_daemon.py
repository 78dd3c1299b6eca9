"""Container restarts by the daemon on the real test hosts: one push with two Deployments.

`crash` exits 1 two seconds after each start: Podman's event log on its host shows the first
restart at once, then restarts after growing back-offs (10 s, 20 s); meanwhile `get pods` shows
CrashLoopBackOff with its restart count, and /status the pod's Ready=False CrashLoopBackOff and
a BackOff event. `liveness` serves /healthz for ~4 s and then stops serving it: the daemon's
liveness probe fails and the container is restarted (Podman: died, then start); `describe pod`
shows the probe and the daemon's Unhealthy and Killing events.

Namespace `lifecycle-e2e`, its own git server user and port; pods removed at the end.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.e2e import test_rollout as rollout
from tests.harness import daemonproc, gitdaemon, proc
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
T = TypeVar("T")
NAMESPACE = "lifecycle-e2e"
IMAGE = "198.18.0.1:5000/demo/busybox:latest"
SERVE_THEN_FAIL = (
    "mkdir -p /www; echo ok > /www/healthz; (sleep 4; rm /www/healthz) & "
    "exec httpd -f -p 8080 -h /www"
)
"""Serves /healthz for ~4 s after each start, then answers 404 (the liveness probe fails)."""
MANIFESTS = f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: crash
  namespace: {NAMESPACE}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: crash
  template:
    metadata:
      labels:
        app: crash
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: crash
          image: {IMAGE}
          imagePullPolicy: IfNotPresent
          command: ["sh", "-c", "sleep 2; exit 1"]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: liveness
  namespace: {NAMESPACE}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: liveness
  template:
    metadata:
      labels:
        app: liveness
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: httpd
          image: {IMAGE}
          imagePullPolicy: IfNotPresent
          command: ["sh", "-c", "{SERVE_THEN_FAIL}"]
          ports:
            - containerPort: 8080
          livenessProbe:
            httpGet:
              path: /healthz
              port: 8080
            periodSeconds: 1
            failureThreshold: 2
"""


@dataclass(frozen=True)
class Setup:
    daemon: daemonproc.DaemonProcess
    repo: Path  # the pushed work tree (its Host manifests for the CLI's -f)
    state: Path  # the daemon's state directory


@dataclass(frozen=True)
class Container:
    """A Deployment's one container as Podman on its host lists it."""

    host: str
    pod: str
    podman_id: str


@dataclass(frozen=True)
class Event:
    time: float
    status: str  # start, died, ...
    exit_code: int | None


@pytest.fixture(scope="module")
def setup(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp("lifecycle")
    with gitdaemon.daemon_on_git(lab, base, git_user="rc-git-lifecycle",
                                 namespace=NAMESPACE) as (daemon, work):  # fmt: skip
        work.write("app.yaml", MANIFESTS)
        work.commit_and_push("crash and liveness")
        yield Setup(daemon, work.path, base / "state")


def _cli(lab: labmod.Lab, setup: Setup, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI on this machine, reading the daemon's state database (restart records, events)."""
    env = {**rollout.cli_env(lab), "RECONCILER_STATE_DIR": str(setup.state)}
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args, "-n", NAMESPACE, "-f", str(setup.repo)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def _find(lab: labmod.Lab, deployment: str) -> Container | None:
    """The Deployment's container, straight from Podman on the hosts (not the reconciler)."""
    for host in lab.hosts():
        listed = lab.ssh(host, "podman", "ps", "-a", "--format", "json", "--filter",
                         f"label=reconciler.dev/namespace={NAMESPACE}", check=False)  # fmt: skip
        for item in json.loads(listed.stdout or "[]"):
            labels = item.get("Labels") or {}
            if labels.get("reconciler.dev/owner") == f"Deployment/{deployment}":
                return Container(host.name, labels["reconciler.dev/name"], item["Id"])
    return None


def _until(predicate: Callable[[], T | None], what: str, timeout: float, step: float) -> T:
    """`proc.wait_for`, typed for a predicate that returns None until it holds."""
    found = proc.wait_for(predicate, what, timeout, step)
    assert found is not None
    return found


def _when(text: str) -> float:
    """Podman's event time (RFC 3339 with nanoseconds) as seconds since the epoch."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    moment = datetime.datetime.fromisoformat(whole).replace(tzinfo=datetime.UTC)
    return moment.timestamp() + float(f"0.{fraction or '0'}")


def _events(lab: labmod.Lab, container: Container) -> list[Event]:
    """The container's start and died events, oldest first, from Podman's log on its host."""
    found = lab.ssh(
        lab.get(container.host), "podman", "events", "--stream=false", "--since", "15m",
        "--filter", f"container={container.podman_id}", "--format", "json",
    )  # fmt: skip
    events = []
    for line in found.stdout.splitlines():
        if line.strip():
            raw = json.loads(line)
            if raw.get("Status") in ("start", "died"):
                code = raw.get("ContainerExitCode")
                events.append(Event(_when(raw["Time"]), raw["Status"], code))
    return sorted(events, key=lambda e: e.time)


def _restart_gaps(events: list[Event]) -> list[float]:
    """For each died event, the seconds until the next start (restarts not made yet omitted)."""
    gaps = []
    for i, event in enumerate(events):
        if event.status == "died":
            later = [e for e in events[i + 1 :] if e.status == "start"]
            if later:
                gaps.append(later[0].time - event.time)
    return gaps


def _pod_row(lab: labmod.Lab, setup: Setup, pod: str) -> dict[str, str] | None:
    """`get pods` table row of `pod` (column title to cell), None when not listed."""
    done = _cli(lab, setup, "get", "pods")
    lines = done.stdout.splitlines()
    if done.returncode != 0 or not lines:
        return None
    head = lines[0].split()
    rows = [dict(zip(head, line.split(), strict=True)) for line in lines[1:]]
    return next((row for row in rows if row["NAME"] == pod), None)


def _pod_condition(status: dict[str, Any], pod: str) -> dict[str, Any] | None:
    for item in status.get("unhealthy", []):
        if (item["kind"], item["namespace"], item["name"]) == ("Pod", NAMESPACE, pod):
            return dict(item)
    return None


def _log_tail(setup: Setup) -> str:
    return setup.daemon.log.read_text()[-4000:]


def test_a_crashing_container_is_restarted_at_once_then_after_growing_backoffs(
    lab: labmod.Lab, setup: Setup
) -> None:
    pushed = time.monotonic()
    crash = _until(lambda: _find(lab, "crash"), "the crash pod on a host", 120, step=1.0)
    print(f"\ncrash pod {crash.pod} on {crash.host} {time.monotonic() - pushed:.1f}s after push")
    seen_rows: list[dict[str, str]] = []
    condition: dict[str, Any] | None = None
    back_off_event: dict[str, Any] | None = None

    def four_starts() -> list[Event] | None:
        """Polls the CLI and /status while it waits for the third restart."""
        nonlocal condition, back_off_event
        row = _pod_row(lab, setup, crash.pod)
        if row is not None:
            seen_rows.append(row)
        status = setup.daemon.status() or {}
        condition = condition or _pod_condition(status, crash.pod)
        back_off_event = back_off_event or next(
            (e for e in status.get("events", [])
             if e["reason"] == "BackOff" and e["object"] == f"Pod/{NAMESPACE}/{crash.pod}"),
            None,
        )  # fmt: skip
        events = _events(lab, crash)
        return events if sum(e.status == "start" for e in events) >= 4 else None

    try:
        events = _until(four_starts, "three restarts of the crash container", 150, step=0.5)
    except proc.HarnessError as exc:
        raise AssertionError(f"{exc}: {_events(lab, crash)}\n{_log_tail(setup)}") from exc
    gaps = _restart_gaps(events)
    print("died-to-start gaps on the host: " + ", ".join(f"{g:.2f}s" for g in gaps))
    assert len(gaps) >= 3, events
    assert all(e.exit_code == 1 for e in events if e.status == "died"), events
    assert gaps[0] < 2.0, gaps  # the first restart is due at once
    assert gaps[1] >= 9.5, gaps  # then back-off 10s
    assert gaps[2] >= 19.0, gaps  # then 20s
    assert gaps[2] > gaps[1] + 5, gaps  # growing, whatever the resync added
    looping = [r for r in seen_rows if r["STATUS"] == "CrashLoopBackOff"]
    print(f"get pods listed the pod {len(seen_rows)} times, {len(looping)} in CrashLoopBackOff")
    assert looping, seen_rows
    assert any(int(r["RESTARTS"]) >= 1 for r in looping), looping
    assert condition is not None, _log_tail(setup)
    assert (condition["status"], condition["reason"]) == ("False", "CrashLoopBackOff"), condition
    assert back_off_event is not None, _log_tail(setup)
    assert "back-off" in back_off_event["message"], back_off_event


def test_a_container_failing_its_liveness_probe_is_restarted(lab: labmod.Lab, setup: Setup) -> None:
    live = _until(lambda: _find(lab, "liveness"), "the liveness pod on a host", 120, 1.0)

    def restarted() -> list[Event] | None:
        events = _events(lab, live)
        starts = [e for e in events if e.status == "start"]
        died = [e for e in events if e.status == "died" and starts and e.time > starts[0].time]
        again = [e for e in starts if died and e.time > died[0].time]
        return events if again else None

    try:
        events = _until(restarted, "a liveness restart", 60, step=0.5)
    except proc.HarnessError as exc:
        raise AssertionError(f"{exc}: {_events(lab, live)}\n{_log_tail(setup)}") from exc
    starts = [e for e in events if e.status == "start"]
    died = next(e for e in events if e.status == "died")
    print(
        f"\nliveness: died {died.time - starts[0].time:.1f}s after its start "
        f"(exit code {died.exit_code}), started again {starts[1].time - died.time:.2f}s later"
    )
    assert died.time - starts[0].time < 15, events  # ~4 s serving + 2 failed probes

    row = _until(lambda: _pod_row(lab, setup, live.pod), "get pods", 60, step=1.0)
    assert int(row["RESTARTS"]) >= 1, row

    def described() -> str | None:
        done = _cli(lab, setup, "describe", "pod", live.pod)
        text = done.stdout
        return text if "Unhealthy" in text and "Killing" in text else None

    try:
        text = _until(described, "Unhealthy and Killing in describe pod", 60, step=1.0)
    except proc.HarnessError as exc:
        last = _cli(lab, setup, "describe", "pod", live.pod)
        raise AssertionError(f"{exc}:\n{last.stdout}{last.stderr}") from exc
    probe = [line.split() for line in text.splitlines() if line.split()[:1] == ["Liveness:"]]
    assert probe and probe[0][1:3] == ["http-get", ":8080/healthz"], text
    assert "period=1s" in probe[0] and "#failure=2" in probe[0], text
    killing = [line for line in text.splitlines() if "Killing" in line]
    assert any("liveness" in line for line in killing), killing
