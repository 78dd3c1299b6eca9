"""The prune guard of `reconciler apply` on the 3 real test hosts, checked with `podman` over SSH:
a 60% deletion and an empty revision (Hosts kept) exit 5 and leave every pod running (the same
podman ids), `diff` says apply would be held; `--allow-mass-prune` and the repository's
`.reconciler/allow-prune` let them through; removing one large Deployment is never held. Also: the
CLI reads the daemon's own config file, and a wrong host key shows both fingerprints.

Namespace `prune-e2e`; the module starts and ends with a hosts-only apply (--allow-mass-prune).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest

from tests.harness import gitdaemon
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "prune-e2e"
EXAMPLE = labmod.REPO / "examples" / "repo"
IMAGE = "198.18.0.1:5000/demo/busybox:latest"


def _deployment(name: str, replicas: int) -> str:
    return f"""\
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {NAMESPACE}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: {IMAGE}
          command: ["sleep", "3600"]
          resources:
            requests:
              cpu: 10m
              memory: 16Mi
"""


def _pod(name: str) -> str:
    return f"""\
---
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {NAMESPACE}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: {IMAGE}
      command: ["sleep", "3600"]
"""


NAMESPACE_YAML = f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NAMESPACE}\n"


def _write(repo: Path, *objects: str) -> None:
    (repo / "app.yaml").write_text(NAMESPACE_YAML + "".join(objects))


def _cli(lab: labmod.Lab, *args: str, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args], capture_output=True, text=True,
        env=env or gitdaemon.cli_env(lab), timeout=300, check=False,
    )  # fmt: skip


def _on_hosts(lab: labmod.Lab) -> dict[str, tuple[str, str]]:
    """Every running container of the namespace, straight from `podman ps` on each host:
    pod name -> (host, container id)."""
    found = {}
    for host in lab.hosts():
        listed = lab.ssh(host, "podman", "ps", "--no-trunc", "--filter",
                         f"label=reconciler.dev/namespace={NAMESPACE}", "--format",
                         '{{.Labels}}|{{.ID}}|{{.Status}}')  # fmt: skip
        for line in listed.stdout.splitlines():
            labels, cid, status = line.rsplit("|", 2)
            name = labels.split("reconciler.dev/name:", 1)[1].split()[0].rstrip("]")
            assert status.startswith("Up "), line  # running
            found[name] = (host.name, cid)
    return found


def _managed_pods(lab: labmod.Lab) -> int:
    """Every managed pod on every host (any namespace)."""
    return sum(
        len(lab.ssh(host, "podman", "pod", "ps", "-q", "--filter",
                    "label=reconciler.dev/managed-by=reconciler").stdout.split())
        for host in lab.hosts()
    )  # fmt: skip


@pytest.fixture(scope="module")
def repo(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("prune")
    hosts_only = base / "hosts-only"
    shutil.copytree(EXAMPLE / "hosts", hosts_only / "hosts")
    clean = _cli(lab, "apply", "-q", "--allow-mass-prune", str(hosts_only))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    path = base / "repo"
    shutil.copytree(EXAMPLE / "hosts", path / "hosts")
    yield path
    _cli(lab, "apply", "-q", "--allow-mass-prune", str(hosts_only))


def test_a_60_percent_deletion_is_held_until_allowed(lab: labmod.Lab, repo: Path) -> None:
    _write(repo, _deployment("a", 3), _deployment("b", 3), _deployment("c", 2),
           _deployment("d", 2))  # fmt: skip
    first = _cli(lab, "apply", str(repo))
    assert first.returncode == 0, first.stdout + first.stderr
    before = _on_hosts(lab)
    assert len(before) == 10 and _managed_pods(lab) == 10, before

    _write(repo, _deployment("c", 2), _deployment("d", 2))  # a and b go: 6 of 10 pods
    held = _cli(lab, "apply", str(repo))
    assert held.returncode == 5, held.stdout + held.stderr
    assert ("would delete 6 of 10 managed pods (60%, more than the 50% allowed) of 2 objects "
            "removed from git: Deployment/prune-e2e/a, Deployment/prune-e2e/b") in held.stderr
    assert "--allow-mass-prune" in held.stderr and held.stdout == "", held.stdout
    assert _on_hosts(lab) == before  # the same containers, all running

    dry = _cli(lab, "diff", str(repo))
    assert dry.returncode == 1, dry.stdout + dry.stderr
    assert "apply would be held" in dry.stderr and "6 to delete" in dry.stdout.replace(
        "0 to create, 0 to replace, ", "")  # fmt: skip

    allowed = _cli(lab, "apply", "--allow-mass-prune", str(repo))
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "6 deleted" in allowed.stdout, allowed.stdout
    after = _on_hosts(lab)
    assert sorted(after) == sorted(n for n in before if n.startswith(("c-", "d-")))
    assert all(after[n] == before[n] for n in after)  # the kept pods were not touched


def test_an_empty_revision_is_held_and_the_override_file_lets_it_through(
    lab: labmod.Lab, repo: Path
) -> None:
    _write(repo, _deployment("c", 2), _deployment("d", 2), _pod("solo"))
    done = _cli(lab, "apply", str(repo))
    assert done.returncode == 0, done.stdout + done.stderr
    before = _on_hosts(lab)
    assert len(before) == 5, before

    (repo / "app.yaml").unlink()  # every workload removed, the Hosts kept
    held = _cli(lab, "apply", str(repo))
    assert held.returncode == 5, held.stdout + held.stderr
    assert "would delete 5 of 5 managed pods (every managed pod) of 3 objects" in held.stderr
    assert _on_hosts(lab) == before

    (repo / ".reconciler").mkdir()
    (repo / ".reconciler" / "allow-prune").write_text("")
    done = _cli(lab, "apply", str(repo))
    assert done.returncode == 0, done.stdout + done.stderr
    assert _on_hosts(lab) == {} and _managed_pods(lab) == 0
    shutil.rmtree(repo / ".reconciler")


def test_removing_one_large_deployment_is_never_held(lab: labmod.Lab, repo: Path) -> None:
    _write(repo, _deployment("big", 6), _pod("solo"))
    done = _cli(lab, "apply", str(repo))
    assert done.returncode == 0, done.stdout + done.stderr
    _write(repo, _pod("solo"))  # 6 of 7 pods, one object
    done = _cli(lab, "apply", str(repo))
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(_on_hosts(lab)) == ["solo"]


def test_the_cli_uses_the_daemons_config_file(lab: labmod.Lab, repo: Path,
                                              tmp_path: Path) -> None:  # fmt: skip
    config = tmp_path / "config.yaml"  # as /etc/reconciler/config.yaml of a daemon
    config.write_text(
        f"repository: /srv/git/deploy.git\nbranch: main\nstate_dir: {tmp_path / 'state'}\n"
        f"listen: 127.0.0.1:9400\nresync_interval: 30\nssh_key: {lab.config.key_file}\n"
        f"known_hosts: {lab.config.known_hosts}\nprune_guard_percent: 50\n"
    )
    dropped = ("RECONCILER_SSH_KEY", "RECONCILER_KNOWN_HOSTS")  # the file's settings only
    env = {k: v for k, v in gitdaemon.cli_env(lab).items() if k not in dropped}
    env["RECONCILER_CONFIG"] = str(config)
    listed = _cli(lab, "get", "pods", "-f", str(repo), "-n", NAMESPACE, env=env)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert f"{NAMESPACE}   " in listed.stdout and "unknown setting" not in listed.stderr


def test_a_wrong_host_key_shows_the_offered_and_the_expected_fingerprint(
    lab: labmod.Lab, repo: Path, tmp_path: Path
) -> None:
    h1 = lab.hosts()[0]
    lines = lab.config.known_hosts.read_text().splitlines()
    (real,) = [line for line in lines if line.split()[0] == h1.address]
    offered = asyncssh.import_public_key(" ".join(real.split()[1:3]))
    wrong = asyncssh.generate_private_key("ssh-ed25519")
    known = tmp_path / "known_hosts"
    known.write_text("\n".join(
        f"{h1.address} {wrong.export_public_key().decode().strip()}" if line == real else line
        for line in lines
    ) + "\n")  # fmt: skip
    env = {**gitdaemon.cli_env(lab), "RECONCILER_KNOWN_HOSTS": str(known)}
    listed = _cli(lab, "get", "pods", "-f", str(repo), "-n", NAMESPACE, env=env)
    assert listed.returncode == 4, listed.stdout + listed.stderr
    expected = (
        f"host key verification failed for {h1.user}@{h1.address}:22: it offered ssh-ed25519 "
        f"{offered.get_fingerprint('sha256')}; the known_hosts file {known} expects ssh-ed25519 "
        f"{wrong.get_fingerprint('sha256')}"
    )
    assert expected in listed.stderr, listed.stderr
    assert "not trusted" not in listed.stderr


def test_a_failed_action_is_printed_once(lab: labmod.Lab, repo: Path) -> None:
    missing = _pod("bad").replace(IMAGE, "198.18.0.1:5000/demo/no-such-image:latest")
    _write(repo, _pod("solo"), missing)
    done = _cli(lab, "apply", str(repo))
    assert done.returncode == 4, done.stdout + done.stderr
    failed = [line for line in done.stdout.splitlines() if "prune-e2e/bad ... failed" in line]
    assert len(failed) == 1, done.stdout
    message = failed[0].split("failed (", 1)[1].split("): ", 1)[1]
    combined = done.stdout + done.stderr
    assert combined.count(message) == 1, combined  # not again as a `reconciler:` warning
    assert not [line for line in done.stderr.splitlines() if "prune-e2e/bad" in line]
