"""`reconciler diff` and `get pods|deployments` through a daemon on this machine, on the 3 real
test hosts. Both are answered by the daemon (POST /v1/diff: the working copy's files are sent,
its counter of dry runs goes up by one per command; `get` with command "get": the daemon reads
its hosts with one run of the probes and makes the rows). The hosts are never dialled by the
command (no SSH key is given to it), and each prints exactly what `--direct` prints, while the
working copy differs from what the daemon runs (replicas 2 -> 3, not pushed); broken manifests
give the same errors.

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


def _served(setup: Setup, metric: str = "reconciler_observations_served_total") -> float:
    url = f"http://127.0.0.1:{setup.daemon.port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as reply:
        text = reply.read().decode()
    lines = [row for row in text.splitlines() if row.startswith(f"{metric} ")]
    return float(lines[0].split()[1]) if lines else 0.0  # none served yet: not rendered


DRY_RUNS = "reconciler_dry_runs_served_total"


@pytest.mark.parametrize(
    "argv",
    [
        ("diff",),
        ("diff", "-o", "json"),
        ("get", "pods", "-n", NAMESPACE, "-o", "json", "-f"),
        ("get", "pods", "-n", NAMESPACE, "-o", "wide", "-f"),
        ("get", "pods", "-n", NAMESPACE, "-f"),
        ("get", "pods", "-n", NAMESPACE, "-o", "yaml", "-f"),
        ("get", "deployments", "-n", NAMESPACE, "-f"),
        ("get", "deployments", "-n", NAMESPACE, "-o", "json", "-f"),
    ],
)
def test_through_the_daemon_as_direct(setup: Setup, argv: tuple[str, ...]) -> None:
    daemon_address = f"127.0.0.1:{setup.daemon.port}"
    metric = DRY_RUNS  # diff and get alike
    before, observed = _served(setup, metric), _served(setup)
    through = _cli(setup, *argv, str(setup.work), "--daemon", daemon_address, dial=False)
    assert _served(setup, metric) == before + 1, through.stderr  # served by the daemon
    direct = _cli(setup, *argv, str(setup.work), "--direct", dial=True)
    assert _served(setup, metric) == before + 1  # --direct never asked it
    assert _served(setup) == observed  # nor was GET /v1/observe asked: the rows came whole
    print(f"\n$ reconciler {' '.join(argv)}\n{through.stdout}")
    assert (through.returncode, through.stdout) == (direct.returncode, direct.stdout), (
        f"through the daemon: {through.stderr}\ndirect: {direct.stderr}")  # fmt: skip
    assert "no-such-key" not in through.stderr  # the daemon read every host: nothing dialled
    if argv[0] == "get":
        assert through.returncode == 0 and "ddiff" in through.stdout
        assert through.stderr == direct.stderr == ""
    if argv[0] == "diff":
        assert through.returncode == 1  # the working copy's 3rd replica, against what runs
        assert "ddiff" in through.stdout


def test_the_listen_address_of_the_config_is_found(setup: Setup) -> None:
    """No --daemon: the config file the CLI reads names the daemon's `listen`."""
    config = setup.work.parent / "cli-config.yaml"
    config.write_text(f"listen: 127.0.0.1:{setup.daemon.port}\n")
    before = _served(setup, DRY_RUNS)
    done = _cli(setup, "diff", str(setup.work), "--config", str(config), "-v", dial=False)
    assert done.returncode == 1, done.stderr
    assert _served(setup, DRY_RUNS) == before + 1
    assert f"planned by the daemon at http://127.0.0.1:{setup.daemon.port}" in done.stderr


def test_broken_manifests_give_the_same_errors(setup: Setup) -> None:
    """A copy of the working copy with a broken file and a schema error: the daemon's errors
    name the user's own files and lines, as the plan made here does."""
    copy = setup.work.parent / "broken-copy"
    copy.mkdir(exist_ok=True)
    (copy / "app.yaml").write_text((setup.work / "app.yaml").read_text().replace(
        "replicas: 3", "replicas: three"))  # fmt: skip
    (copy / "broken.yaml").write_text("apiVersion: v1\nkind: [unclosed\n")
    hosts = setup.work / "hosts"
    if hosts.is_dir():
        for item in hosts.iterdir():
            (copy / f"host-{item.name}").write_bytes(item.read_bytes())
    before = _served(setup, DRY_RUNS)
    through = _cli(setup, "diff", str(copy), "--daemon", f"127.0.0.1:{setup.daemon.port}",
                   dial=False)  # fmt: skip
    assert _served(setup, DRY_RUNS) == before + 1, through.stderr
    direct = _cli(setup, "diff", str(copy), "--direct", dial=True)
    assert (through.returncode, through.stdout, through.stderr) == (
        direct.returncode, direct.stdout, direct.stderr)  # fmt: skip
    assert through.returncode == 3 and f"{copy}/broken.yaml:" in through.stderr
    assert f"{copy}/app.yaml:" in through.stderr
