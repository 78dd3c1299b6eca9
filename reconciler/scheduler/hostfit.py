"""Per-request host columns for `placement`, kept up to date instead of recomputed: which hosts
fit a request (resources, ports, host-only filters) and each host's free-capacity score for it.

Placing a pod changes one host, so a column computed for an earlier pod with the same request
(the replicas of one Deployment, one after another) is brought up to date by recomputing the
hosts placed on since, with the same operations the full computation uses: the values are bit
for bit those of a full recomputation. After many placements the column is recomputed whole.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from reconciler.scheduler.inputs import HostPort, PodRequest

Bools = NDArray[np.bool_]
Ints = NDArray[np.int64]
Floats = NDArray[np.float64]

_STALE = 24  # placements since a column was brought up to date above which it is recomputed
_ENTRIES = 64  # columns kept (4 host arrays each); then the stale ones are dropped


class Hosts(Protocol):
    """What is free on each host (placement's cluster)."""

    @property
    def free_cpu(self) -> Floats: ...
    @property
    def free_memory(self) -> Floats: ...
    @property
    def free_pod_ports(self) -> Ints: ...
    @property
    def free_ephemeral(self) -> Ints: ...
    @property
    def cpu_scale(self) -> Floats: ...
    @property
    def memory_scale(self) -> Floats: ...
    @property
    def ports(self) -> Mapping[HostPort, Bools]: ...


@dataclass
class Column:
    """For one request: `fit` per host, `free` (the least-allocated score after placing) per
    host, `masked` (free where it fits, -inf elsewhere) and `top` (the same, also -inf outside
    `Cache.column`'s `top` hosts; None without). Read only outside this module."""

    fit: Bools
    free: Floats
    masked: Floats
    top: Floats | None
    top_hosts: Bools | None
    seen: int  # how many placements of the log it reflects


def _full(hosts: Hosts, pod: PodRequest, ok: Bools) -> tuple[Bools, Floats, Floats]:
    fit: Bools = ok & (hosts.free_cpu >= pod.cpu_millis)
    fit &= hosts.free_memory >= pod.memory_bytes
    if pod.pod_ports:
        fit &= hosts.free_pod_ports >= pod.pod_ports
    if pod.ephemeral_storage:
        fit &= hosts.free_ephemeral >= pod.ephemeral_storage
    for port in pod.host_ports:
        used = hosts.ports.get(port)
        if used is not None:
            fit &= ~used
    free: Floats = (hosts.free_cpu - pod.cpu_millis) / hosts.cpu_scale
    free += (hosts.free_memory - pod.memory_bytes) / hosts.memory_scale
    masked: Floats = np.where(fit, free, -np.inf)
    return fit, free, masked


def _update(hosts: Hosts, pod: PodRequest, ok: Bools, column: Column, host: int) -> None:
    """Recompute one host's entries; float64 scalars round as the array operations do."""
    cpu = hosts.free_cpu[host]
    memory = hosts.free_memory[host]
    fits = bool(ok[host]) and cpu >= pod.cpu_millis and memory >= pod.memory_bytes
    if fits and pod.pod_ports:
        fits = bool(hosts.free_pod_ports[host] >= pod.pod_ports)
    if fits and pod.ephemeral_storage:
        fits = bool(hosts.free_ephemeral[host] >= pod.ephemeral_storage)
    if fits:
        for port in pod.host_ports:
            used = hosts.ports.get(port)
            if used is not None and used[host]:
                fits = False
                break
    free = (cpu - pod.cpu_millis) / hosts.cpu_scale[host]
    free += (memory - pod.memory_bytes) / hosts.memory_scale[host]
    column.fit[host] = fits
    column.free[host] = free
    column.masked[host] = free if fits else -np.inf
    if column.top is not None and column.top_hosts is not None:
        column.top[host] = free if fits and column.top_hosts[host] else -np.inf


class Cache:
    """Columns by request, and the log of hosts placed on (one entry per placement)."""

    def __init__(self, hosts: Hosts) -> None:
        self._hosts = hosts
        self._columns: dict[Hashable, Column] = {}
        self.log: list[int] = []

    def placed(self, host: int) -> None:
        self.log.append(host)

    def column(
        self, key: Hashable, pod: PodRequest, ok: Bools, top: Bools | None = None
    ) -> Column:
        """The up-to-date column for `pod`'s request; `key` identifies the request (with the
        host-only filters `ok` and the `top` hosts it was computed against)."""
        column = self._columns.get(key)
        now = len(self.log)
        if column is not None and now - column.seen <= _STALE:
            for host in set(self.log[column.seen :]):
                _update(self._hosts, pod, ok, column, host)
            column.seen = now
            return column
        if len(self._columns) >= _ENTRIES:
            # A column more than _STALE placements old is recomputed whole anyway.
            for stale in [k for k, c in self._columns.items() if now - c.seen > _STALE]:
                del self._columns[stale]
            if len(self._columns) >= _ENTRIES:
                self._columns.clear()
        fit, free, masked = _full(self._hosts, pod, ok)
        top_masked = None if top is None else np.where(top, masked, -np.inf)
        column = Column(fit, free, masked, top_masked, top, seen=now)
        self._columns[key] = column
        return column
