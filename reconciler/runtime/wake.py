"""The daemon's work queue: triggers (push, webhook, poll, resync, ...) wake the reconcile loop;
triggers that arrive while a reconcile runs are coalesced into the next one (one reconcile at a
time, level-triggered: the next reconcile reads the newest revision anyway)."""

from __future__ import annotations

import threading
import time


class Wakeup:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: list[str] = []
        self._closed = False

    def request(self, trigger: str) -> None:
        """Ask for a reconcile (thread-safe; cheap; duplicates are merged)."""
        with self._cond:
            if trigger not in self._pending:
                self._pending.append(trigger)
            self._cond.notify_all()

    def close(self) -> None:
        """Wake the loop for good (shutdown)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        with self._cond:
            return self._closed

    def wait(self, timeout: float) -> list[str]:
        """The triggers pending now, waiting up to `timeout` seconds for one; [] on timeout or
        when closed. Taking them clears them: later requests go to the next reconcile."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._pending and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            taken, self._pending = self._pending, []
            return [] if self._closed else taken
