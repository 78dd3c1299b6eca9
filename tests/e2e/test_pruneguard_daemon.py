"""The daemon's prune guard on the 3 real test hosts, checked with `podman ps` over SSH: a pushed
revision that removes every workload (Hosts kept) is held: the sync ends `Blocked`, /status and
`reconciler status` say `PruneBlocked` with the counts, every container keeps running (the same
ids) through later resyncs; the next push adds `.reconciler/allow-prune` and the pods go. The
pushed revisions are recorded with trigger `push`, whichever pass found them.

Namespace `prune-e2e`, its own git server user and port; the hosts are cleaned first (a hosts-only
apply with --allow-mass-prune) so that the daemon's first revision prunes nothing.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import test_pruneguard as cli_case
from tests.harness import daemonproc, gitdaemon, gitserver, proc
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = cli_case.NAMESPACE
Setup = tuple[daemonproc.DaemonProcess, gitserver.WorkTree, Path]


@pytest.fixture(scope="module")
def setup(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp("prune-daemon")
    hosts_only = base / "hosts-only"
    shutil.copytree(cli_case.EXAMPLE / "hosts", hosts_only / "hosts")
    clean = cli_case._cli(lab, "apply", "-q", "--allow-mass-prune", str(hosts_only))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    with gitdaemon.daemon_on_git(lab, base, git_user="rc-git-prune",
                                 namespace=NAMESPACE) as (daemon, work):  # fmt: skip
        yield daemon, work, base


def _finished(daemon: daemonproc.DaemonProcess, sha: str, after: int = 0) -> dict[str, Any]:
    """/status once a sync of `sha` numbered above `after` has finished."""

    def seen() -> dict[str, Any] | None:
        status = daemon.status() or {}
        last = status.get("lastFinishedSync") or {}
        return status if last.get("revision") == sha and last.get("id", 0) > after else None

    status = proc.wait_for(seen, f"a sync of {sha[:12]} after #{after}", 90, step=0.3)
    assert status is not None
    return status


def test_an_empty_push_is_held_until_a_commit_allows_it(lab: labmod.Lab, setup: Setup) -> None:
    daemon, work, base = setup
    work.write("app.yaml", cli_case.NAMESPACE_YAML + cli_case._deployment("a", 2)
               + cli_case._deployment("b", 2) + cli_case._pod("solo"))  # fmt: skip
    deployed = work.commit_and_push("three workloads")
    proc.wait_for(lambda: len(cli_case._on_hosts(lab)) == 5, "5 containers running", 120, step=0.5)
    status = _finished(daemon, deployed)
    assert status["revision"]["applied"] == deployed, status["lastFinishedSync"]
    before = cli_case._on_hosts(lab)

    (work.path / "app.yaml").unlink()
    empty = work.commit_and_push("remove every workload")
    status = _finished(daemon, empty)
    last = status["lastFinishedSync"]
    assert last["result"] == "Blocked", (last, daemon.log.read_text()[-3000:])
    assert last["errors"][0].startswith(f"PruneBlocked: revision {empty[:12]} would delete 5 of "
                                        "5 managed pods (every managed pod) of 3 objects"), last
    condition = status["condition"]
    assert (condition["status"], condition["reason"]) == ("False", "PruneBlocked"), condition
    assert "5 of 5 managed pods" in condition["message"]
    assert status["revision"]["applied"] == deployed
    assert any(e["reason"] == "PruneBlocked" for e in status["events"]), status["events"]
    assert cli_case._on_hosts(lab) == before

    later = _finished(daemon, empty, last["id"])  # a resync while held: still nothing deleted
    assert later["lastFinishedSync"]["result"] == "Blocked"
    assert cli_case._on_hosts(lab) == before
    state = ["--state-dir", str(base / "state")]
    shown = cli_case._cli(lab, "status", *state)
    assert shown.returncode == 1 and "PruneBlocked" in shown.stdout, shown.stdout + shown.stderr

    work.write(".reconciler/allow-prune", "the demo is over\n")
    allowed = work.commit_and_push("allow the mass prune")
    proc.wait_for(lambda: cli_case._on_hosts(lab) == {}, "every pod pruned", 120, step=0.5)
    status = _finished(daemon, allowed)
    assert status["revision"]["applied"] == allowed and status["ready"], status["condition"]

    history = cli_case._cli(lab, "history", *state, "-n", "100", "-o", "json")
    syncs = json.loads(history.stdout)
    for sha in (deployed, empty, allowed):  # each first seen by some pass: recorded as a push
        first = min((s for s in syncs if s["revision"] == sha), key=lambda s: s["id"])
        assert first["trigger"] == "push", first
