"""`reconciler diff` and `get pods|deployments` through a daemon on this machine, on the 3 real
test hosts: they answer through the daemon's GET /v1/observe (its counter of served observations
goes up by one per command, and the hosts are never dialled by the command: no SSH key is
given to it) and print exactly what `--direct` prints, while the working copy differs from what
the daemon runs (replicas 2 -> 3, not pushed).

Deployment `ddiff` (2 busybox pods) pushed to a daemon (resync every 4 s) through its own git
server. Namespace `ddiff-e2e`; its pods are removed at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import daemonproc, gitdaemon, proc
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "ddiff-e2e"
MANIFESTS = f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ddiff
  namespace: {NAMESPACE}
spec:
  replicas: 2
  selector:
    matchLabels:
      app: ddiff
  template:
    metadata:
      labels:
        app: ddiff
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: 198.18.0.1:5000/demo/busybox:latest
          imagePullPolicy: IfNotPresent
          command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
"""


@dataclass(frozen=True)
class Setup:
    lab: labmod.Lab
    daemon: daemonproc.DaemonProcess
    work: Path
    state: Path


@pytest.fixture(scope="module")
def setup(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp("daemon-diff")
    allow = "allow_mass_prune: true\n"  # other tests' leftover pods are pruned, not held
    with gitdaemon.daemon_on_git(lab, base, git_user="rc-git-ddiff", namespace=NAMESPACE,
                                 extra_config=allow) as (daemon, work):  # fmt: skip
        work.write("app.yaml", MANIFESTS)
        work.commit_and_push("ddiff with 2 replicas")
        found = Setup(lab, daemon, work.path, base / "state")
        proc.wait_for(lambda: _running(found) == 2, "2 pods of ddiff Running", 120, step=1.0)
        app = work.path / "app.yaml"  # the user's working copy: one more replica, not pushed
        app.write_text(app.read_text().replace("replicas: 2", "replicas: 3"))
        yield found


def _cli(setup: Setup, *args: str, dial: bool) -> subprocess.CompletedProcess[str]:
    """`reconciler ARGS`; without `dial`, no SSH key is given: only the daemon can read hosts."""
    env = {**gitdaemon.cli_env(setup.lab), "RECONCILER_STATE_DIR": str(setup.state)}
    env.pop("RECONCILER_DAEMON", None)
    if not dial:
        env["RECONCILER_SSH_KEY"] = str(setup.work / "no-such-key")
    return subprocess.run([sys.executable, "-m", "reconciler", *args], capture_output=True,
                          text=True, env=env, timeout=180, check=False)  # fmt: skip


def _running(setup: Setup) -> int:
    done = _cli(setup, "get", "pods", "-n", NAMESPACE, "-o", "json", "-f", str(setup.work),
                "--direct", dial=True)  # fmt: skip
    items = json.loads(done.stdout or '{"items": []}')["items"]
    return sum(1 for i in items if i["status"] == "Running" and i["ready"] == "1/1")


def _served(setup: Setup) -> float:
    url = f"http://127.0.0.1:{setup.daemon.port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as reply:
        text = reply.read().decode()
    lines = [row for row in text.splitlines()
             if row.startswith("reconciler_observations_served_total ")]  # fmt: skip
    return float(lines[0].split()[1]) if lines else 0.0  # none served yet: not rendered


@pytest.mark.parametrize(
    "argv",
    [
        ("diff",),
        ("diff", "-o", "json"),
        ("get", "pods", "-n", NAMESPACE, "-o", "json", "-f"),
        ("get", "pods", "-n", NAMESPACE, "-o", "wide", "-f"),
        ("get", "deployments", "-n", NAMESPACE, "-f"),
    ],
)
def test_through_the_daemon_as_direct(setup: Setup, argv: tuple[str, ...]) -> None:
    daemon_address = f"127.0.0.1:{setup.daemon.port}"
    before = _served(setup)
    through = _cli(setup, *argv, str(setup.work), "--daemon", daemon_address, dial=False)
    assert _served(setup) == before + 1, through.stderr  # one observation, served by the daemon
    direct = _cli(setup, *argv, str(setup.work), "--direct", dial=True)
    assert _served(setup) == before + 1  # --direct never asked it
    print(f"\n$ reconciler {' '.join(argv)}\n{through.stdout}")
    assert (through.returncode, through.stdout) == (direct.returncode, direct.stdout), (
        f"through the daemon: {through.stderr}\ndirect: {direct.stderr}")  # fmt: skip
    assert "no-such-key" not in through.stderr  # the daemon read every host: nothing dialled
    if argv[0] == "diff":
        assert through.returncode == 1  # the working copy's 3rd replica, against what runs
        assert "ddiff" in through.stdout


def test_the_listen_address_of_the_config_is_found(setup: Setup) -> None:
    """No --daemon: the config file the CLI reads names the daemon's `listen`."""
    config = setup.work.parent / "cli-config.yaml"
    config.write_text(f"listen: 127.0.0.1:{setup.daemon.port}\n")
    before = _served(setup)
    done = _cli(setup, "diff", str(setup.work), "--config", str(config), dial=False)
    assert done.returncode == 1, done.stderr
    assert _served(setup) == before + 1
