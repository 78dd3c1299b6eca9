"""The `HostExecutor` protocol: the only door from the planner/controllers to real hosts.

`observe(targets)` reads what runs (the observed half of `plan = diff(desired, observed)`);
`apply(plan, targets, progress)` carries out the plan. `PodmanSSHExecutor` (podman_ssh) is the real
one, `FakeExecutor` (fake) the in-memory one for fast controller and CLI tests.
"""

from __future__ import annotations

import collections
import enum
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from reconciler.model import hoststate, loadbalancer, metrics

ProgressCallback = Callable[[hoststate.ActionResult], None]
"""Called once per finished action (never concurrently: calls are serialized by the executor)."""
ExitCallback = Callable[[hoststate.ContainerExit], None]
"""Called from an executor thread for each managed container that stops; must return quickly."""


class Mutation(enum.StrEnum):
    """Podman and file-system changes an executor makes on a host, counted in `ExecutorStats`."""

    IMAGE_PULL = "image_pull"
    POD_CREATE = "pod_create"
    POD_START = "pod_start"
    POD_STOP = "pod_stop"
    POD_REMOVE = "pod_remove"
    CONTAINER_CREATE = "container_create"
    CONTAINER_RESTART = "container_restart"
    VOLUME_CREATE = "volume_create"
    VOLUME_REMOVE = "volume_remove"
    FILE_WRITE = "file_write"
    DIR_REMOVE = "dir_remove"
    LB_START = "lb_start"
    LB_RELOAD = "lb_reload"
    LB_STOP = "lb_stop"
    LB_SERVER_CHANGE = "lb_server_change"


class ExecutorStats:
    """Thread-safe counters: mutating calls by kind, and read-only API calls.

    Tests use it to assert that a no-op apply or an observe changes nothing on any host.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mutations: collections.Counter[Mutation] = collections.Counter()
        self._reads = 0

    def count(self, mutation: Mutation, n: int = 1) -> None:
        with self._lock:
            self._mutations[mutation] += n

    def count_read(self, n: int = 1) -> None:
        with self._lock:
            self._reads += n

    @property
    def mutations(self) -> int:
        """Total mutating calls so far."""
        with self._lock:
            return sum(self._mutations.values())

    @property
    def reads(self) -> int:
        with self._lock:
            return self._reads

    def snapshot(self) -> dict[str, int]:
        """Counts by mutation kind (only kinds that happened) plus "reads"."""
        with self._lock:
            out = {str(kind): n for kind, n in sorted(self._mutations.items()) if n}
            out["reads"] = self._reads
            return out


class HostExecutor(Protocol):
    """Observes and changes podman pods on hosts. Only reconciler-labelled objects are touched."""

    @property
    def stats(self) -> ExecutorStats: ...

    def observe(
        self, targets: Iterable[hoststate.HostTarget], *, detail: bool = False
    ) -> dict[str, hoststate.HostObservation]:
        """Every managed pod on each host, keyed by host name; hosts are read in parallel.

        Without `detail`, what the planner needs (identity, spec hash, states, exit codes); with
        it, also what only a per-container inspect tells (restart counts), for `get`/`describe`.

        Never raises for a host problem: that host's observation has reachable=False and an
        error saying what is wrong (its pods are unknown, not deleted).
        """
        ...

    def ping(self, target: hoststate.HostTarget) -> str | None:
        """The host-health check: the cheapest round trip that proves the host's Podman API
        answers (on its open connection, opened first when there is none). None when it
        answered (an answer to another call on the connection meanwhile counts), else what is
        wrong. Never raises for a host problem."""
        ...

    def answer_age(self, host: str) -> float | None:
        """Seconds since the host's Podman last answered any call (observe, create, ping...) on
        its live connection: its heartbeat, renewed by its pod work as a kubelet's lease is.
        None when there is no live connection or no answer yet. Cheap: no I/O."""
        ...

    def apply(
        self,
        plan: hoststate.Plan,
        targets: Iterable[hoststate.HostTarget],
        progress: ProgressCallback | None = None,
    ) -> list[hoststate.ActionResult]:
        """Carry out the plan wave by wave (`Plan.waves`): every action of a wave, hosts in
        parallel, finishes before the next wave starts.

        One result per action, in plan order. Actions on an unreachable host are SKIPPED; a
        failed action (FAILED, with a message saying what to do) does not stop the others.
        """
        ...

    def events(
        self, target: hoststate.HostTarget, pod: hoststate.ObservedPod, since_seconds: int
    ) -> list[hoststate.PodEvent]:
        """What Podman recorded about `pod` and its containers in the last `since_seconds`,
        oldest first (for `describe`; earlier pods of the same name included).

        Raises a `HostError` when the host cannot be reached, an `ExecutorError` when Podman
        cannot tell.
        """
        ...

    def probe(
        self,
        target: hoststate.HostTarget,
        pod: hoststate.ObservedPod,
        container: hoststate.ObservedContainer,
        probe: hoststate.ContainerProbe,
    ) -> hoststate.ProbeResult:
        """Run `probe` of `container` once, within the probe's timeout. httpGet and tcpSocket
        reach the container port at the pod's `probe_ports` on the host's 127.0.0.1 (through
        the host's SSH connection; nothing is needed inside the image); exec runs the command
        in the container through Podman's exec API. Never raises: an unreachable host or a
        vanished container is a failed result saying so."""
        ...

    def metrics(self, targets: Iterable[hoststate.HostTarget]) -> dict[str, metrics.HostMetrics]:
        """One sample of CPU time and memory of every running managed container, per host (one
        read per host, hosts in parallel), with the source used (`metrics.Source`). Never
        raises for a host problem: that host's sample has reachable=False and an error."""
        ...

    def watch_exits(self, targets: Iterable[hoststate.HostTarget], on_exit: ExitCallback) -> None:
        """Keep one Podman event stream per target host open (over its SSH connection) and call
        `on_exit` for every managed container that dies. Idempotent: call it on every reconcile
        with the current hosts; streams of hosts no longer listed are closed, broken streams
        are reopened. `close()` ends them all."""
        ...

    def lb_apply(
        self,
        targets: Sequence[hoststate.HostTarget],
        configs: Mapping[str, loadbalancer.Config],
    ) -> dict[str, loadbalancer.Status]:
        """Make each target host's load balancer (HAProxy) serve `configs[host]` (a host not in
        `configs` gets an empty Config), hosts in parallel: start it if it is not running
        (`started`), reload it seamlessly when its listeners change (`reloaded`), converge
        its servers through the runtime API; with no listener it is stopped. Returns each
        host's status read back. Never raises for a host: an unreachable one, or a refused
        start, is a status with `error` set."""
        ...

    def lb_status(
        self, targets: Sequence[hoststate.HostTarget]
    ) -> dict[str, loadbalancer.Status]:
        """Each host's load balancer as it reports itself (read-only; servers with their
        current sessions). Never raises for a host (see `lb_apply`)."""
        ...

    def close(self) -> None:
        """Close connections and worker threads; the executor is unusable afterwards."""
        ...
