"""Cordon and drain through git on the real test hosts, with the daemon: six replicas of `web`
(maxUnavailable 1, maxSurge 0) under a PodDisruptionBudget of minAvailable 5, and a bare Pod.

A push annotates h2 `reconciler.dev/drain: "true"`: its web pods move to h1 and h3 one at a time
(Podman, polled throughout, never shows fewer than five running web pods), the bare Pod stays,
and `get hosts` shows h2 `SchedulingDisabled,Drained`. Then h2 is only cordoned
(`spec.unschedulable: true`) and web scaled to nine: no new pod lands on h2. Namespace
`drain-e2e`; pods removed at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e import test_hosthealth_daemon as hh
from tests.harness import daemonproc, gitdaemon, gitserver, hostsetup, proc
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "drain-e2e"
IMAGE = "198.18.0.1:5000/demo/busybox:latest"
APP = f"""\
apiVersion: v1
kind: Namespace
metadata: {{name: {NAMESPACE}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {NAMESPACE}}}
spec:
  replicas: REPLICAS
  strategy: {{rollingUpdate: {{maxUnavailable: 1, maxSurge: 0}}}}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - {{name: web, image: "{IMAGE}", command: [sleep, "36000"],
            resources: {{requests: {{cpu: 10m, memory: 8Mi}}}}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: web, namespace: {NAMESPACE}}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  minAvailable: 5
---
apiVersion: v1
kind: Pod
metadata: {{name: solo, namespace: {NAMESPACE}}}
spec:
  terminationGracePeriodSeconds: 1
  nodeSelector: {{drain-e2e: solo}}
  containers:
    - {{name: solo, image: "{IMAGE}", command: [sleep, "36000"]}}
"""
H2 = (gitdaemon.EXAMPLE / "hosts" / "h2.yaml").read_text()


def _h2(annotation: bool, cordoned: bool) -> str:
    text = H2.replace("    disk: ssd\n", "    disk: ssd\n    drain-e2e: solo\n")
    if annotation:
        text = text.replace("  labels:\n", '  annotations:\n    reconciler.dev/drain: "true"\n'
                            "  labels:\n")  # fmt: skip
    if cordoned:
        text = text.replace("spec:\n", "spec:\n  unschedulable: true\n")
    return text


@dataclass(frozen=True)
class Setup:
    daemon: daemonproc.DaemonProcess
    work: gitserver.WorkTree
    state: Path


@pytest.fixture(scope="module")
def setup(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp("drain")
    with gitdaemon.daemon_on_git(lab, base, git_user="rc-git-drain", namespace=NAMESPACE,
                                 extra_config="allow_mass_prune: true\n"  # others' pods
                                 ) as (daemon, work):  # fmt: skip
        work.write("app.yaml", APP.replace("REPLICAS", "6"))
        work.write("hosts/h2.yaml", _h2(annotation=False, cordoned=False))
        work.commit_and_push("web, its budget and solo")
        yield Setup(daemon, work, base / "state")


def _web(lab: labmod.Lab) -> list[hh.Pod]:
    return [p for p in _all(lab) if p.name.startswith("web-")]


def _all(lab: labmod.Lab) -> list[hh.Pod]:
    return [p for host in lab.hosts() for p in _pods(lab, host)]


def _pods(lab: labmod.Lab, host: hostsetup.Host) -> list[hh.Pod]:
    return hh.pods(lab, host, NAMESPACE)


def _host_status(lab: labmod.Lab, setup: Setup, host: str) -> str:
    env = {**gitdaemon.cli_env(lab), "RECONCILER_STATE_DIR": str(setup.state)}
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "get", "hosts", "-o", "json", "-f",
         str(setup.work.path)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    items = json.loads(done.stdout or "{}").get("items", [])
    found = [item["status"] for item in items if item["name"] == host]
    assert found, done.stderr
    return str(found[0])


def test_a_drain_respects_the_budget_and_a_cordon_keeps_new_pods_off(
    lab: labmod.Lab, setup: Setup
) -> None:
    def settled() -> list[hh.Pod] | None:
        pods = _all(lab)
        web = [p for p in pods if p.name.startswith("web-")]
        ok = len(web) == 6 and all(p.running for p in pods) and len(pods) == 7
        return pods if ok else None

    before = proc.wait_for(settled, "6 web pods and solo running", 120, 0.5)
    assert before is not None
    on_h2 = [p for p in before if p.host == "h2" and p.name.startswith("web-")]
    assert on_h2, before  # the scheduler spread web over the three hosts
    assert [p.host for p in before if p.name == "solo"] == ["h2"]

    fewest = [6]
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            fewest[0] = min(fewest[0], sum(1 for p in _web(lab) if p.running))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.monotonic()
    try:
        setup.work.write("hosts/h2.yaml", _h2(annotation=True, cordoned=False))
        setup.work.commit_and_push("drain h2")

        def drained() -> list[hh.Pod] | None:
            pods = _all(lab)
            web = [p for p in pods if p.name.startswith("web-")]
            done = (len(web) == 6 and all(p.running for p in web)
                    and not [p for p in web if p.host == "h2"])  # fmt: skip
            return pods if done else None

        after = proc.wait_for(drained, "h2 drained", 180, 0.5)
        assert after is not None
    finally:
        stop.set()
        watcher.join()
    print(f"\ndrain of {len(on_h2)} pod(s) took {time.monotonic() - started:.1f}s; "
          f"fewest running web pods seen: {fewest[0]}")
    assert fewest[0] >= 5  # minAvailable 5 (and maxUnavailable 1) held throughout
    solo = [p for p in after if p.name == "solo"]
    assert [(p.host, p.podman_id) for p in solo] == [
        (p.host, p.podman_id) for p in before if p.name == "solo"]  # fmt: skip
    assert _host_status(lab, setup, "h2") == "Ready,SchedulingDisabled,Drained"

    setup.work.write("hosts/h2.yaml", _h2(annotation=False, cordoned=True))
    setup.work.write("app.yaml", APP.replace("REPLICAS", "9"))
    setup.work.commit_and_push("cordon h2 only, nine replicas")

    def nine() -> list[hh.Pod] | None:
        web = _web(lab)
        return web if len(web) == 9 and all(p.running for p in web) else None

    web = proc.wait_for(nine, "nine web pods", 120, 0.5)
    assert web is not None and not [p for p in web if p.host == "h2"], web
    assert _host_status(lab, setup, "h2") == "Ready,SchedulingDisabled"
