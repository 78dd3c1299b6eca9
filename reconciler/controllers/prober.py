"""The prober: runs each container's startup, liveness and readiness probes on schedule (in the
reconciler process, through `HostExecutor.probe`) and keeps what Kubernetes derives from them:
readiness, liveness failures (the lifecycle controller restarts the container) and `Unhealthy`
events. The daemon `sync`s it after every observe and `annotate`s observations with readiness.

Kubernetes semantics: a probe first runs `initialDelaySeconds` after the container started,
then every `periodSeconds`; `successThreshold`/`failureThreshold` consecutive results flip its
state; the startup probe gates the other two; without a readiness probe a running (and started)
container is ready. A container is keyed by (host, podman id) and its start time: a replaced or
restarted container starts afresh.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from reconciler.controllers import probestate
from reconciler.executor import idlepool, protocol
from reconciler.model import hoststate

log = logging.getLogger(__name__)

Kind = probestate.Kind
Key = probestate.Key
LivenessCallback = Callable[[str, str, str, str, str, str], None]
"""(host, namespace, pod, container name, podman id, message): restart that container."""
ChangeCallback = Callable[[], None]
MAX_SLEEP = 1.0  # the scheduler looks again at least this often


Job = tuple[Key, int, Kind, probestate.Tracked]


class Prober:
    """See the module docstring. Thread-safe; callbacks run on prober threads, outside its lock."""

    def __init__(
        self,
        executor: protocol.HostExecutor,
        clock: Callable[[], float] = time.monotonic,
        workers: int = 8,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._executor = executor
        self._clock = clock
        self._wall = wall_clock
        self._lock = threading.Lock()
        self._tracked: dict[Key, probestate.Tracked] = {}
        self._pool = idlepool.RetiringPool(max(1, workers), "prober")  # none kept between runs
        self._liveness: list[LivenessCallback] = []
        self._changes: list[ChangeCallback] = []
        self._events: list[probestate.EventCallback] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # ----- callbacks -----------------------------------------------------------------------

    def on_liveness_failure(self, callback: LivenessCallback) -> None:
        self._liveness.append(callback)

    def on_change(self, callback: ChangeCallback) -> None:
        """`callback()` after any container's readiness flips."""
        self._changes.append(callback)

    def on_event(self, callback: probestate.EventCallback) -> None:
        """`callback(event)` for every failed probe run (reason `Unhealthy`)."""
        self._events.append(callback)

    # ----- what exists ---------------------------------------------------------------------

    def sync(
        self,
        observations: Mapping[str, hoststate.HostObservation],
        targets: Mapping[str, hoststate.HostTarget],
    ) -> None:
        """Track the containers observed now; forget the others (an unreachable host's
        containers are kept as they were: unknown, not gone)."""
        changed = False
        now, wall = self._clock(), self._wall()
        with self._lock:
            seen: set[Key] = set()
            for host, observation in observations.items():
                target = targets.get(host)
                if target is None:
                    continue
                if not observation.reachable:
                    seen.update(k for k in self._tracked if k[0] == host)
                    continue
                for pod in observation.pods:
                    for container in pod.containers:
                        key = (host, container.podman_id)
                        seen.add(key)
                        changed |= self._track(key, target, pod, container, (now, wall))
            for key in set(self._tracked) - seen:
                changed |= self._tracked.pop(key).ready
        self._wake.set()
        if changed:
            self._notify_change()

    def _track(
        self,
        key: Key,
        target: hoststate.HostTarget,
        pod: hoststate.ObservedPod,
        container: hoststate.ObservedContainer,
        clocks: tuple[float, float],
    ) -> bool:
        """Start or refresh one container's state; True when its readiness flipped.
        `clocks`: (monotonic, wall) now."""
        now, wall = clocks
        old = self._tracked.get(key)
        was_ready = old.ready if old is not None else False
        fresh = old is None or bool(container.started_at and container.started_at != old.started_at)
        entry = old
        if entry is None or fresh:
            started_wall = probestate.parse_time(container.started_at)
            if started_wall is None:
                started_wall = wall
            started = now - max(0.0, wall - started_wall)
            entry = probestate.Tracked(target, pod, container, started, started_wall)
            entry.generation = old.generation + 1 if old is not None else 0
            self._tracked[key] = entry
        entry.target, entry.pod, entry.container = target, pod, container
        if not entry.running:
            entry.ready = False
        elif Kind.READINESS not in entry.probes and entry.started_ok and not entry.ready:
            entry.ready = True
            entry.ready_since = max(entry.started_wall, wall) if fresh else wall
        return entry.ready != was_ready

    # ----- running probes ------------------------------------------------------------------

    def _due(self) -> tuple[list[Job], float]:
        """Claim the probes due now; also the delay until the next one is due."""
        now = self._clock()
        jobs: list[Job] = []
        wait = MAX_SLEEP
        with self._lock:
            for key, entry in self._tracked.items():
                for kind, state in entry.probes.items():
                    if state.running or not entry.active(kind):
                        continue
                    if state.due <= now:
                        state.running = True
                        state.due = now + state.item.probe.period_seconds
                        jobs.append((key, entry.generation, kind, entry))
                    wait = min(wait, max(0.0, state.due - now))
        return jobs, wait

    def _run(self, job: Job) -> None:
        key, generation, kind, entry = job
        item = entry.probes[kind].item
        try:
            result = self._executor.probe(entry.target, entry.pod, entry.container, item)
        except Exception as exc:  # the executor promises not to raise; stay alive if it does
            log.exception("probe %s of %s on %s raised", kind, key[1], key[0])
            result = hoststate.ProbeResult(False, f"probe error: {exc}")
        self._record(key, generation, kind, result)

    def step(self) -> int:
        """Run every probe due now and wait for them (tests drive the prober with it and a
        fake clock); returns how many ran."""
        jobs, _ = self._due()
        for future in [self._pool.submit(self._run, job) for job in jobs]:
            future.result()
        return len(jobs)

    def _record(self, key: Key, generation: int, kind: Kind, result: hoststate.ProbeResult) -> None:
        clocks = (self._clock(), self._wall())
        with self._lock:
            entry = self._tracked.get(key)
            if entry is None or entry.generation != generation:
                return  # the container went away or was restarted meanwhile
            event, restart, flipped = entry.record(key, kind, result, clocks)
        if result.ok:
            log.debug("%s probe of %s passed: %s", kind, key[1][:12], result.message)
        self._fire([event] if event else [], [restart] if restart else [], flipped)

    def _fire(
        self,
        events: list[probestate.ProbeEvent],
        restarts: list[probestate.Restart],
        flipped: bool,
    ) -> None:
        for event in events:
            log.info("%s/%s %s on %s: %s", event.namespace, event.pod, event.container,
                     event.host, event.message)  # fmt: skip
            for on_event in self._events:
                self._safely(on_event, event)
        for args in restarts:
            for on_failure in self._liveness:
                self._safely(on_failure, *args)
        if flipped:
            self._notify_change()

    def _notify_change(self) -> None:
        for callback in self._changes:
            self._safely(callback)

    @staticmethod
    def _safely(callback: Callable[..., None], *args: object) -> None:
        try:
            callback(*args)
        except Exception:
            log.exception("prober callback %r failed", callback)

    # ----- the background thread -----------------------------------------------------------

    def start(self) -> None:
        """Run due probes in a background thread until `stop()`."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._main, name="prober", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        while not self._stopping.is_set():
            jobs, wait = self._due()
            for job in jobs:
                try:
                    self._pool.submit(self._run, job)
                except RuntimeError:  # the pool was shut down: stopping
                    return
            self._wake.wait(wait if not jobs else min(wait, 0.05))
            self._wake.clear()

    def stop(self) -> None:
        """Stop the thread and the workers (a probe under way ends within its timeout)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ----- queries ---------------------------------------------------------------------------

    def ready(self, host: str, podman_id: str) -> bool | None:
        """Whether the container is ready; None when the prober does not know it."""
        with self._lock:
            entry = self._tracked.get((host, podman_id))
            return None if entry is None else entry.ready

    def ready_since(self, host: str, podman_id: str) -> float:
        """Epoch seconds the container has been ready since; 0.0 when not ready."""
        with self._lock:
            entry = self._tracked.get((host, podman_id))
            return entry.ready_since if entry is not None and entry.ready else 0.0

    def last_results(
        self, host: str, podman_id: str
    ) -> list[tuple[hoststate.ProbeKind, hoststate.ProbeResult, float]]:
        """The container's latest probe results, oldest first: (kind, result, epoch seconds)."""
        with self._lock:
            entry = self._tracked.get((host, podman_id))
            return list(entry.results) if entry is not None else []

    def annotate(
        self, observations: Mapping[str, hoststate.HostObservation]
    ) -> dict[str, hoststate.HostObservation]:
        """Copies of `observations` with each container's and pod's readiness filled in (pod
        ready: every container ready; ready since: the latest container's)."""
        with self._lock:
            return {
                host: probestate.annotated(seen, self._tracked)
                for host, seen in observations.items()
            }

    def probe_once(
        self,
        observations: Mapping[str, hoststate.HostObservation],
        targets: Mapping[str, hoststate.HostTarget],
    ) -> dict[str, hoststate.HostObservation]:
        """Run every startup and readiness probe once now (containers in parallel; a probe
        still in its initial delay counts as not passed) and `annotate`: the one-shot CLI's
        READY column. One pass is enough to be ready here (no success threshold)."""
        self.sync(observations, targets)
        with self._lock:
            entries = list(self._tracked.items())
        futures = [self._pool.submit(self._once, key, entry) for key, entry in entries]
        for future in futures:
            future.result()
        return self.annotate(observations)

    def _once(self, key: Key, entry: probestate.Tracked) -> None:
        now, wall = self._clock(), self._wall()
        if not entry.running:
            return
        passed: dict[Kind, bool] = {}
        for kind in (Kind.STARTUP, Kind.READINESS):
            state = entry.probes.get(kind)
            if state is None or (kind is Kind.STARTUP and entry.started_ok):
                continue
            if kind is Kind.READINESS and not (entry.started_ok or passed.get(Kind.STARTUP)):
                passed[kind] = False
                continue
            if state.first > now:  # still in its initial delay (`due` moves with each run)
                passed[kind] = False
                continue
            result = self._executor.probe(entry.target, entry.pod, entry.container, state.item)
            with self._lock:
                entry.results.append((kind, result, self._wall()))
            passed[kind] = result.ok
        with self._lock:
            if self._tracked.get(key) is not entry:
                return
            if passed.get(Kind.STARTUP):
                entry.started_ok = True
            if entry.started_ok and passed.get(Kind.READINESS, Kind.READINESS not in entry.probes):
                if not entry.ready:
                    entry.ready, entry.ready_since = True, wall
            elif Kind.READINESS in entry.probes or not entry.started_ok:
                entry.ready = False
