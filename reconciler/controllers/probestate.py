"""The probe state of one container, as Kubernetes keeps it: each probe's schedule and its
consecutive successes and failures against `successThreshold`/`failureThreshold`, whether the
startup probe passed, readiness and the latest results. `controllers.prober` runs the probes and
keeps one `Tracked` per container under its lock; this module holds no lock and does no I/O.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from reconciler.executor import observed as observedmod
from reconciler.model import hoststate, timestamps

Kind = hoststate.ProbeKind
Key = tuple[str, str]  # (host, podman container id)
Restart = tuple[str, str, str, str, str, str]
"""(host, namespace, pod, container name, podman id, message): a container to restart."""

RESULTS_KEPT = 10  # per container, for describe


@dataclass(frozen=True)
class ProbeEvent:
    """A Kubernetes-style event about a probe (`Unhealthy`: a probe failed)."""

    time: float  # seconds since the epoch
    host: str
    namespace: str
    pod: str
    container: str
    podman_id: str
    kind: hoststate.ProbeKind
    message: str  # e.g. "Readiness probe failed: HTTP 503"
    reason: str = "Unhealthy"


EventCallback = Callable[[ProbeEvent], None]


def parse_time(value: str) -> float | None:
    """Epoch seconds of a container's start time as Podman writes it; None if not a time."""
    return timestamps.epoch(value) if value else None


class Probe:
    """The schedule and counters of one probe of one container."""

    __slots__ = ("due", "failures", "first", "item", "running", "successes")

    def __init__(self, item: hoststate.ContainerProbe, due: float) -> None:
        self.item = item
        self.due = due
        self.first = due  # the end of its initial delay
        self.successes = 0
        self.failures = 0
        self.running = False


class Tracked:
    """What the prober knows of one container (mutable; guarded by the prober's lock)."""

    def __init__(
        self,
        target: hoststate.HostTarget,
        pod: hoststate.ObservedPod,
        container: hoststate.ObservedContainer,
        started: float,
        started_wall: float,
    ) -> None:
        self.target = target
        self.pod = pod
        self.container = container
        self.started_at = container.started_at
        self.started_wall = started_wall
        self.generation = 0
        delay = {p.kind: p.probe.initial_delay_seconds for p in container.probes}
        self.probes = {p.kind: Probe(p, started + delay[p.kind]) for p in container.probes}
        self.started_ok = Kind.STARTUP not in self.probes
        self.ready = False
        self.ready_since = 0.0
        self.results: collections.deque[tuple[Kind, hoststate.ProbeResult, float]] = (
            collections.deque(maxlen=RESULTS_KEPT)
        )

    @property
    def running(self) -> bool:
        return self.container.state in observedmod.RUNNING_STATES

    def active(self, kind: Kind) -> bool:
        """Whether `kind` runs now: the startup probe until it passed, the others after."""
        if not self.running or kind not in self.probes:
            return False
        return not self.started_ok if kind is Kind.STARTUP else self.started_ok

    def record(
        self, key: Key, kind: Kind, result: hoststate.ProbeResult, clocks: tuple[float, float]
    ) -> tuple[ProbeEvent | None, Restart | None, bool]:
        """Count one result of probe `kind` (Kubernetes' thresholds); `clocks`: (monotonic,
        wall) now. Returns the `Unhealthy` event of a failure, the container to restart (liveness,
        or a startup probe that never passed) and whether readiness flipped."""
        now, wall = clocks
        state = self.probes[kind]
        state.running = False
        self.results.append((kind, result, wall))
        was_ready = self.ready
        if result.ok:
            state.successes, state.failures = state.successes + 1, 0
        else:
            state.successes, state.failures = 0, state.failures + 1
        probe = state.item.probe
        c, pod = self.container, self.pod
        failed = f"{kind.value.capitalize()} probe failed: {result.message}"
        event = None
        if not result.ok:
            event = ProbeEvent(wall, key[0], pod.namespace, pod.name, c.name, c.podman_id, kind,
                               failed)  # fmt: skip
        restart: Restart | None = None
        if result.ok and state.successes >= probe.success_threshold:
            if kind is Kind.STARTUP and not self.started_ok:
                self.started_ok = True
                for other in self.probes.values():
                    other.due = max(other.due, now)
                if Kind.READINESS not in self.probes:
                    self.ready, self.ready_since = True, wall
            elif kind is Kind.READINESS and not self.ready:
                self.ready, self.ready_since = True, wall
        elif not result.ok and state.failures >= probe.failure_threshold:
            state.failures = 0
            self.ready = False
            if kind is not Kind.READINESS:  # liveness, or startup never passing: restart it
                restart = (key[0], pod.namespace, pod.name, c.name, c.podman_id, failed)
        return event, restart, self.ready != was_ready


def annotated(
    seen: hoststate.HostObservation, tracked: Mapping[Key, Tracked]
) -> hoststate.HostObservation:
    """A copy of `seen` with each container's and pod's readiness filled in from `tracked` (pod
    ready: every container ready; ready since: the latest container's)."""
    pods = []
    for pod in seen.pods:
        containers = []
        since = 0.0
        for c in pod.containers:
            entry = tracked.get((seen.host, c.podman_id))
            ready = None if entry is None else entry.ready
            if entry is not None and entry.ready:
                since = max(since, entry.ready_since)
            containers.append(dataclasses.replace(c, ready=ready))
        states = [c.ready for c in containers]
        pod_ready: bool | None = None
        if states and all(states):
            pod_ready = True
        elif False in states or not states:
            pod_ready = False
        pods.append(dataclasses.replace(pod, containers=tuple(containers), ready=pod_ready,
                                        ready_since=since if pod_ready else 0.0))  # fmt: skip
    return dataclasses.replace(seen, pods=tuple(pods))
