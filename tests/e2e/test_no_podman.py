"""A real host without Podman: `diff`, `apply` and `get pods` name that host and what to do, the
other host still converges, and nothing prints a traceback.

Its own lab (bridge thbr7, 198.18.7.0/24, registry 198.18.7.1:5000), made and removed by this
module: h1 is a normal host, h2's sshd runs where `podman` is hidden (`LabConfig.without_podman`),
so its SSH login is fine and its shell finds no podman. The repository has both Hosts, a
Deployment of 2 replicas and a bare Pod pinned to h2 by nodeSelector.

What happens (and is asserted): observing h2 fails with "podman is not installed", so h2 counts
as not ready, like an unreachable host: nothing is planned there, both replicas go to h1, and the
pinned Pod is unschedulable ("host not ready"). Every command exits 4 (incomplete).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_apply import Cli
from tests.harness import hostsetup, proc
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e

EXIT_INCOMPLETE = 4  # reconciler/cli/common.py, README "Exit codes"
NAMESPACE = "app"
WITHOUT_PODMAN = "h2"
HOST = """\
apiVersion: reconciler.dev/v1alpha1
kind: Host
metadata:
  name: {name}
  labels: {{role: {name}}}
spec:
  address: {address}
  ssh:
    user: {user}
  capacity:
    cpu: "2"
    memory: 2Gi
"""
CONTAINER = """\
      containers:
        - name: main
          image: {image}
          command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
      terminationGracePeriodSeconds: 2
"""
APP = """\
apiVersion: v1
kind: Namespace
metadata:
  name: app
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: app
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
{container}---
apiVersion: v1
kind: Pod
metadata:
  name: pinned
  namespace: app
spec:
  nodeSelector: {{role: h2}}
{pod_container}"""


@pytest.fixture(scope="module")
def nplab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[labmod.Lab]:
    if os.geteuid() != 0:
        pytest.fail("end-to-end tests need root to build test hosts (or use -m 'not e2e')")
    the_lab = labmod.Lab(
        labmod.LabConfig(
            name="no-podman", state_dir=tmp_path_factory.mktemp("no-podman") / "lab",
            bridge="thbr7", subnet=7, netns_prefix="n7-", user_prefix="rcn7-",
            registry_port=5000, without_podman=(WITHOUT_PODMAN,),
        )
    )  # fmt: skip
    try:
        the_lab.up(2)
        yield the_lab
    finally:
        the_lab.down()


@pytest.fixture(scope="module")
def cli(nplab: labmod.Lab) -> Cli:
    return Cli(nplab)


@pytest.fixture(scope="module")
def repo(nplab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("no-podman-repo")
    for host in nplab.hosts():
        text = HOST.format(name=host.name, address=host.address, user=host.user)
        (path / f"{host.name}.yaml").write_text(text)
    container = CONTAINER.format(image=nplab.config.image)
    pod_container = "\n".join(line[4:] for line in container.splitlines()) + "\n"
    (path / "app.yaml").write_text(APP.format(container=container, pod_container=pod_container))
    return path


def assert_names_the_host_without_podman(
    nplab: labmod.Lab, result: subprocess.CompletedProcess[str], prefix: str
) -> None:
    """Exit 4; stderr says which host, that podman is missing, and what to do; no traceback."""
    assert result.returncode == EXIT_INCOMPLETE, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    user = nplab.get(WITHOUT_PODMAN).user
    lines = [line for line in result.stderr.splitlines()
             if line.startswith(prefix) and " unschedulable: " not in line]  # fmt: skip
    assert len(lines) == 1, result.stderr
    assert f"host {WITHOUT_PODMAN}" in lines[0]
    assert f"podman is not installed for user {user!r}" in lines[0]
    assert "install Podman 4.3 or newer and enable rootless use for that user" in lines[0]
    assert "h1" not in result.stderr  # the healthy host is not blamed
    assert result.stderr.count("podman is not installed") == 1  # said once, not logged again


def web_containers(nplab: labmod.Lab) -> dict[str, tuple[str, str]]:
    """The app's containers on h1, seen by podman over SSH: name -> (state, container id)."""
    label = f"label=reconciler.dev/namespace={NAMESPACE}"
    out = nplab.ssh(nplab.get("h1"), "podman", "ps", "-a", "--filter", label, "--format", "json")
    return {c["Names"][0]: (c["State"], c["Id"]) for c in json.loads(out.stdout)}


def test_the_lab_host_really_has_no_podman(nplab: labmod.Lab) -> None:
    h1, h2 = nplab.get("h1"), nplab.get(WITHOUT_PODMAN)
    assert nplab.ssh(h1, "sh", "-c", "command -v podman").stdout.strip()
    missing = nplab.ssh(h2, "sh", "-c", "command -v podman", check=False)
    assert missing.returncode != 0 and missing.stdout == ""
    assert nplab.ssh(h2, "id", "-un").stdout.strip() == h2.user  # SSH itself works


def test_diff_plans_the_healthy_host_and_names_the_other(
    nplab: labmod.Lab, cli: Cli, repo: Path
) -> None:
    result = cli("diff", str(repo))
    assert_names_the_host_without_podman(nplab, result, "reconciler diff:")
    assert "h1: 2 to create, 0 to replace, 0 to delete, 0 unchanged" in result.stdout
    assert "nothing is planned there): h2" in result.stdout
    assert "app/pinned: 0/2 hosts:" in result.stdout and "1 host not ready" in result.stdout


def test_apply_runs_both_replicas_on_the_healthy_host(
    nplab: labmod.Lab, cli: Cli, repo: Path
) -> None:
    result = cli("apply", str(repo))
    assert_names_the_host_without_podman(nplab, result, "reconciler apply:")
    assert "2 created, 0 replaced, 0 deleted, 0 failed, 0 unchanged" in result.stdout
    assert "app/pinned: 0/2 hosts:" in result.stdout
    assert "reconciler apply: pod app/pinned unschedulable: 0/2 hosts:" in result.stderr
    running = web_containers(nplab)
    assert len(running) == 2 and {state for state, _ in running.values()} == {"running"}, running
    assert all(name.startswith(f"{NAMESPACE}_web-") for name in running), running
    # Nothing reached h2: its user's podman (run here, where podman exists) has no pod.
    h2 = nplab.get(WITHOUT_PODMAN)
    assert proc.run(hostsetup.as_user(h2, "podman", "pod", "ps", "-q")).stdout == ""


def test_get_pods_lists_the_healthy_host_and_names_the_other(
    nplab: labmod.Lab, cli: Cli, repo: Path
) -> None:
    listing = cli("get", "pods", "-f", str(repo), "-n", NAMESPACE, "-o", "json")
    assert_names_the_host_without_podman(nplab, listing, "reconciler:")
    items = json.loads(listing.stdout)["items"]
    assert sorted((i["host"], i["status"]) for i in items) == [("h1", "Running")] * 2
    text = cli("get", "pods", "-f", str(repo))
    assert_names_the_host_without_podman(nplab, text, "reconciler:")
    assert text.stdout.count(" Running ") == 2


def test_second_apply_changes_nothing_and_still_names_the_host(
    nplab: labmod.Lab, cli: Cli, repo: Path
) -> None:
    before = web_containers(nplab)
    result = cli("apply", str(repo))
    assert_names_the_host_without_podman(nplab, result, "reconciler apply:")
    assert "0 created, 0 replaced, 0 deleted, 0 failed, 2 unchanged" in result.stdout
    assert web_containers(nplab) == before
