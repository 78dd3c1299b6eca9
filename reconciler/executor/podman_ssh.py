"""`PodmanSSHExecutor`: the real `HostExecutor`. Rootless Podman on each host, driven with
podman-py through one long-lived, host-key-verified asyncssh connection per host.

Threads: one asyncio loop thread owns the SSH connections; a fan-out pool works on hosts in
parallel (up to 128 at once; at most 16 of them opening a connection at a time); each host has
its own bounded pool for podman calls (`hostsession`). The pod
operations themselves are in `hostops` and `podcreate`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from concurrent.futures import Future
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
    podcreate,
    probing,
    protocol,
    sshconn,
)
from reconciler.model import claims as claimsmod
from reconciler.model import hoststate, loadbalancer
from reconciler.model import metrics as usage

log = logging.getLogger(__name__)

Indexed = tuple[int, hoststate.Action]
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
        self._socket_dir = Path(tempfile.mkdtemp(prefix="reconciler-podman-"))
        self._socket_ids = itertools.count()
        self._sessions: dict[str, hostsession.HostSession] = {}
        self._host_locks: dict[str, threading.Lock] = {}
        self._lb_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._connecting = threading.BoundedSemaphore(max(1, max_parallel_connects))
        self._progress_lock = threading.Lock()
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

    def _host_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._host_locks.setdefault(name, threading.Lock())

    def _check_open(self) -> None:
        if self._closed:
            raise errors.ExecutorError("the executor is closed; make a new one")

    def _session(self, target: hoststate.HostTarget) -> tuple[hostsession.HostSession, bool]:
        """The host's live session (reused) or a new one; True when new. Raises HostError."""
        self._check_open()
        with self._host_lock(target.name):
            session = self._sessions.get(target.name)
            if session is not None and session.alive and session.target == target:
                return session, False
            if session is not None:
                self._drop(target.name)
            local = str(self._socket_dir / f"{next(self._socket_ids)}.sock")
            with self._connecting:  # SSH handshakes are CPU work on both ends: a bounded few
                session = hostsession.HostSession.open(
                    target, self._options, self._runner, local, self._stats
                )
            self._sessions[target.name] = session
            return session, True

    def _drop(self, name: str) -> None:
        session = self._sessions.pop(name, None)
        if session is not None:
            session.close()

    def _live_session(self, target: hoststate.HostTarget) -> hostsession.HostSession:
        """A session that just answered a ping: a reused one that fails is replaced once,
        unless the host simply did not answer (then it is unreachable, no second wait). A ping
        that timed out while other calls on the session were answered meanwhile keeps it (a
        busy host: dropping the session would abort its calls in flight)."""
        session, fresh = self._session(target)
        if fresh:
            return session
        try:
            session.ping()
            return session
        except errors.HostError as exc:
            if not session.broken:  # timed out, but its connection answers other calls
                return session
            with self._host_lock(target.name):
                if self._sessions.get(target.name) is session:
                    self._drop(target.name)
            if isinstance(exc, errors.HostUnreachable) and exc.timed_out:
                raise
        return self._session(target)[0]

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
        session = self._sessions.get(host)
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
        by_name = {target.name: target for target in targets}
        results: list[hoststate.ActionResult | None] = [None] * len(plan.actions)
        for number in sorted({action.wave for action in plan.actions}):  # one wave at a time
            by_host: dict[str, list[Indexed]] = {}
            for index, action in enumerate(plan.actions):
                if action.wave == number:
                    by_host.setdefault(action.host, []).append((index, action))
            jobs = [
                self._fanout.submit(self._apply_host, by_name.get(host), host, actions, progress)
                for host, actions in by_host.items()
            ]
            for job in jobs:
                for index, result in job.result():
                    results[index] = result
        for claim in plan.reclaims:  # after the pods that mounted them are gone
            self._reclaim(by_name.get(claim.host), claim)
        return [r for r in results if r is not None]

    def _reclaim(self, target: hoststate.HostTarget | None, claim: claimsmod.ObservedClaim) -> None:
        """Remove a claim volume whose policy is Delete; a failure is logged (tried again by
        the next plan, which finds the volume still there)."""
        if target is None:
            return
        try:
            message = claimvolumes.remove(self._live_session(target), claim)
        except errors.ExecutorError as exc:
            log.warning("host %s: reclaiming volume %s failed: %s", claim.host, claim.volume, exc)
            return
        log.info("host %s: %s (reclaim policy Delete)", claim.host, message)

    def _report(
        self, progress: protocol.ProgressCallback | None, result: hoststate.ActionResult
    ) -> hoststate.ActionResult:
        # DEBUG only: whoever asked reports each result once (apply's progress line, the
        # daemon's log); a warning here printed every failed action twice.
        a = result.action
        log.debug("%s %s/%s on %s: %s: %s", a.kind, a.namespace, a.name, a.host, result.outcome,
                  result.message)  # fmt: skip
        if progress is not None:
            with self._progress_lock:
                progress(result)
        return result

    def _apply_host(
        self,
        target: hoststate.HostTarget | None,
        host: str,
        actions: Sequence[Indexed],
        progress: protocol.ProgressCallback | None,
    ) -> list[tuple[int, hoststate.ActionResult]]:
        def finish_all(
            outcome: hoststate.Outcome, message: str
        ) -> list[tuple[int, hoststate.ActionResult]]:
            return [
                (i, self._report(progress, hoststate.ActionResult(a, outcome, message)))
                for i, a in actions
            ]

        if target is None:
            return finish_all(
                hoststate.Outcome.FAILED,
                f"no Host named {host!r} among the targets: declare it (kind: Host) "
                "or move its pods",
            )
        try:
            session = self._live_session(target)
        except errors.HostError as exc:
            return finish_all(hoststate.Outcome.SKIPPED, str(exc))
        host_down: list[errors.HostError] = []
        done: list[tuple[int, hoststate.ActionResult]] = []
        pending: list[tuple[int, hoststate.Action, Future[hoststate.ActionResult] | None]] = []
        for i, a in actions:
            try:
                future = session.submit(self._run_action, session, a, host_down, progress)
            except errors.HostError as exc:  # the session was dropped by another call
                host_down.append(exc)
                future = None
            pending.append((i, a, future))
        for i, a, future in pending:
            result = None
            with contextlib.suppress(concurrent.futures.CancelledError):
                result = future.result() if future is not None else None
            if result is None:
                why = str(host_down[0]) if host_down else f"host {host}: connection closed"
                skipped = hoststate.ActionResult(a, hoststate.Outcome.SKIPPED, why)
                result = self._report(progress, skipped)
            done.append((i, result))
        if host_down:
            with self._host_lock(host):
                if self._sessions.get(host) is session:
                    self._drop(host)
        return done

    def _run_action(
        self,
        session: hostsession.HostSession,
        action: hoststate.Action,
        host_down: list[errors.HostError],
        progress: protocol.ProgressCallback | None,
    ) -> hoststate.ActionResult:
        started = time.monotonic()
        if host_down:
            result = hoststate.ActionResult(action, hoststate.Outcome.SKIPPED, str(host_down[0]))
            return self._report(progress, result)
        try:
            message = self._dispatch(session, action)
            outcome = hoststate.Outcome.DONE
        except errors.HostError as exc:
            host_down.append(exc)
            outcome, message = hoststate.Outcome.SKIPPED, str(exc)
        except errors.ExecutorError as exc:
            outcome, message = hoststate.Outcome.FAILED, str(exc)
        seconds = time.monotonic() - started
        return self._report(progress, hoststate.ActionResult(action, outcome, message, seconds))

    @staticmethod
    def _dispatch(session: hostsession.HostSession, action: hoststate.Action) -> str:
        kind = action.kind
        if kind is hoststate.ActionKind.CREATE and action.run is not None:
            return podcreate.create(session, action.run)
        if kind is hoststate.ActionKind.DELETE and action.observed is not None:
            return hostops.delete(session, action.observed)
        if kind is hoststate.ActionKind.REPLACE and action.run and action.observed:
            return podcreate.replace(session, action.run, action.observed)
        if kind is hoststate.ActionKind.RESTART and action.observed and action.container:
            return hostops.restart(session, action.observed, action.container)
        raise errors.PodError(
            action.host,
            f"{action.namespace}/{action.name}",
            f"malformed {kind} action (CREATE needs run, DELETE observed, REPLACE both, "
            "RESTART observed and container)",
        )

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
        with self._lock:
            names = list(self._sessions)
        for name in names:
            with contextlib.suppress(Exception):
                self._drop(name)
        self._runner.stop()
        shutil.rmtree(self._socket_dir, ignore_errors=True)


def _conforms(executor: PodmanSSHExecutor) -> protocol.HostExecutor:
    return executor  # mypy checks that PodmanSSHExecutor implements the protocol
