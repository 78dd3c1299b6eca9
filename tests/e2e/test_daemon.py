"""The daemon end to end: real `git push` over SSH to the repository it watches, real hosts.

Push examples/repo ▶ pods running. Push a schema error ▶ nothing changes, status names the file
and line. Push the fix ▶ converges. A container removed by hand ▶ restored by the resync.
A webhook with a bad signature ▶ 401 and no sync. kill -9 mid-apply, restart ▶ converged, no
duplicates. SIGTERM ▶ clean exit.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import daemonproc, gitserver, proc
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
EXAMPLE = labmod.REPO / "examples" / "repo"
RESYNC = 4.0


Daemon = daemonproc.DaemonProcess


def _status(daemon: Daemon) -> dict[str, Any]:
    found = daemon.status()
    assert found is not None, daemon.log.read_text()[-3000:]
    return found


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 120) -> Any:
    return proc.wait_for(predicate, what, timeout, step=0.2)


@pytest.fixture(scope="module")
def server(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    started = gitserver.start(tmp_path_factory.mktemp("gitserver"), lab.config.gateway)
    yield started
    gitserver.stop(started)


@pytest.fixture(scope="module")
def setup(
    lab: labmod.Lab, server: gitserver.GitServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Daemon, gitserver.WorkTree, Path]]:
    base = tmp_path_factory.mktemp("daemon")
    hosts_only = base / "hosts-only"
    shutil.copytree(EXAMPLE / "hosts", hosts_only / "hosts")
    env = {
        **os.environ,
        "RECONCILER_SSH_KEY": str(lab.config.key_file),
        "RECONCILER_KNOWN_HOSTS": str(lab.config.known_hosts),
        "RECONCILER_CONFIG": "/dev/null",
    }
    clean = [sys.executable, "-m", "reconciler", "apply", "-q", "--allow-mass-prune",
             str(hosts_only)]  # fmt: skip
    subprocess.run(clean, env=env, check=True, capture_output=True, timeout=300)
    secret = base / "webhook-secret"
    secret.write_text("s3cret-hook\n")
    port = proc.free_port()
    config = base / "config.yaml"
    config.write_text(
        f"repository: {server.repository}\nbranch: main\nstate_dir: {base / 'state'}\n"
        f"resync_interval: {RESYNC}\nssh_key: {lab.config.key_file}\n"
        f"known_hosts: {lab.config.known_hosts}\nlisten: 127.0.0.1:{port}\n"
        f"webhook_secret_file: {secret}\nconnect_timeout: 3\n"
        f"age_key_file: {labmod.REPO / 'tests' / 'harness' / 'age' / 'demo.key'}\n"
    )
    work = gitserver.WorkTree(base / "work", server)
    daemon = Daemon(config, base / "daemon.log", port, env)
    daemon.start()
    yield daemon, work, base
    if daemon.running:
        daemon.stop()
    subprocess.run(clean, env=env, check=False, capture_output=True, timeout=300)


def _applied(daemon: Daemon, sha: str) -> dict[str, Any] | None:
    status = _status(daemon)
    last = status["lastFinishedSync"]
    if status["revision"]["applied"] == sha and last and last["revision"] == sha:
        return status
    return None


def _pods(lab: labmod.Lab) -> dict[str, tuple[str, str]]:
    """Managed pods of namespace shop on every host: name -> (host, podman id); asserts no name
    twice. (The example's CronJob adds run-to-completion pods in namespace ops every minute.)"""
    found: dict[str, tuple[str, str]] = {}
    for host in lab.hosts():
        out = lab.ssh(host, "podman", "pod", "ps", "--filter",
                      "label=reconciler.dev/managed-by=reconciler",
                      "--format", "{{.Name}} {{.Id}} {{.Status}}").stdout  # fmt: skip
        for line in out.splitlines():
            podman_name, pod_id, state = line.split()[:3]
            namespace, name = podman_name.split("_", 1)  # <namespace>_<name>
            if namespace != "shop":
                continue
            assert name not in found, f"{name} runs twice: {found[name]} and {host.name}"
            found[name] = (host.name, pod_id)
            assert state == "Running", line
    return found


def test_push_deploys_then_a_broken_push_changes_nothing_then_the_fix_converges(
    lab: labmod.Lab, setup: tuple[Daemon, gitserver.WorkTree, Path]
) -> None:
    daemon, work, _ = setup
    shutil.copytree(EXAMPLE, work.path, dirs_exist_ok=True)
    good = work.commit_and_push("deploy the shop")
    status = wait_for(lambda: _applied(daemon, good), f"revision {good[:12]} applied")
    assert status["lastFinishedSync"]["result"] == "Succeeded", status
    pods = _pods(lab)
    assert len(pods) == 5
    # a schema error: nothing changes on any host; status names the file and line
    web = work.path / "shop" / "web.yaml"
    web.write_text(web.read_text().replace("replicas: 3", "replicas: three"))
    bad = work.commit_and_push("break the web deployment")

    def refused() -> dict[str, Any] | None:
        last = _status(daemon)["lastFinishedSync"]
        return last if last and last["revision"] == bad and last["result"] == "Invalid" else None

    last = wait_for(refused, "the broken revision to be refused", 60)
    assert any(e.startswith("shop/web.yaml:") and "replicas" in e for e in last["errors"]), last
    status = _status(daemon)
    assert status["revision"]["applied"] == good
    assert status["condition"]["reason"] == "ManifestInvalid"
    cli = subprocess.run(
        [sys.executable, "-m", "reconciler", "status", "--state-dir", str(setup[2] / "state")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "shop/web.yaml:" in cli.stdout + cli.stderr
    time.sleep(RESYNC * 1.5)  # a resync of the last good revision changes nothing either
    assert _pods(lab) == pods
    # the fix (with a new env var) converges
    web.write_text(web.read_text().replace("replicas: three", "replicas: 3"))
    backend = work.path / "shop" / "backend.yaml"
    added = '            - name: FIXED\n              value: "1"\n'
    backend.write_text(backend.read_text().replace("          env:\n", "          env:\n" + added))
    fixed = work.commit_and_push("fix it")
    status = wait_for(lambda: _applied(daemon, fixed), "the fix to be applied")
    assert status["lastFinishedSync"]["result"] == "Succeeded"

    def rolled_out() -> dict[str, Any] | None:  # backend's new template rolls out in steps
        current = _status(daemon)
        progress = {d["name"]: d.get("progressing", {}).get("reason") for d in
                    current["deployments"]}  # fmt: skip
        done = progress.get("backend") == "NewReplicaSetAvailable"
        return current if done and len(_pods(lab)) == 5 else None

    wait_for(rolled_out, "the backend rollout to complete")
    after = _pods(lab)
    assert len(after) == 5
    web_before = {n for n in pods if n.startswith("web-")}
    assert len(web_before) == 3
    assert {n for n in after if n.startswith("web-")} == web_before


def test_container_removed_by_hand_is_restored_within_a_resync(
    lab: labmod.Lab, setup: tuple[Daemon, gitserver.WorkTree, Path]
) -> None:
    daemon, _, _ = setup
    pods = _pods(lab)
    name = sorted(n for n in pods if n.startswith("web-"))[0]
    host = lab.get(pods[name][0])
    lab.ssh(host, "podman", "rm", "-f", "-t", "0", f"shop_{name}_httpd")

    def restored() -> bool:
        current = _pods_lenient(lab)
        return name in current and current[name][1] != pods[name][1]

    wait_for(restored, f"{name} to be restored", RESYNC * 3 + 30)
    events = _status(daemon)["events"]
    assert any(e["reason"] == "DriftRestored" and name in e["object"] for e in events), events


def _pods_lenient(lab: labmod.Lab) -> dict[str, tuple[str, str]]:
    try:
        return _pods(lab)
    except AssertionError:
        return {}


def test_webhook_with_a_bad_signature_is_refused_without_a_sync(
    setup: tuple[Daemon, gitserver.WorkTree, Path],
) -> None:
    daemon, _, _ = setup
    before = _status(daemon)["lastSync"]["id"]
    body = json.dumps({"ref": "refs/heads/main", "after": "0" * 40}).encode()
    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + "0" * 64,
               "Content-Type": "application/json"}  # fmt: skip
    assert daemon.post("/webhook", body, headers) == 401
    time.sleep(1.0)
    after = _status(daemon)["lastSync"]["id"]
    assert after - before <= 1  # at most one resync happened meanwhile, never a webhook sync
    assert "webhook" not in _status(daemon)["lastSync"]["trigger"]


def test_kill_9_mid_apply_then_restart_converges_without_duplicates(
    lab: labmod.Lab, setup: tuple[Daemon, gitserver.WorkTree, Path]
) -> None:
    daemon, work, _ = setup
    config = work.path / "shop" / "web-config.yaml"
    config.write_text(config.read_text().replace("LOG_LEVEL: info", "LOG_LEVEL: warn"))
    sha = work.commit_and_push("change the config: every web pod is replaced")

    def applying() -> bool:
        last = _status(daemon)["lastSync"]
        return bool(last["revision"] == sha and last["result"] == "Running")

    wait_for(applying, "the apply of the new revision to start", 60)
    time.sleep(0.5)  # into the apply: web pods stop within their 2 s grace period
    daemon.stop(signal.SIGKILL)
    daemon.start()
    status = wait_for(lambda: _applied(daemon, sha), "convergence after the restart")
    assert status["lastFinishedSync"]["result"] == "Succeeded", status
    pods = _pods(lab)
    assert len(pods) == 5
    assert sum(1 for n in pods if n.startswith("web-")) == 3


def test_sigterm_stops_the_daemon_cleanly(setup: tuple[Daemon, gitserver.WorkTree, Path]) -> None:
    daemon, _, _ = setup
    assert daemon.stop(signal.SIGTERM) == 0
    assert "daemon stopping" in daemon.log.read_text()
