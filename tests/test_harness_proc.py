"""The harness stops what it started without leaving it defunct: `proc.stop_pid` reaps a child
it stopped, and one that had already exited (a zombie until collected), and `wait_gone` says
which processes are still in the process table."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from tests.harness import proc


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except OSError:
        return ""  # gone


def test_a_stopped_child_is_reaped_not_left_defunct() -> None:
    child = subprocess.Popen(["sleep", "60"])
    proc.stop_pid(child.pid)
    assert _state(child.pid) == ""


def test_a_child_ignoring_sigterm_is_killed_and_reaped() -> None:
    child = subprocess.Popen(["sh", "-c", "trap '' TERM; exec sleep 60"])
    proc.stop_pid(child.pid, signal.SIGTERM, wait=0.3)
    assert _state(child.pid) == ""


def test_a_child_that_already_exited_is_collected() -> None:
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while _state(child.pid) != "Z" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _state(child.pid) == "Z"  # defunct until its parent (us) collects it
    proc.stop_pid(child.pid)
    assert _state(child.pid) == ""


def test_wait_gone_names_what_is_still_there() -> None:
    child = subprocess.Popen(["sleep", "60"])
    try:
        assert proc.wait_gone([child.pid], timeout=0.1) == [child.pid]
    finally:
        child.kill()
    assert proc.wait_gone([child.pid, 0]) == []
