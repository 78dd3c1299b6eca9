"""`scripts/testhosts down` leaves nothing defunct: an isolated lab made by one process (as
`scripts/testhosts up` does: its registry, sshd and Podman service outlive it) with a container
and a pod running is removed by another process, and right after, no process of the host's user
and not the registry is left in the process table, running or defunct (zombie)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
SCRIPT = """
import sys
from pathlib import Path
from tests.harness import lab as labmod
lab = labmod.Lab(labmod.LabConfig(name="down12", state_dir=Path(sys.argv[2]), bridge="thbr12",
                                  subnet=12, netns_prefix="d12-", user_prefix="rcd12-"))
if sys.argv[1] == "up":
    host = lab.up(1)[0]
    lab.ssh(host, "podman", "run", "-d", "--name", "c", lab.config.image, "sleep", "600")
    lab.ssh(host, "podman", "pod", "create", "--name", "p")
    lab.ssh(host, "podman", "run", "-d", "--pod", "p", "--name", "pc", lab.config.image,
            "sleep", "600")
    print(host.uid, lab.load_state().registry_pid)
else:
    lab.down()
"""


def _run(*args: str) -> str:
    done = subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True,
                          cwd=labmod.REPO, timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _processes_of(uid: int, pids: set[int]) -> list[str]:
    """Processes (running or defunct) of `uid` or with one of `pids`: `pid state comm`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            owner = entry.stat().st_uid
        except OSError:
            continue
        comm, rest = stat.split(" (", 1)[1].rsplit(") ", 1)
        if owner == uid or int(entry.name) in pids:
            found.append(f"{entry.name} {rest.split()[0]} {comm}")
    return found


def test_down_from_another_process_leaves_no_defunct_process(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to build test hosts")
    state = tmp_path / "lab"
    try:
        uid, registry = (int(v) for v in _run("up", str(state)).split())
        assert _processes_of(uid, {registry}), "nothing ran: the test would prove nothing"
    finally:
        _run("down", str(state))
    assert _processes_of(uid, {registry}) == []
