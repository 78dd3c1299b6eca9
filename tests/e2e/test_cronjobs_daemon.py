"""A batch/v1 CronJob on the real test hosts, run by the daemon's clock (real minutes).

CronJob `tick`: every minute, concurrencyPolicy Forbid, startingDeadlineSeconds 15; its Job
prints a line and sleeps 75 s. The first run starts within ~70 s of the push (`get cronjobs`
says ACTIVE 1, `logs job/<its Job>` shows the line); the next minute comes while it still runs:
Forbid holds it, and once the run finishes that minute is past its 15 s starting deadline, so it
is never made; the minute after runs.

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

from tests.harness import daemonproc, gitdaemon, proc
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "jobs-e2e"
IMAGE = "198.18.0.1:5000/demo/busybox:latest"
MANIFESTS = f"""\
apiVersion: v1
kind: Namespace
metadata: {{name: {NAMESPACE}}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {{name: tick, namespace: {NAMESPACE}}}
spec:
  schedule: "*/1 * * * *"
  timeZone: Etc/UTC
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: 15
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers:
            - name: main
              image: {IMAGE}
              imagePullPolicy: IfNotPresent
              command: ["sh", "-c", "echo tick-ran; sleep 75"]
"""


@dataclass(frozen=True)
class Setup:
    daemon: daemonproc.DaemonProcess
    repo: Path
    state: Path


@pytest.fixture(scope="module")
def setup(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp("cronjobs")
    with gitdaemon.daemon_on_git(lab, base, git_user="rc-git-cron", namespace=NAMESPACE) as (
        daemon,
        work,
    ):
        work.write("cron.yaml", MANIFESTS)
        work.commit_and_push("a CronJob")
        yield Setup(daemon, work.path, base / "state")


def cli(lab: labmod.Lab, setup: Setup, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**gitdaemon.cli_env(lab), "RECONCILER_STATE_DIR": str(setup.state)}
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args, "-n", NAMESPACE, "--filename", str(setup.repo)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def rows(lab: labmod.Lab, setup: Setup, resource: str) -> dict[str, dict[str, Any]]:
    done = cli(lab, setup, "get", resource, "-o", "json")
    assert done.returncode == 0, done.stderr
    return {item["name"]: item for item in json.loads(done.stdout)["items"]}


def test_cronjob_runs_each_minute_and_forbid_holds_a_run(lab: labmod.Lab, setup: Setup) -> None:
    first = proc.wait_for(lambda: rows(lab, setup, "jobs") or None, "the first run", 80, 2.0)
    assert first is not None
    (name,) = first
    minute = int(name.removeprefix("tick-"))
    cron = rows(lab, setup, "cronjobs")["tick"]
    print(f"\nfirst run {name}; get cronjobs: {cron}")
    assert cron["active"] == 1 and cron["schedule"] == "*/1 * * * * (Etc/UTC)"
    assert cron["lastSchedule"].endswith(" ago")

    def logged() -> str | None:
        done = cli(lab, setup, "logs", f"job/{name}")
        return done.stdout if done.returncode == 0 and "tick-ran" in done.stdout else None

    assert proc.wait_for(logged, "the run's output", 60, 2.0)

    def complete() -> dict[str, dict[str, Any]] | None:
        now = rows(lab, setup, "jobs")
        return now if now[name]["status"] == "Complete" else None

    done = proc.wait_for(complete, f"{name} Complete", 120, 2.0)
    assert done is not None
    for where in (f"127.0.0.1:{setup.daemon.port}", "none"):  # planned by the daemon; here
        env = {**gitdaemon.cli_env(lab), "RECONCILER_STATE_DIR": str(setup.state),
               "RECONCILER_DAEMON": where}  # fmt: skip
        diffed = subprocess.run(
            [sys.executable, "-m", "reconciler", "diff", "-v", str(setup.repo)],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        said = diffed.stdout + diffed.stderr
        assert ("by the daemon at" in diffed.stderr) == (where != "none"), said
        assert diffed.returncode == 0 and "0 to delete" in diffed.stdout, said  # its Job's pod
    assert sorted(done) == [name]  # the next minute: held by Forbid, then past its deadline
    following = f"tick-{minute + 2}"

    def followed() -> dict[str, dict[str, Any]] | None:
        now = rows(lab, setup, "jobs")
        return now if following in now else None

    later = proc.wait_for(followed, f"the run {following}", 75, 2.0)
    assert later is not None
    assert f"tick-{minute + 1}" not in later
