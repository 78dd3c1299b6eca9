"""A host restart on the real test hosts (`lab.reboot`: every process of the host's user killed,
its runtime directory emptied, then what boot runs: the Podman API service, podman-restart and
scripts/host-boot.sh). No daemon runs: one `apply` deploys a Deployment (restartPolicy Always), a
bare Pod with OnFailure and one with Never, all pinned to h2.

After the reboot the Always and OnFailure pods run again (the same Podman pods: nothing was
re-created), the Never pod stays down, and the next plan (`diff`) is empty apart from that:
the reconciler finds everything converged. Namespace `reboot-e2e`; pods removed at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import test_hosthealth_daemon as hh
from tests.harness import gitdaemon, hostsetup, proc
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "reboot-e2e"
IMAGE = "198.18.0.1:5000/demo/busybox:latest"
POD = """\
---
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {ns}}}
spec:
  restartPolicy: {policy}
  terminationGracePeriodSeconds: 1
  nodeSelector: {{reboot-e2e: here}}
  containers:
    - {{name: main, image: "{image}", command: [sleep, "36000"]}}
"""
APP = f"""\
apiVersion: v1
kind: Namespace
metadata: {{name: {NAMESPACE}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {NAMESPACE}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 1
      nodeSelector: {{reboot-e2e: here}}
      containers:
        - {{name: web, image: "{IMAGE}", command: [sleep, "36000"]}}
""" + "".join(POD.format(name=name, ns=NAMESPACE, policy=policy, image=IMAGE)
              for name, policy in (("again", "OnFailure"), ("once", "Never")))  # fmt: skip


def _cli(lab: labmod.Lab, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reconciler", *args], capture_output=True,
                          text=True, env=gitdaemon.cli_env(lab), timeout=300,
                          check=False)  # fmt: skip


@pytest.fixture(scope="module")
def repo(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("reboot") / "repo"
    shutil.copytree(gitdaemon.EXAMPLE / "hosts", path / "hosts")
    h2 = path / "hosts" / "h2.yaml"
    pinned = h2.read_text().replace("    disk: ssd\n", "    disk: ssd\n    reboot-e2e: here\n")
    h2.write_text(pinned)
    (path / "app.yaml").write_text(APP)
    try:
        yield path
    finally:
        gitdaemon.remove_namespace_pods(lab, NAMESPACE)


def test_pods_come_back_after_a_reboot_without_the_daemon(lab: labmod.Lab, repo: Path) -> None:
    done = _cli(lab, "apply", "--allow-mass-prune", str(repo))
    assert done.returncode == 0, done.stderr
    host = lab.get("h2")
    before = {p.name: p for p in hh.pods(lab, host, NAMESPACE)}
    assert len(before) == 4 and all(p.running for p in before.values()), before

    said = lab.reboot("h2")
    assert os.path.exists(host.podman_socket)

    def back() -> dict[str, hh.Pod] | None:
        found = {p.name: p for p in hh.pods(lab, host, NAMESPACE)}
        return found if sum(p.running for p in found.values()) >= 3 else None

    try:
        after = proc.wait_for(back, "the Always and OnFailure pods running again", 60, 0.5)
    except proc.HarnessError as exc:
        listed = proc.run(hostsetup.as_user(host, "podman", "ps", "-a"), check=False).stdout
        raise AssertionError(f"{exc}\nboot said: {said}\n{listed}") from exc
    assert after is not None
    assert {n for n, p in after.items() if p.running} == set(before) - {"once"}, after
    assert {n: p.podman_id for n, p in after.items()} == {
        n: p.podman_id for n, p in before.items()}  # fmt: skip
    # the same Podman pods, restarted: nothing was re-created

    plan = _cli(lab, "diff", str(repo))
    print(f"\ndiff after the reboot (exit {plan.returncode}):\n{plan.stdout}{plan.stderr}")
    changed = [line for line in plan.stdout.splitlines() if NAMESPACE in line]
    assert not [line for line in changed if "once" not in line], plan.stdout
