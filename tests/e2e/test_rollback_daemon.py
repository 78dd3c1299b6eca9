"""Automatic rollback by the daemon on the real test hosts: push a good Deployment (v1), then a
template that crashes (v2) with `reconciler.dev/rollback-on-failure: "true"`; past its
progressDeadlineSeconds the daemon rolls back to v1's template, says so in the Deployment's
Progressing condition (RolledBack, naming `git revert <v2>`), and only v1 pods run.
`rollout status` and `rollout history` read it from the state database.

Namespace `rollback-e2e`, its own git server user and port; pods removed at the end.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import test_rollout as rollout
from tests.harness import daemonproc, gitdaemon, gitserver, proc, readiness
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "rollback-e2e"
DEADLINE = 15


@pytest.fixture(scope="module")
def setup(
    lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[daemonproc.DaemonProcess, gitserver.WorkTree, Path]]:
    base = tmp_path_factory.mktemp("rollback")
    with gitdaemon.daemon_on_git(lab, base, git_user="rc-git-rollback",
                                 namespace=NAMESPACE) as (daemon, work):  # fmt: skip
        yield daemon, work, base


def _rollout(
    lab: labmod.Lab, base: Path, verb: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    return rollout.reconciler(lab, "rollout", verb, "deployment/web", "-n", NAMESPACE,
                              "--state-dir", str(base / "state"), *extra, timeout=200)  # fmt: skip


def _rolled_back(daemon: daemonproc.DaemonProcess) -> dict[str, Any] | None:
    """The Deployment's Progressing condition in /status once its reason is RolledBack."""
    status = daemon.status() or {}
    for item in status.get("deployments", []):
        if (item["namespace"], item["name"]) == (NAMESPACE, "web"):
            progressing = item.get("progressing") or {}
            return dict(progressing) if progressing.get("reason") == "RolledBack" else None
    return None


def test_a_crashing_push_is_rolled_back_to_the_last_good_template(
    lab: labmod.Lab, setup: tuple[daemonproc.DaemonProcess, gitserver.WorkTree, Path]
) -> None:
    daemon, work, base = setup
    work.write("app.yaml", rollout.manifests(NAMESPACE, "web", "v1", deadline=DEADLINE))
    good = work.commit_and_push("web v1")

    def status_known() -> subprocess.CompletedProcess[str] | None:
        done = _rollout(lab, base, "status", "--timeout", "120")
        return done if done.returncode != 2 else None  # 2: the daemon has not applied it yet

    done = proc.wait_for(status_known, "the daemon to know deployment/web", 120, step=1.0)
    assert done.returncode == 0, done.stdout + done.stderr + daemon.log.read_text()[-3000:]
    assert "successfully rolled out" in done.stdout
    with readiness.HostViews(lab.hosts(), NAMESPACE) as views:
        v1 = rollout.wait_ready(views, 4)
        (v1_hash,) = v1.hashes()

        work.write("app.yaml", rollout.manifests(NAMESPACE, "web", "v2", command=rollout.CRASH,
                                                 deadline=DEADLINE, rollback=True))  # fmt: skip
        bad = work.commit_and_push("web v2: crashes")
        condition = proc.wait_for(lambda: _rolled_back(daemon), "RolledBack", 120, step=0.5)
        assert f"git revert {bad[:12]}" in condition["message"], condition
        assert condition["status"] == "False", condition
        after = rollout.wait_ready(views, 4, timeout=60)
        assert after.hashes() == {v1_hash}, rollout.describe(after)
        assert len(after.pods) == 4, rollout.describe(after)

    status = _rollout(lab, base, "status", "--timeout", "30")
    assert status.returncode == 1, status.stdout + status.stderr
    assert "RolledBack" in status.stdout, status.stdout
    history = _rollout(lab, base, "history")
    assert history.returncode == 0, history.stdout + history.stderr
    rows = history.stdout.splitlines()[2:]  # `deployment "web"`, the header, then one per template
    assert len(rows) == 2, history.stdout
    assert v1_hash in rows[0] and good[:12] in rows[0] and "complete" in rows[0], history.stdout
    assert bad[:12] in rows[1] and "failed" in rows[1], history.stdout
