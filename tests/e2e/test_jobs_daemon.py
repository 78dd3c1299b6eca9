"""batch/v1 Jobs on the real test hosts, run by the daemon.

One push: Job `twice` (completions 2, parallelism 1, restartPolicy Never) prints a line and
exits 0; Job `fails` (backoffLimit 1) exits 3. `twice` ends Complete 2/2 with two pods run one
after the other, `logs job/twice` shows its output; `fails` ends Failed, reason
BackoffLimitExceeded, after two pods (the second after the 10 s back-off). The daemon stopped,
every pod of `twice` removed by hand, the daemon started again: `twice` is not run again (its
record in the state database says Complete), and `get jobs` still says Complete 2/2.

Namespace `jobs-e2e`, its own git server user and port; pods removed at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.state import store as storemod
from tests.harness import daemonproc, gitdaemon, hostsetup, proc
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "jobs-e2e"
IMAGE = "198.18.0.1:5000/demo/busybox:latest"


def _job(name: str, command: str, **spec: int) -> str:
    fields = "".join(f"  {key}: {value}\n" for key, value in spec.items())
    return f"""\
---
apiVersion: batch/v1
kind: Job
metadata: {{name: {name}, namespace: {NAMESPACE}}}
spec:
{fields}  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: {IMAGE}
          imagePullPolicy: IfNotPresent
          command: ["sh", "-c", "{command}"]
"""


MANIFESTS = (
    f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NAMESPACE}}}\n"
    + _job("twice", "echo job-ran-on-$HOSTNAME; sleep 1", completions=2, parallelism=1)
    + _job("fails", "echo failing; exit 3", backoffLimit=1)
)


@dataclass(frozen=True)
class Setup:
    daemon: daemonproc.DaemonProcess
    repo: Path
    state: Path


@pytest.fixture(scope="module")
def setup(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp("jobs")
    with gitdaemon.daemon_on_git(lab, base, git_user="rc-git-jobs", namespace=NAMESPACE) as (
        daemon,
        work,
    ):
        work.write("jobs.yaml", MANIFESTS)
        work.commit_and_push("two Jobs")
        yield Setup(daemon, work.path, base / "state")


def cli(lab: labmod.Lab, setup: Setup, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**gitdaemon.cli_env(lab), "RECONCILER_STATE_DIR": str(setup.state)}
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args, "-n", NAMESPACE, "--filename", str(setup.repo)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def jobs(lab: labmod.Lab, setup: Setup) -> dict[str, dict[str, Any]]:
    done = cli(lab, setup, "get", "jobs", "-o", "json")
    assert done.returncode == 0, done.stderr
    return {item["name"]: item for item in json.loads(done.stdout)["items"]}


def pods(lab: labmod.Lab, job: str) -> dict[str, tuple[hostsetup.Host, str]]:
    """The pods of `job` on every host, straight from Podman: name -> (host, podman pod id)."""
    found = {}
    for host in lab.hosts():
        listed = lab.ssh(host, "podman", "pod", "ps", "--format", "json", "--filter",
                         f"label=reconciler.dev/owner=Job/{job}", check=False)  # fmt: skip
        for item in json.loads(listed.stdout or "[]"):
            labels = item.get("Labels") or {}
            if labels.get("reconciler.dev/namespace") == NAMESPACE:
                found[labels["reconciler.dev/name"]] = (host, item["Id"])
    return found


def syncs(setup: Setup) -> int:
    with storemod.Store(storemod.path_in(setup.state), create=False) as store:
        return sum(1 for s in store.history(limit=1000) if s.result is not None)


def test_jobs_complete_fail_and_are_not_rerun_after_a_restart(
    lab: labmod.Lab, setup: Setup
) -> None:
    def finished() -> dict[str, dict[str, Any]] | None:
        rows = jobs(lab, setup)
        ended = all(rows.get(n, {}).get("status") in ("Complete", "Failed")
                    for n in ("twice", "fails"))  # fmt: skip
        return rows if ended else None

    rows = proc.wait_for(finished, "both Jobs finished", 150, 2.0)
    assert rows is not None
    print(f"\nget jobs: {rows}")
    assert (rows["twice"]["status"], rows["twice"]["completions"]) == ("Complete", "2/2")
    assert (rows["fails"]["status"], rows["fails"]["completions"]) == ("Failed", "0/1")
    assert sorted(pods(lab, "twice")) == ["twice-0", "twice-1"]  # one after the other, no more
    assert sorted(pods(lab, "fails")) == ["fails-0", "fails-1"]  # backoffLimit 1: two pods
    with storemod.Store(storemod.path_in(setup.state), create=False) as store:
        conditions = {(c.name, c.type): c for c in store.conditions() if c.kind == "Job"}
        reasons = [(e.object, e.reason) for e in store.events(limit=500)]
    assert conditions[("twice", "Complete")].reason == "Completed"
    assert conditions[("fails", "Failed")].reason == "BackoffLimitExceeded"
    assert (f"Job/{NAMESPACE}/fails", "BackoffLimitExceeded") in reasons
    logs = cli(lab, setup, "logs", "job/twice")
    assert logs.returncode == 0 and "job-ran-on-" in logs.stdout, logs

    setup.daemon.stop()
    for host, pod_id in pods(lab, "twice").values():  # gone (a TTL, by hand): the record stays
        lab.ssh(host, "podman", "pod", "rm", "-f", "-t", "0", pod_id)
    assert pods(lab, "twice") == {}
    before = syncs(setup)
    setup.daemon.start()
    assert proc.wait_for(lambda: syncs(setup) >= before + 2 or None, "two new syncs", 90, 1.0)
    assert pods(lab, "twice") == {}  # never run again
    assert sorted(pods(lab, "fails")) == ["fails-0", "fails-1"]  # kept for their logs
    after = jobs(lab, setup)
    assert (after["twice"]["status"], after["twice"]["completions"]) == ("Complete", "2/2")
