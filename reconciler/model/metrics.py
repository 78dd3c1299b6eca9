"""Resource usage measured on the hosts: what `HostExecutor.metrics` returns (cumulative CPU time
and resident memory per managed container, with the source that measured it) and the pure step
from two samples to usage rates that the HorizontalPodAutoscaler controller reads.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class Source(enum.StrEnum):
    """Where a host's numbers come from."""

    PODMAN_STATS = "podman-stats"
    """Podman's stats API (`GET /libpod/containers/stats?stream=false`): needs cgroup v2."""
    PROC = "proc"
    """The container processes' /proc/PID/stat (CPU ticks, resident pages), read in one fixed
    remote command: works on cgroup v1 hosts, where rootless Podman has no stats."""


@dataclass(frozen=True)
class ContainerUsage:
    """One managed container at the sample time. `cpu_seconds` is cumulative (user + system,
    children reaped included) since some start; only differences between samples mean
    anything."""

    namespace: str
    pod: str
    container: str
    podman_id: str
    cpu_seconds: float
    memory_bytes: int


@dataclass(frozen=True)
class HostMetrics:
    """One host's sample. `time` is seconds on a clock of that host's source (only differences
    between two samples of the same host and source mean anything)."""

    host: str
    reachable: bool
    source: Source | None = None
    time: float = 0.0
    containers: tuple[ContainerUsage, ...] = ()
    error: str = ""


ContainerKey = tuple[str, str, str]
"""(namespace, pod, container)."""


@dataclass(frozen=True)
class ContainerRate:
    """Usage over the window between two samples: CPU in millicores, memory at the later one."""

    cpu_millis: float
    memory_bytes: int
    window_seconds: float


def rates(previous: HostMetrics | None, current: HostMetrics) -> dict[ContainerKey, ContainerRate]:
    """Per container, usage between `previous` and `current` of one host. A container with
    no earlier sample of the same podman id (new, or restarted as a new container) has no CPU
    rate yet and is left out, as metrics-server leaves out pods it has one point for."""
    if previous is None or not current.reachable or previous.source != current.source:
        return {}
    window = current.time - previous.time
    if window <= 0:
        return {}
    before = {(c.podman_id): c for c in previous.containers}
    out: dict[ContainerKey, ContainerRate] = {}
    for usage in current.containers:
        earlier = before.get(usage.podman_id)
        if earlier is None:
            continue
        used = max(0.0, usage.cpu_seconds - earlier.cpu_seconds)
        key = (usage.namespace, usage.pod, usage.container)
        out[key] = ContainerRate(used * 1000.0 / window, usage.memory_bytes, window)
    return out


@dataclass(frozen=True)
class PodUsage:
    """A pod's usage: the sum over its containers (Kubernetes sums containers for Resource
    metrics), CPU in millicores, memory in bytes."""

    cpu_millis: float
    memory_bytes: int


def pod_usage(
    by_container: Mapping[ContainerKey, ContainerRate],
) -> dict[tuple[str, str], PodUsage]:
    """Sum container rates into (namespace, pod) usage."""
    cpu: dict[tuple[str, str], float] = {}
    memory: dict[tuple[str, str], int] = {}
    for (namespace, pod, _container), rate in by_container.items():
        cpu[(namespace, pod)] = cpu.get((namespace, pod), 0.0) + rate.cpu_millis
        memory[(namespace, pod)] = memory.get((namespace, pod), 0) + rate.memory_bytes
    return {key: PodUsage(cpu[key], memory[key]) for key in cpu}
