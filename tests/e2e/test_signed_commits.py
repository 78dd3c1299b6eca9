"""Only signed commits deploy, on the real test hosts: a daemon with `verify_commits` (an SSH
allowed-signers file) refuses an unsigned commit pushed over SSH (SignatureInvalid naming the
commit, `signer: none`; nothing on the hosts), applies the same manifests once signed, and then
refuses an unsigned change while the signed revision keeps running (its pods untouched).

Namespace `signed-e2e`, its own git server user and port; pods removed at the end.
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
NAMESPACE = "signed-e2e"
Setup = tuple[daemonproc.DaemonProcess, gitserver.WorkTree, Path]


@pytest.fixture(scope="module")
def setup(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp("signed")
    key = base / "signing_key"
    proc.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "e2e", "-f", str(key)])
    allowed = base / "allowed_signers"
    public = " ".join(key.with_suffix(".pub").read_text().split()[:2])
    allowed.write_text(f"e2e@example.test {public}\n")

    def signing(work: gitserver.WorkTree) -> None:
        work.git("config", "gpg.format", "ssh")
        work.git("config", "user.signingkey", str(key))

    with gitdaemon.daemon_on_git(
        lab, base, git_user="rc-git-signed", namespace=NAMESPACE,
        extra_config=f"verify_commits:\n  allowed_signers: {allowed}\n", prepare=signing,
    ) as (daemon, work):  # fmt: skip
        yield daemon, work, base


def _pods_on_hosts(lab: labmod.Lab) -> dict[str, list[str]]:
    """The namespace's pod ids on each host, straight from Podman."""
    found = {}
    for host in lab.hosts():
        listed = lab.ssh(host, "podman", "pod", "ps", "-q", "--no-trunc", "--filter",
                         f"label=reconciler.dev/namespace={NAMESPACE}")  # fmt: skip
        found[host.name] = sorted(listed.stdout.split())
    return found


def _sync_of(daemon: daemonproc.DaemonProcess, sha: str, after: int = 0) -> dict[str, Any] | None:
    """/status once a sync of `sha` numbered above `after` has finished."""
    status = daemon.status() or {}
    last = status.get("lastFinishedSync") or {}
    return status if last.get("revision") == sha and last.get("id", 0) > after else None


def _refused(
    daemon: daemonproc.DaemonProcess, sha: str, what: str, after: int = 0
) -> dict[str, Any]:
    """/status once a sync of `sha` after sync `after` finished, checked to be its refusal."""
    status = proc.wait_for(lambda: _sync_of(daemon, sha, after), what, 60, step=0.5)
    assert status is not None
    _assert_refused(status, sha, daemon)
    return status


def _assert_refused(status: dict[str, Any], sha: str, daemon: daemonproc.DaemonProcess) -> None:
    last = status["lastFinishedSync"]
    assert last["result"] == "Invalid", (last, daemon.log.read_text()[-3000:])
    assert last["errors"][0].startswith(f"SignatureInvalid: commit {sha} is not signed"), last
    assert "(signer: none)" in last["errors"][0], last
    condition = status["condition"]
    assert condition["reason"] == "SignatureInvalid", condition
    assert sha in condition["message"] and condition["status"] == "False", condition


def test_unsigned_commits_are_refused_and_signed_ones_applied(
    lab: labmod.Lab, setup: Setup
) -> None:
    daemon, work, base = setup
    work.write("app.yaml", rollout.manifests(NAMESPACE, "web", "v1", replicas=2))
    unsigned = work.commit_and_push("web v1, unsigned")
    status = _refused(daemon, unsigned, "the unsigned push refused")
    assert status["revision"]["applied"] is None
    assert _pods_on_hosts(lab) == {h.name: [] for h in lab.hosts()}  # nothing ever applied

    work.git("config", "commit.gpgsign", "true")
    work.write("app.yaml", rollout.manifests(NAMESPACE, "web", "v1", replicas=2) + "\n")
    signed = work.commit_and_push("web v1, signed")
    proc.wait_for(lambda: (daemon.status() or {}).get("revision", {}).get("applied") == signed,
                  "the signed push applied", 120, step=0.5)  # fmt: skip
    with readiness.HostViews(lab.hosts(), NAMESPACE) as views:
        rollout.wait_ready(views, 2, timeout=90)
    before = _pods_on_hosts(lab)
    assert sum(len(ids) for ids in before.values()) == 2, before
    log = daemon.log.read_text()
    assert f"commit {signed[:12]}: signed by e2e@example.test" in log

    work.git("config", "commit.gpgsign", "false")
    work.write("app.yaml", rollout.manifests(NAMESPACE, "web", "v2", replicas=3))
    change = work.commit_and_push("web v2, unsigned")
    first = _refused(daemon, change, "the unsigned change refused")
    later = _refused(daemon, change, "a resync while refused", first["lastFinishedSync"]["id"])
    assert later["revision"]["applied"] == signed
    assert _pods_on_hosts(lab) == before  # never applied, nothing replaced or pruned

    state = ["--state-dir", str(base / "state")]
    shown = rollout.reconciler(lab, "status", *state)
    assert "SignatureInvalid" in shown.stdout + shown.stderr, shown
    history = rollout.reconciler(lab, "history", *state)
    assert f"SignatureInvalid: commit {change}" in history.stdout, history.stdout
    assert f"SignatureInvalid: commit {change}" in daemon.log.read_text()


def test_validate_verify_commits_on_the_pushed_work_tree(lab: labmod.Lab, setup: Setup) -> None:
    _daemon, work, base = setup
    done: subprocess.CompletedProcess[str] = rollout.reconciler(
        lab, "validate", "--verify-commits", str(base / "allowed_signers"), str(work.path)
    )
    assert done.returncode == 1, done.stdout + done.stderr  # HEAD is the unsigned change
    assert "SignatureInvalid: commit" in done.stderr and "(signer: none)" in done.stderr
