"""`PodmanSSHExecutor`: the real `HostExecutor`. Rootless Podman on each host, driven with
podman-py through one long-lived, host-key-verified asyncssh connection per host.

Threads: one asyncio loop thread owns the SSH connections; a fan-out pool works on hosts in
parallel (up to 128 at once; at most 16 of them opening a connection at a time); each host has
its own bounded pool for podman calls (`hostsession`; one live session per host, `sessionpool`).
A plan is applied by `planrun`; the pod operations themselves are in `hostops` and `podcreate`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from reconciler.executor import (
    claimvolumes,
    errors,
    exitwatch,
    haproxy_supervisor,
    hostmetrics,
    hostops,
    hostsession,
    idlepool,
    loop,
    planrun,
    probing,
    protocol,
    sessionpool,
    sshconn,
)
from reconciler.model import hoststate, loadbalancer
from reconciler.model import metrics as usage

log = logging.getLogger(__name__)

FRESH_ANSWER = 1.0
"""A host whose Podman answered within this many seconds needs no health-check ping (`ping`).
A session taken for work (`_live_session`) is always pinged first: a host cut off a moment
after its last answer is then found within connect_timeout, not after a call's own timeout."""


class PodmanSSHExecutor:
    """See the module docstring; construct once, reuse for every reconcile, `close()` at exit."""

    def __init__(
        self,
        known_hosts: Path,
        key_file: Path,
        *,
        connect_timeout: float = 10.0,
        command_timeout: float = 60.0,
        pull_timeout: float = 600.0,
        stop_timeout: int = 10,
        host_concurrency: int = 8,
        max_parallel_hosts: int = 128,
        max_parallel_connects: int = 16,
        podman_socket: str = sshconn.DEFAULT_PODMAN_SOCKET,
    ) -> None:
        settings = sshconn.SSHSettings(
            known_hosts=Path(known_hosts),
            key_file=Path(key_file),
            connect_timeout=connect_timeout,
            command_timeout=command_timeout,
            keepalive_interval=max(1.0, connect_timeout),
            podman_socket=podman_socket,
        )
        settings.check()
        self._options = hostsession.Options(
            ssh=settings,
            pull_timeout=pull_timeout,
            stop_timeout=stop_timeout,
            host_concurrency=max(1, host_concurrency),
        )
        self._stats = protocol.ExecutorStats()
        self._runner = loop.LoopThread()
        self._fanout = idlepool.RetiringPool(max(1, max_parallel_hosts), "executor-host")
        self._hosts = sessionpool.SessionPool(
            self._options, self._runner, self._stats, max_parallel_connects
        )
        self._lb_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._exits = exitwatch.ExitWatcher(self._exit_socket, connect_timeout)
        self._metrics = hostmetrics.Collector(self._runner)

    @property
    def stats(self) -> protocol.ExecutorStats:
        return self._stats

    def __enter__(self) -> PodmanSSHExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----- sessions ------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise errors.ExecutorError("the executor is closed; make a new one")

    def _session(self, target: hoststate.HostTarget) -> tuple[hostsession.HostSession, bool]:
        """The host's session from the pool (True when new). Raises HostError."""
        self._check_open()
        return self._hosts.get(target)

    def _live_session(self, target: hoststate.HostTarget) -> hostsession.HostSession:
        """The host's session, pinged first (`SessionPool.live`). Raises HostError."""
        self._check_open()
        return self._hosts.live(target)

    # ----- health --------------------------------------------------------------------------

    def ping(self, target: hoststate.HostTarget) -> str | None:
        """None when the host's Podman API answers: one `/_ping` on its open connection (the
        connection is opened first when there is none), or none at all when another call
        there was answered within FRESH_ANSWER seconds or while the ping waited."""
        try:
            self._check_open()
            session, fresh = self._session(target)
            if fresh or session.answered_within(FRESH_ANSWER):
                return None
            try:
                session.ping()
            except errors.HostError as exc:
                if not session.broken:  # timed out while other calls there were answered
                    log.debug("ping: %s", exc)
                    return None
                raise
        except errors.ExecutorError as exc:
            return str(exc)
        except RuntimeError as exc:  # a pool or the loop was shut down by close()
            return f"host {target.name}: executor closed: {exc}"
        return None

    def answer_age(self, host: str) -> float | None:
        """Seconds since Podman last answered any call on `host`'s live connection."""
        session = self._hosts.sessions.get(host)
        if session is None or not session.alive:
            return None
        return session.api.answer_age()

    # ----- observe -------------------------------------------------------------------------

    def observe(
        self, targets: Iterable[hoststate.HostTarget], *, detail: bool = False
    ) -> dict[str, hoststate.HostObservation]:
        self._check_open()
        wanted = list(targets)
        found = self._fanout.map(lambda target: self._observe_host(target, detail), wanted)
        return {target.name: observation for target, observation in zip(wanted, found, strict=True)}

    def _observe_host(
        self, target: hoststate.HostTarget, detail: bool
    ) -> hoststate.HostObservation:
        started = time.monotonic()
        try:
            session = self._live_session(target)
            listing = session.submit_read(claimvolumes.observe, session)
            pods = hostops.observe(session, detail=detail)
            claims = listing.result()
        except errors.HostError as exc:
            log.info("observe: %s", exc)  # in the observation: the caller reports it
            empty = isinstance(exc, errors.PodmanMissing)  # it answered: nothing can run there
            return hoststate.HostObservation(target.name, reachable=False, error=str(exc),
                                             empty=empty)  # fmt: skip
        log.debug(
            "observe %s: %d pods in %.3fs", target.name, len(pods), time.monotonic() - started
        )
        return hoststate.HostObservation(target.name, reachable=True, pods=pods, claims=claims)

    def events(
        self, target: hoststate.HostTarget, pod: hoststate.ObservedPod, since_seconds: int
    ) -> list[hoststate.PodEvent]:
        self._check_open()
        return hostops.events(self._live_session(target), pod, since_seconds)

    def metrics(self, targets: Iterable[hoststate.HostTarget]) -> dict[str, usage.HostMetrics]:
        self._check_open()
        wanted = list(targets)
        found = self._fanout.map(self._metrics_host, wanted)
        return {target.name: sample for target, sample in zip(wanted, found, strict=True)}

    def _metrics_host(self, target: hoststate.HostTarget) -> usage.HostMetrics:
        try:
            return self._metrics.sample(self._live_session(target))
        except errors.ExecutorError as exc:
            log.info("metrics: %s", exc)
            return usage.HostMetrics(target.name, False, error=str(exc))

    # ----- apply ---------------------------------------------------------------------------

    def apply(
        self,
        plan: hoststate.Plan,
        targets: Iterable[hoststate.HostTarget],
        progress: protocol.ProgressCallback | None = None,
    ) -> list[hoststate.ActionResult]:
        self._check_open()
        return planrun.apply(self._hosts, self._fanout, plan, targets, progress)

    # ----- probes and exits (filled in by the probes / lifecycle work) ---------------------

    def probe(
        self,
        target: hoststate.HostTarget,
        pod: hoststate.ObservedPod,
        container: hoststate.ObservedContainer,
        probe: hoststate.ContainerProbe,
    ) -> hoststate.ProbeResult:
        try:
            self._check_open()
            session = self._session(target)[0]  # no ping: a probe is cheap or it fails
            return probing.run(session, self._runner, pod, container, probe)
        except errors.ExecutorError as exc:
            return hoststate.ProbeResult(False, str(exc))
        except RuntimeError as exc:  # the loop or a pool was shut down by close()
            return hoststate.ProbeResult(False, f"executor closed: {exc}")

    def watch_exits(
        self, targets: Iterable[hoststate.HostTarget], on_exit: protocol.ExitCallback
    ) -> None:
        self._check_open()
        self._exits.watch(targets, on_exit)

    @property
    def exit_watcher(self) -> exitwatch.ExitWatcher:
        return self._exits

    def api_socket(self, target: hoststate.HostTarget) -> str:
        """The local path forwarded to the host's Podman API (its live SSH session's), for the
        streaming calls of `containerlogs` and `containerexec`. Raises a `HostError`."""
        self._check_open()
        return self._live_session(target).connection.local_socket

    def _exit_socket(self, target: hoststate.HostTarget) -> str:
        """The local socket of the host's live session, for its exit stream."""
        return self._live_session(target).connection.local_socket

    # ----- load balancer (haproxy_supervisor) -----------------------------------------------

    def lb_apply(
        self,
        targets: Sequence[hoststate.HostTarget],
        configs: Mapping[str, loadbalancer.Config],
    ) -> dict[str, loadbalancer.Status]:
        self._check_open()
        empty = loadbalancer.Config()

        def one(target: hoststate.HostTarget) -> loadbalancer.Status:
            config = configs.get(target.name, empty)
            return self._lb_host(target, lambda ctx: haproxy_supervisor.apply(ctx, config))

        wanted = list(targets)
        found = self._fanout.map(one, wanted)
        return {t.name: status for t, status in zip(wanted, found, strict=True)}

    def lb_status(
        self, targets: Sequence[hoststate.HostTarget]
    ) -> dict[str, loadbalancer.Status]:
        self._check_open()
        wanted = list(targets)
        found = self._fanout.map(lambda t: self._lb_host(t, haproxy_supervisor.status), wanted)
        return {t.name: status for t, status in zip(wanted, found, strict=True)}

    def _lb_host(
        self,
        target: hoststate.HostTarget,
        work: Callable[[haproxy_supervisor.Context], Coroutine[Any, Any, loadbalancer.Status]],
    ) -> loadbalancer.Status:
        """`work` on the host's load balancer, one call per host at a time; never raises."""
        with self._lock:
            lock = self._lb_locks.setdefault(target.name, threading.Lock())
        try:
            session = self._live_session(target)
            with lock:
                try:
                    ctx = haproxy_supervisor.Context(session.connection, self._stats)
                    return self._runner.run(work(ctx))
                except errors.HostError:
                    session.broken = True  # replaced on the next call
                    raise
        except errors.ExecutorError as exc:
            log.info("load balancer: %s", exc)
            return loadbalancer.Status(target.name, running=False, error=str(exc))

    # ----- close ---------------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._exits.close()
        self._fanout.shutdown(wait=True, cancel_futures=True)
        self._hosts.close()
        self._runner.stop()
        self._hosts.remove_sockets()


def _conforms(executor: PodmanSSHExecutor) -> protocol.HostExecutor:
    return executor  # mypy checks that PodmanSSHExecutor implements the protocol
