"""Host health on the real test hosts, with the daemon: a Deployment of three replicas (one per
host) and a bare Pod on the host that will be lost.

The host's link goes down (`lab.kill`) while its containers keep running: within the grace period
nothing is re-placed; after it the lost replica is re-placed on a host that answers, the bare Pod
never is; the daemon records the host NotReady. When the link comes back the stale replica is
removed from the returned host (fencing) and nothing moves back there; the bare Pod is still the
same container. Every check reads Podman directly (as each host's user on this machine, which
works while the host's link is down). Namespace `hosthealth-e2e`; pods removed at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import daemonproc, gitdaemon, hostsetup, proc
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "hosthealth-e2e"
GRACE = 10.0
IMAGE = "198.18.0.1:5000/demo/busybox:latest"
MANIFESTS = f"""\
apiVersion: v1
kind: Namespace
metadata: {{name: {NAMESPACE}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {NAMESPACE}}}
spec:
  replicas: 3
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - {{name: web, image: "{IMAGE}", command: [sleep, "36000"]}}
"""
SOLO = f"""\
apiVersion: v1
kind: Pod
metadata: {{name: solo, namespace: {NAMESPACE}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - {{name: solo, image: "{IMAGE}", command: [sleep, "36000"]}}
"""


@dataclass(frozen=True)
class Pod:
    host: str
    name: str
    podman_id: str
    created: float  # epoch seconds, Podman's
    running: bool


@dataclass(frozen=True)
class Setup:
    daemon: daemonproc.DaemonProcess
    work: Path
    state: Path


@pytest.fixture(scope="module")
def setup(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp("hosthealth")
    with gitdaemon.daemon_on_git(lab, base, git_user="rc-git-hosthealth", namespace=NAMESPACE,
                                 extra_config=f"host_grace_seconds: {GRACE:g}\n"
                                 "allow_mass_prune: true\n"
                                 ) as (daemon, work):  # fmt: skip
        work.write("app.yaml", MANIFESTS)
        work.write("solo.yaml", SOLO)
        work.commit_and_push("web and solo")
        yield Setup(daemon, work.path, base / "state")


def pods(lab: labmod.Lab, host: hostsetup.Host, namespace: str = NAMESPACE) -> list[Pod]:
    """The namespace's pods on `host`, from Podman as the host's user (no network needed)."""
    done = proc.run(hostsetup.as_user(host, "podman", "pod", "ps", "--format", "json", "--filter",
                                      f"label=reconciler.dev/namespace={namespace}"),
                    timeout=60)  # fmt: skip
    found = []
    for item in json.loads(done.stdout or "[]"):
        labels = item.get("Labels") or {}
        created = item.get("Created", "")
        found.append(Pod(host.name, labels.get("reconciler.dev/name", "?"), item["Id"],
                         _epoch(created), item.get("Status") == "Running"))  # fmt: skip
    return found


def _epoch(text: str) -> float:
    cmd = ["date", "-d", text, "+%s.%N"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return float(done.stdout.strip() or 0)


def everywhere(lab: labmod.Lab) -> list[Pod]:
    return [pod for host in lab.hosts() for pod in pods(lab, host)]


def _until_all_running(lab: labmod.Lab, count: int, timeout: float) -> list[Pod]:
    def ready() -> list[Pod] | None:
        found = everywhere(lab)
        return found if len(found) == count and all(p.running for p in found) else None

    found = proc.wait_for(ready, f"{count} running pods in {NAMESPACE}", timeout, 0.5)
    assert found is not None
    return found


def _host_row(lab: labmod.Lab, setup: Setup, host: str) -> dict[str, str]:
    env = {**gitdaemon.cli_env(lab), "RECONCILER_STATE_DIR": str(setup.state)}
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "get", "hosts", "-o", "json", "-f", str(setup.work)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    items = json.loads(done.stdout or "{}").get("items", [])
    found = next((dict(item) for item in items if item["name"] == host), None)
    assert found is not None, f"get hosts: exit {done.returncode}: {done.stderr}"
    return found


def test_a_lost_host_moves_its_replica_once_after_the_grace_and_is_fenced_on_return(
    lab: labmod.Lab, setup: Setup
) -> None:
    before = _until_all_running(lab, 4, 120)
    web = {p.name: p for p in before if p.name.startswith("web-")}
    assert len({p.host for p in web.values()}) == 3, before  # one replica per host
    (solo,) = [p for p in before if p.name == "solo"]
    lost = lab.get(solo.host)
    (stale,) = [p for p in web.values() if p.host == lost.name]
    others = [h for h in lab.hosts() if h.name != lost.name]

    cut = time.time()
    lab.kill(lost.name)
    try:
        def replaced() -> Pod | None:
            copies = [p for h in others for p in pods(lab, h) if p.name == stale.name]
            return copies[0] if copies and copies[0].running else None

        moved = proc.wait_for(replaced, "the lost replica re-placed", 60, 0.25)
        assert moved is not None
        running_after = time.time() - cut
        print(f"\nlink down ▶ replacement running: {running_after:.1f}s "
              f"(created {moved.created - cut:.1f}s after the cut)")  # fmt: skip
        assert moved.created - cut >= GRACE - 1.0  # nothing moved within the grace period
        # the cut-off host still runs its containers; the bare Pod was not re-placed
        assert {p.name for p in pods(lab, lost) if p.running} == {stale.name, "solo"}
        assert not [p for h in others for p in pods(lab, h) if p.name == "solo"]
        row = _host_row(lab, setup, lost.name)
        assert (row["status"], row["reason"]) == ("NotReady", "HostLost"), row
    finally:
        returned = time.time()
        lab.revive(lost.name)

    def fenced() -> list[Pod] | None:
        left = pods(lab, lost)
        return left if [p.name for p in left] == ["solo"] else None

    left = proc.wait_for(fenced, "the stale replica removed from the returned host", 60, 0.25)
    assert left is not None
    print(f"link up ▶ stale copy removed: {time.time() - returned:.1f}s")
    assert left[0].podman_id == solo.podman_id  # the bare Pod is the same, it never moved
    time.sleep(6)  # a few reconciles later (resync every 4 s), nothing moved back
    after = everywhere(lab)
    now_web = {p.name: p for p in after if p.name.startswith("web-")}
    assert set(now_web) == set(web) and all(p.host != lost.name for p in now_web.values())
    assert now_web[stale.name].podman_id == moved.podman_id
    assert _host_row(lab, setup, lost.name)["status"] == "Ready"


def test_a_host_whose_podman_api_is_down_is_lost_after_the_grace_then_fenced(
    lab: labmod.Lab, setup: Setup
) -> None:
    """SSH still answers, the Podman API service does not (killed): the same as a lost link."""
    found = _until_all_running(lab, 4, 120)
    web = [p for p in found if p.name.startswith("web-")]
    victim = lab.get(web[0].host)
    stale = {p.name for p in web if p.host == victim.name}
    others = [h for h in lab.hosts() if h.name != victim.name]
    state = lab.load_state()
    cut = time.time()
    proc.stop_pid(victim.service_pid)
    try:
        def replaced() -> list[Pod] | None:
            copies = [p for h in others for p in pods(lab, h) if p.name in stale and p.running]
            return copies if len(copies) == len(stale) else None

        moved = proc.wait_for(replaced, "the replicas re-placed", 60, 0.25)
        assert moved is not None
        print(f"\nPodman API down ▶ replacements running: {time.time() - cut:.1f}s")
        assert min(p.created for p in moved) - cut >= GRACE - 1.0
        assert stale <= {p.name for p in pods(lab, victim) if p.running}  # containers kept
        row = _host_row(lab, setup, victim.name)
        assert (row["status"], row["reason"]) == ("NotReady", "HostLost"), row
    finally:
        host = state.hosts[victim.name]
        hostsetup.start_podman_service(host, lab.config.state_dir / host.name)
        lab.save_state(state)

    def fenced() -> list[Pod] | None:
        left = {p.name for p in pods(lab, victim)}
        return None if left & stale else [Pod(victim.name, "", "", 0.0, True)]

    assert proc.wait_for(fenced, "the stale replicas removed", 60, 0.25)
    ready = proc.wait_for(lambda: _host_row(lab, setup, victim.name)["status"] == "Ready",
                          f"{victim.name} Ready again", 20, 0.5)  # fmt: skip
    assert ready


def test_a_flapping_link_moves_nothing(lab: labmod.Lab, setup: Setup) -> None:
    """The link of a host with a replica goes down for 3 s and up for 3 s, for a minute: shorter
    than the grace period each time, so no pod is created or removed anywhere."""
    before = {(p.host, p.podman_id) for p in _until_all_running(lab, 4, 120)}
    host = sorted({h for h, _ in before})[0]
    deadline = time.monotonic() + 60
    flaps = 0
    try:
        while time.monotonic() < deadline:
            lab.kill(host)
            time.sleep(3)
            lab.revive(host)  # waits for its port 22
            flaps += 1
            time.sleep(3)
    finally:
        lab.revive(host)
    time.sleep(8)  # reconciles after the last flap
    after = {(p.host, p.podman_id) for p in everywhere(lab) if p.running}
    print(f"\n{flaps} flaps of {host}: pods unchanged: {after == before}")
    assert after == before


def test_sshd_stopped_on_a_live_link_is_lost_after_the_grace_then_fenced(
    lab: labmod.Lab, setup: Setup
) -> None:
    """sshd and every session of it end (the link stays up: connections are refused)."""
    found = _until_all_running(lab, 4, 120)
    web = [p for p in found if p.name.startswith("web-")]
    victim = lab.get(web[-1].host)
    stale = {p.name for p in web if p.host == victim.name}
    others = [h for h in lab.hosts() if h.name != victim.name]
    state = lab.load_state()
    host = state.hosts[victim.name]
    cut = time.time()
    sessions = _children(host.sshd_pid)
    proc.stop_pid(host.sshd_pid)
    for pid in sessions:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    try:
        def replaced() -> list[Pod] | None:
            copies = [p for h in others for p in pods(lab, h) if p.name in stale and p.running]
            return copies if len(copies) == len(stale) else None

        moved = proc.wait_for(replaced, "the replicas re-placed", 60, 0.25)
        assert moved is not None
        print(f"\nsshd stopped ▶ replacements running: {time.time() - cut:.1f}s")
        assert min(p.created for p in moved) - cut >= GRACE - 1.0
        assert stale <= {p.name for p in pods(lab, victim) if p.running}  # containers kept
    finally:
        host.sshd_pid = 0
        hostsetup.start_sshd(host, lab.config.state_dir / host.name)
        lab.save_state(state)

    def fenced() -> bool:
        return not {p.name for p in pods(lab, victim)} & stale

    assert proc.wait_for(fenced, "the stale replicas removed", 60, 0.25)


def _children(parent: int) -> list[int]:
    """PIDs whose parent (transitively) is `parent`: sshd's per-connection processes."""
    found: list[int] = []
    frontier = {parent}
    while frontier:
        step = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    stat = (entry / "stat").read_text()
                    if int(stat.rsplit(")", 1)[1].split()[1]) in frontier:
                        step.add(int(entry.name))
        found += sorted(step)
        frontier = step
    return found
