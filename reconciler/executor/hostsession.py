"""Everything the executor keeps per host between calls: the SSH connection (on the loop
thread), podman-py's client on the forwarded socket, and a bounded worker pool for that host
(its threads exit when idle: `idlepool`).

`podman_ssh.PodmanSSHExecutor` opens one session per host and reuses it; `hostops` runs the
pod operations with it. A session that lost its connection is `broken` and gets replaced.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import requests

from reconciler.executor import errors, idlepool, loop, podmanapi, protocol, sshconn
from reconciler.model import hoststate

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
READ_WORKERS = 2  # listings beside the pod work: a pod list and a volume list at once
IMAGE_SEEN_FOR = 30.0
"""Seconds an image found on the host counts as present without asking Podman again, so the
pods of one pass share one check. An image removed meanwhile fails its container's create (the
pod is rolled back) and the next pass asks again."""


@dataclass(frozen=True)
class Options:
    """Tuning of the real executor (the SSH part is in `ssh`)."""

    ssh: sshconn.SSHSettings
    pull_timeout: float = 600.0
    stop_timeout: int = 10  # seconds podman waits after SIGTERM before SIGKILL
    host_concurrency: int = 8  # concurrent podman calls per host (sshd MaxSessions is 10)


class HostSession:
    """One host's connection, API client and worker pool; see the module docstring."""

    def __init__(
        self,
        target: hoststate.HostTarget,
        options: Options,
        runner: loop.LoopThread,
        connection: sshconn.HostConnection,
        stats: protocol.ExecutorStats,
    ) -> None:
        self.target = target
        self.options = options
        self.stats = stats
        self._runner = runner
        self.connection = connection
        self.broken = False
        self._warned: set[str] = set()
        self._images: dict[str, float] = {}  # image -> time.monotonic() it was last seen present
        self._images_lock = threading.Lock()
        self._image_checks: dict[str, threading.Lock] = {}  # image -> held while asking Podman
        self.api = podmanapi.PodmanAPI(
            target.name,
            connection.local_socket,
            stats,
            transport_error=self._transport_error,
            timeout=options.ssh.command_timeout,
            pull_timeout=options.pull_timeout,
            ping_timeout=options.ssh.connect_timeout,
            pool_size=options.host_concurrency,
        )
        self.pool = idlepool.RetiringPool(options.host_concurrency, f"podman-{target.name}")
        self.reads = idlepool.RetiringPool(READ_WORKERS, f"podman-read-{target.name}")

    @classmethod
    def open(
        cls,
        target: hoststate.HostTarget,
        options: Options,
        runner: loop.LoopThread,
        local_socket: str,
        stats: protocol.ExecutorStats,
    ) -> HostSession:
        """Connect and check that Podman's API answers (raises a `HostError` otherwise)."""
        connection = runner.run(sshconn.HostConnection.open(target, options.ssh, local_socket))
        session = cls(target, options, runner, connection, stats)
        try:
            session.ping()
        except BaseException:
            session.close()
            raise
        return session

    @property
    def alive(self) -> bool:
        return not self.broken and not self.connection.closed

    def ping(self) -> None:
        """One round trip to Podman's `/_ping` on this connection (within connect_timeout).
        Raises a `HostError`; one that timed out while other calls here answered leaves the
        session usable (`broken` stays False): the host is busy, not lost."""
        self.api.ping()

    def answered_within(self, seconds: float) -> bool:
        """Podman answered a call on this connection in the last `seconds`."""
        age = self.api.answer_age()
        return self.alive and age is not None and age <= seconds

    def _transport_error(
        self, operation: str, exc: BaseException, started: float
    ) -> errors.HostError:
        """A podman call (begun at `started`, time.monotonic()) failed below HTTP: a dead host,
        a lost connection or a dead service. A call that only timed out while other calls on
        the same connection were answered meanwhile does not break the session: dropping it
        would abort every call in flight on a host that is merely busy."""
        address = f"{self.target.user}@{self.target.address}:{self.target.port}"
        if (isinstance(exc, requests.Timeout) and not self.connection.closed
                and self.api.answered_since(started)):  # fmt: skip
            return errors.HostUnreachable(
                self.target.name, address,
                f"{operation}: no answer in time, though other calls on its connection were "
                "answered meanwhile (a busy host)", timed_out=True,
            )  # fmt: skip
        self.broken = True
        if isinstance(exc, requests.Timeout):
            return errors.HostUnreachable(
                self.target.name, address, f"{operation}: no answer in time", timed_out=True
            )
        if self.connection.closed:
            return errors.HostUnreachable(
                self.target.name, address, f"SSH connection lost during {operation}"
            )
        return errors.PodmanUnavailable(
            self.target.name, self.target.user, self.connection.remote_socket, f"{operation}: {exc}"
        )

    def warn_once(self, warning: str) -> None:
        """Log a podman warning (e.g. limits ignored on cgroup v1 rootless) once per session."""
        if warning not in self._warned:
            self._warned.add(warning)
            log.warning("host %s: podman: %s", self.target.name, warning)

    def image_present(self, image: str) -> bool:
        """Whether `image` is on the host: asked of Podman at most once per `IMAGE_SEEN_FOR`
        once found (raises OperationFailed as `PodmanAPI.image_exists`)."""
        with self._images_lock:  # one check per image at a time: the others wait for it
            asking = self._image_checks.setdefault(image, threading.Lock())
        with asking:
            with self._images_lock:
                seen = self._images.get(image)
            if seen is not None and time.monotonic() - seen < IMAGE_SEEN_FOR:
                return True
            present = self.api.image_exists(image)
            if present:
                self.image_seen(image)
            return present

    def image_seen(self, image: str) -> None:
        """`image` is on the host now (found, or just pulled)."""
        with self._images_lock:
            self._images[image] = time.monotonic()

    # ----- files (SFTP, on the loop) -------------------------------------------------------

    def write_files(self, files: Sequence[hoststate.HostFile]) -> None:
        if files:
            written = self._runner.run(self.connection.write_files(files))
            self.stats.count(protocol.Mutation.FILE_WRITE, written)

    def remove_dirs(self, dirs: Sequence[str]) -> None:
        if dirs:
            removed = self._runner.run(self.connection.remove_dirs(dirs))
            self.stats.count(protocol.Mutation.DIR_REMOVE, removed)

    def realpath(self, path: str) -> str | None:
        return self._runner.run(self.connection.realpath(path))

    def make_subpath(self, base: str, relative: str, mode: int | None) -> str:
        """A volume's subPath made below its mount point `base` (`subpathdirs.make`)."""
        return self._runner.run(self.connection.make_subpath(base, relative, mode))

    def run_async(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the connection's loop (a hook's httpGet through the SSH
        connection); it bounds its own time."""
        return self._runner.run(coroutine)

    # ----- parallel calls ----------------------------------------------------------------------

    def submit(self, fn: Callable[..., R], *args: object) -> concurrent.futures.Future[R]:
        """Run `fn(*args)` on this host's pool (bounded); HostUnreachable once closed."""
        return self._submit(self.pool, fn, *args)

    def submit_read(self, fn: Callable[..., R], *args: object) -> concurrent.futures.Future[R]:
        """Run a quick read (a listing) on the host's own small read pool: never queued behind
        the pod work that fills `pool` (twenty creates on a host must not make its health check
        miss its deadline and the host look lost)."""
        return self._submit(self.reads, fn, *args)

    def _submit(
        self, pool: idlepool.RetiringPool, fn: Callable[..., R], *args: object
    ) -> concurrent.futures.Future[R]:
        try:
            return pool.submit(fn, *args)
        except RuntimeError as exc:  # the pool was shut down: the session was dropped
            address = f"{self.target.user}@{self.target.address}:{self.target.port}"
            raise errors.HostUnreachable(
                self.target.name, address, "the connection was closed meanwhile"
            ) from exc

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """`fn` over `items` on this host's pool; results in order, the first error raised."""
        futures = [self.submit(fn, item) for item in items]
        return [future.result() for future in futures]

    def close(self) -> None:
        graceful = not self.broken
        self.broken = True
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.reads.shutdown(wait=False, cancel_futures=True)
        self.api.close()
        with contextlib.suppress(Exception):
            self._runner.run(self.connection.close(graceful=graceful))
        with contextlib.suppress(OSError):
            os.unlink(self.connection.local_socket)
