"""The executor's live sessions, one per host: opened on first use (a bounded few SSH handshakes
at a time, each with its own forwarded socket in a private directory), reused while alive,
replaced when broken, and checked with a ping before work (`live`). `podman_ssh` holds one
pool and takes every host's session from it.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import tempfile
import threading
from pathlib import Path

from reconciler.executor import errors, hostsession, loop, protocol
from reconciler.model import hoststate


class SessionPool:
    """See the module docstring. `sessions` maps a host's name to its current session."""

    def __init__(
        self,
        options: hostsession.Options,
        runner: loop.LoopThread,
        stats: protocol.ExecutorStats,
        max_parallel_connects: int,
    ) -> None:
        self._options = options
        self._runner = runner
        self._stats = stats
        self._socket_dir = Path(tempfile.mkdtemp(prefix="reconciler-podman-"))
        self._socket_ids = itertools.count()
        self.sessions: dict[str, hostsession.HostSession] = {}
        self._host_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._connecting = threading.BoundedSemaphore(max(1, max_parallel_connects))

    def host_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._host_locks.setdefault(name, threading.Lock())

    def get(self, target: hoststate.HostTarget) -> tuple[hostsession.HostSession, bool]:
        """The host's live session (reused) or a new one; True when new. Raises HostError."""
        with self.host_lock(target.name):
            session = self.sessions.get(target.name)
            if session is not None and session.alive and session.target == target:
                return session, False
            if session is not None:
                self.drop(target.name)
            local = str(self._socket_dir / f"{next(self._socket_ids)}.sock")
            with self._connecting:  # SSH handshakes are CPU work on both ends: a bounded few
                session = hostsession.HostSession.open(
                    target, self._options, self._runner, local, self._stats
                )
            self.sessions[target.name] = session
            return session, True

    def drop(self, name: str) -> None:
        session = self.sessions.pop(name, None)
        if session is not None:
            session.close()

    def drop_if_current(self, name: str, session: hostsession.HostSession) -> None:
        """Drop `session` unless another call already replaced it."""
        with self.host_lock(name):
            if self.sessions.get(name) is session:
                self.drop(name)

    def live(self, target: hoststate.HostTarget) -> hostsession.HostSession:
        """A session that just answered a ping: a reused one that fails is replaced once,
        unless the host simply did not answer (then it is unreachable, no second wait). A ping
        that timed out while other calls on the session were answered meanwhile keeps it (a
        busy host: dropping the session would abort its calls in flight)."""
        session, fresh = self.get(target)
        if fresh:
            return session
        try:
            session.ping()
            return session
        except errors.HostError as exc:
            if not session.broken:  # timed out, but its connection answers other calls
                return session
            self.drop_if_current(target.name, session)
            if isinstance(exc, errors.HostUnreachable) and exc.timed_out:
                raise
        return self.get(target)[0]

    def close(self) -> None:
        """Close every session (best effort); `remove_sockets` once the loop has stopped."""
        with self._lock:
            names = list(self.sessions)
        for name in names:
            with contextlib.suppress(Exception):
                self.drop(name)

    def remove_sockets(self) -> None:
        shutil.rmtree(self._socket_dir, ignore_errors=True)
