"""Process and network helpers of the test harness: run commands without a shell, wait for
ports, stop processes by PID. Errors are HarnessError, one line that says what to do."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

SBIN_DIRS = ("/usr/sbin", "/sbin", "/usr/libexec/podman", "/usr/bin")


class HarnessError(Exception):
    """A one-line error that says what to do; the CLI prints it without a traceback."""


class UsageError(HarnessError):
    """The request itself is wrong (exit code 2)."""


def which(binary: str) -> str | None:
    found = shutil.which(binary)
    if found:
        return found
    for directory in SBIN_DIRS:
        candidate = Path(directory) / binary
        if candidate.exists():
            return str(candidate)
    return None


def run(
    cmd: Sequence[str], *, check: bool = True, timeout: float = 120, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command (never through a shell); on failure raise HarnessError with its stderr."""
    try:
        result = subprocess.run(
            list(cmd),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            input=input_text,
        )
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(f"`{' '.join(cmd)}` timed out after {timeout:.0f}s") from exc
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise HarnessError(
            f"`{' '.join(cmd)}` failed: {detail[-1] if detail else result.returncode}"
        )
    return result


def read_pid(pid_file: Path) -> int:
    """The PID in the file, or 0 while it is missing or not written yet (sshd writes it in
    two steps: a reader can see it empty)."""
    try:
        return int(pid_file.read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        if stat.read_text().split(") ", 1)[1].startswith("Z"):
            return False
    return True


GONE_WAIT = 10.0
"""Seconds `wait_gone` waits for a stopped process to leave the process table: reaped by us
when it is our child, else by its parent (init reaps an orphan, some inits only after a while)."""


def _reap(pid: int) -> None:
    """Collect `pid` if it is an exited child of this process (else it stays defunct)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def wait_gone(pids: Sequence[int], timeout: float = GONE_WAIT) -> list[int]:
    """Wait until each of `pids` (stopped or killed) is gone from /proc, reaping those that are
    our children, so that nothing defunct is left behind; the PIDs still there at `timeout`."""
    deadline = time.monotonic() + timeout
    left = [pid for pid in pids if pid > 0]
    while True:
        for pid in left:
            _reap(pid)
        left = [pid for pid in left if Path(f"/proc/{pid}").exists()]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


def stop_pid(pid: int, sig: signal.Signals = signal.SIGTERM, wait: float = 5.0) -> None:
    """Stop one process we started, by PID: SIGTERM, then SIGKILL after `wait` seconds; then
    wait until it is reaped (`wait_gone`), so that `down` leaves no defunct process."""
    if pid <= 0:
        return
    _reap(pid)  # an exited child of ours stays defunct until collected
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while pid_alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.05)
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    wait_gone([pid])


def port_open(address: str, port: int, timeout: float = 0.3) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=timeout):
        return True
    return False


T = TypeVar("T")


def wait_for(predicate: Callable[[], T], what: str, timeout: float = 20.0,
                step: float = 0.05) -> T:  # fmt: skip
    """Poll `predicate` every `step` seconds until it returns something true; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise HarnessError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(step)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_file(path: Path, text: str, mode: int = 0o644, owner_uid: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    if owner_uid is not None:
        os.chown(path, owner_uid, owner_uid)
