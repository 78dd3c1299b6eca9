"""What the daemon end-to-end tests share: the CLI's environment for a lab, removing one test's
pods straight through Podman, and a `reconciler daemon` watching a git server of its own (its
own git user and port, so several such tests never share a repository)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.harness import daemonproc, gitserver, proc
from tests.harness import lab as labmod

EXAMPLE = labmod.REPO / "examples" / "repo"


def cli_env(lab: labmod.Lab) -> dict[str, str]:
    """The environment for `reconciler` commands against `lab` (its key and known_hosts)."""
    return {
        **os.environ,
        "RECONCILER_SSH_KEY": str(lab.config.key_file),
        "RECONCILER_KNOWN_HOSTS": str(lab.config.known_hosts),
        "RECONCILER_CONFIG": "/dev/null",
        "RECONCILER_SERVICE_CIDR": labmod.SERVICE_CIDR,
    }


def hosts_repos(new_dir: Callable[[str], Path], name: str) -> tuple[Path, Path]:
    """Two new repositories holding the example Hosts: one for the test's manifests, and one
    with the Hosts only, whose apply prunes the test's pods at the end. `new_dir` is
    `tmp_path_factory.mktemp`."""
    repo, hosts_only = new_dir(name) / "repo", new_dir(f"{name}-hosts")
    shutil.copytree(EXAMPLE / "hosts", repo / "hosts")
    shutil.copytree(EXAMPLE / "hosts", hosts_only / "hosts")
    return repo, hosts_only


def run_cli(lab: labmod.Lab, *args: str) -> subprocess.CompletedProcess[str]:
    """`reconciler ARGS...` against `lab` in a new process (its key and known_hosts), output
    captured, never raising on a non-zero exit (the tests read the code)."""
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args], capture_output=True, text=True,
        env=cli_env(lab), timeout=300, check=False,
    )  # fmt: skip


def remove_namespace_pods(lab: labmod.Lab, namespace: str) -> None:
    """Remove the namespace's pods straight through Podman (an `apply` would prune every other
    test's pods too)."""
    for host in lab.hosts():
        listed = lab.ssh(host, "podman", "pod", "ps", "-q", "--filter",
                         f"label=reconciler.dev/namespace={namespace}", check=False)  # fmt: skip
        ids = listed.stdout.split()
        if ids:
            lab.ssh(host, "podman", "pod", "rm", "-f", "-t", "0", *ids, check=False)


@contextlib.contextmanager
def daemon_on_git(
    lab: labmod.Lab,
    base: Path,
    *,
    git_user: str,
    namespace: str,
    extra_config: str = "",
    prepare: Callable[[gitserver.WorkTree], None] | None = None,
) -> Iterator[tuple[daemonproc.DaemonProcess, gitserver.WorkTree]]:
    """A daemon (resync every 4 s, state in `base`/state) watching a new git server, and a work
    tree holding the example's Hosts to push from; `namespace`'s pods are removed before and
    after, the daemon stopped and the git server (and its user) removed at the end."""
    remove_namespace_pods(lab, namespace)
    server = gitserver.start(base / "gitserver", lab.config.gateway, user=git_user,
                             port=proc.free_port())  # fmt: skip
    try:
        port = proc.free_port()
        config = base / "config.yaml"
        config.write_text(
            f"repository: {server.repository}\nbranch: main\nstate_dir: {base / 'state'}\n"
            f"resync_interval: 4\nssh_key: {lab.config.key_file}\n"
            f"known_hosts: {lab.config.known_hosts}\nlisten: 127.0.0.1:{port}\n"
            f"connect_timeout: 3\nservice_cidr: {labmod.SERVICE_CIDR}\n{extra_config}"
        )
        work = gitserver.WorkTree(base / "work", server)
        if prepare is not None:
            prepare(work)
        shutil.copytree(EXAMPLE / "hosts", work.path / "hosts")
        daemon = daemonproc.DaemonProcess(config, base / "daemon.log", port, cli_env(lab))
        daemon.start()
        try:
            yield daemon, work
        finally:
            if daemon.running:
                daemon.stop()
    finally:
        remove_namespace_pods(lab, namespace)
        gitserver.stop(server)
