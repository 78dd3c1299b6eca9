"""Reference scheduler: plain Python, every filter and score evaluated for every host and pod.

Too slow for thousands of hosts, but obviously right; tests and the benchmark check that
`placement.schedule()` returns exactly what this returns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import MappingProxyType

from reconciler.scheduler import interpod, predicates
from reconciler.scheduler.inputs import HostInfo, HostPort, PodRequest
from reconciler.scheduler.result import Placement, Reason, Unschedulable


@dataclass
class _Usage:
    """What is placed on one host so far."""

    cpu_millis: int = 0
    memory_bytes: int = 0
    pod_ports: int = 0
    ephemeral_storage: int = 0
    ports: set[HostPort] = field(default_factory=set)
    owners: Counter[str] = field(default_factory=Counter)

    def add(self, pod: PodRequest) -> None:
        self.cpu_millis += pod.cpu_millis
        self.memory_bytes += pod.memory_bytes
        self.pod_ports += pod.pod_ports
        self.ephemeral_storage += pod.ephemeral_storage
        self.ports |= pod.host_ports
        if pod.owner is not None:
            self.owners[pod.owner] += 1


def _failure(host: HostInfo, usage: _Usage, pod: PodRequest) -> Reason | None:
    """The first failing filter, in `result.FILTER_ORDER`."""
    static = predicates.static_failure(host, pod)
    if static is not None:
        return static
    if pod.host_ports & usage.ports:
        return Reason.HOST_PORT_CONFLICT
    if usage.cpu_millis + pod.cpu_millis > host.cpu_millis:
        return Reason.INSUFFICIENT_CPU
    if usage.memory_bytes + pod.memory_bytes > host.memory_bytes:
        return Reason.INSUFFICIENT_MEMORY
    if pod.ephemeral_storage and (
        usage.ephemeral_storage + pod.ephemeral_storage > host.ephemeral_storage
    ):
        return Reason.INSUFFICIENT_EPHEMERAL_STORAGE
    if pod.pod_ports and usage.pod_ports + pod.pod_ports > host.pod_ports:
        return Reason.INSUFFICIENT_POD_PORTS
    return None


def _free_fraction(capacity: int, used: int) -> float:
    """LeastAllocated for one resource: free / capacity after placing; 0 for no capacity."""
    if capacity == 0:
        return 0.0
    return float(capacity - used) / float(capacity)


def _rank(host: HostInfo, usage: _Usage, pod: PodRequest) -> tuple[int, int, float, str]:
    """Lower is better: fewer replicas of the same owner (spread), fewer untolerated
    PreferNoSchedule taints, more free capacity (sum of cpu and memory fractions, which orders
    hosts exactly as their mean does), then host name."""
    spread = usage.owners[pod.owner] if pod.owner is not None else 0
    penalty = predicates.preference_penalty(host.taints, pod.tolerations)
    free = _free_fraction(host.cpu_millis, usage.cpu_millis + pod.cpu_millis) + _free_fraction(
        host.memory_bytes, usage.memory_bytes + pod.memory_bytes
    )
    return (spread, penalty, -free, host.name)


def schedule(hosts: Iterable[HostInfo], pods: Iterable[PodRequest]) -> Placement:
    """Same contract as `placement.schedule()`."""
    by_name = predicates.unique_hosts(list(hosts))
    ordered_hosts = sorted(by_name.values(), key=lambda host: host.name)
    usage = {host.name: _Usage() for host in ordered_hosts}
    bindings: dict[str, str] = {}
    pending: list[PodRequest] = []
    placed: list[interpod.Placed] = []

    for pod in predicates.pods_in_order(list(pods)):
        bound = by_name.get(pod.bound_host) if pod.bound_host is not None else None
        if bound is not None and bound.ready:
            usage[bound.name].add(pod)
            bindings[pod.key] = bound.name
            placed.append((pod, bound))
        else:
            pending.append(pod)

    unschedulable: list[Unschedulable] = []
    for pod in pending:
        best: tuple[int, int, int, int, int, float, str] | None = None
        failures: Counter[Reason] = Counter()
        view = interpod.View.of(pod, ordered_hosts, placed)
        for host in ordered_hosts:
            reason = _failure(host, usage[host.name], pod) or view.failure(host)
            if reason is not None:
                failures[reason] += 1
                continue
            node_score = predicates.node_affinity_score(host, pod)
            rank = (*view.rank(host, node_score), *_rank(host, usage[host.name], pod))
            if best is None or rank < best:
                best = rank
        if best is None:
            unschedulable.append(Unschedulable.from_counts(pod.key, len(ordered_hosts), failures))
            continue
        chosen = best[-1]
        usage[chosen].add(pod)
        bindings[pod.key] = chosen
        placed.append((pod, by_name[chosen]))

    return Placement(
        bindings=MappingProxyType(dict(sorted(bindings.items()))),
        unschedulable=tuple(unschedulable),
    )
