"""systemd's notification protocol (sd_notify) in a few lines: the daemon says READY=1 after its
first sync, WATCHDOG=1 from the reconcile loop itself (so a stuck loop gets restarted) and
STOPPING=1 on shutdown, as datagrams to $NOTIFY_SOCKET. Without systemd every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def _socket_address() -> str | None:
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return None
    if address.startswith("@"):  # Linux abstract namespace
        return "\0" + address[1:]
    return address


def notify(state: str) -> bool:
    """Send `state` (newline-separated KEY=VALUE lines) to $NOTIFY_SOCKET. False when the
    variable is unset (not run by systemd) or the send failed (logged, never raised)."""
    address = _socket_address()
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode("utf-8"))
    except OSError as exc:
        log.warning("cannot notify systemd at %s: %s", os.environ.get("NOTIFY_SOCKET"), exc)
        return False
    return True


def ready(status_text: str = "") -> bool:
    """The service is up: systemd's `start` returns and dependent units start."""
    return notify("READY=1" + (f"\nSTATUS={_one_line(status_text)}" if status_text else ""))


def stopping() -> bool:
    return notify("STOPPING=1")


def watchdog() -> bool:
    """Alive: call at least every watchdog_interval() seconds, from the reconcile loop."""
    return notify("WATCHDOG=1")


def status(text: str) -> bool:
    """A one-line status shown by `systemctl status` (e.g. "synced abc123, 3 hosts ready")."""
    return notify(f"STATUS={_one_line(text)}")


def watchdog_interval() -> float | None:
    """Seconds between watchdog() calls: half of $WATCHDOG_USEC, as sd_watchdog_enabled(3)
    advises; None when systemd's watchdog is off or meant for another process ($WATCHDOG_PID)."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    if value <= 0:
        return None
    return value / 1_000_000 / 2


def _one_line(text: str) -> str:
    return " ".join(text.split())
