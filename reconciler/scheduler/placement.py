"""The scheduler: binds pending pods to hosts (filter, then score), keeping bound pods in place.

Called by the reconcile loop after controllers expand desired pods and before the plan is
computed; pure, no I/O. Every host is evaluated for every pod, as numpy vector operations over
host columns sorted by name, so the first maximum found is also the lowest host name; columns
that depend on what is placed are brought up to date host by host (`hostfit`, `domainsums`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from reconciler.scheduler import (
    hostfit,
    interpodcols,
    interpodrules,
    nodecols,
    nodeterms,
    predicates,
    ranking,
    topology,
)
from reconciler.scheduler.inputs import HostInfo, HostPort, PodRequest, Taint, Toleration
from reconciler.scheduler.result import FILTER_ORDER, Placement, Reason, Unschedulable

Bools = NDArray[np.bool_]
Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
Codes = NDArray[np.int8]

# A host's first failing filter as a small integer: 0 passes, then FILTER_ORDER from 1.
_CODE = {reason: number for number, reason in enumerate(FILTER_ORDER, start=1)}
_SHAPE_CACHE = 256  # distinct (nodeSelector, tolerations, nodeAffinity) kept; real inputs: a few
_ShapeKey = tuple[
    tuple[tuple[str, str], ...], tuple[Toleration, ...], nodeterms.NodeAffinity | None
]


@dataclass(frozen=True)
class _Shape:
    """Host-only filters for one (nodeSelector, tolerations, nodeAffinity), over all hosts."""

    ok: Bools
    codes: Codes
    penalty: ranking.Penalty  # untolerated PreferNoSchedule taints
    number: int  # tells shapes apart in the cache of `hostfit` columns
    selected: Bools  # passes nodeSelector and node affinity (eligible for topology spread)
    narrowed: Bools | None  # `selected`, or None when that is every host
    node_score: Floats | None  # preferred node affinity weights; None without preferred terms
    top: Bools | None  # the hosts with the highest node_score; None without preferred terms


class _Cluster:
    """Hosts as columns, plus everything placed on them so far."""

    def __init__(self, hosts: list[HostInfo]) -> None:
        self.hosts = hosts
        self.names = [host.name for host in hosts]
        self.index = {name: i for i, name in enumerate(self.names)}
        self.ready: Bools = np.array([host.ready for host in hosts], dtype=np.bool_)
        self.cpu_capacity: Ints = np.array([h.cpu_millis for h in hosts], dtype=np.int64)
        self.memory_capacity: Ints = np.array([h.memory_bytes for h in hosts], dtype=np.int64)
        self.free_pod_ports: Ints = np.array([h.pod_ports for h in hosts], dtype=np.int64)
        self.free_ephemeral: Ints = np.array([h.ephemeral_storage for h in hosts], dtype=np.int64)
        # Divisors for the free fraction; a zero capacity divides by 1, and any host with zero
        # capacity that fits has zero left, so its fraction is 0 as in the reference.
        self.cpu_scale = np.where(self.cpu_capacity == 0, 1, self.cpu_capacity).astype(np.float64)
        self.memory_scale = np.where(self.memory_capacity == 0, 1, self.memory_capacity).astype(
            np.float64
        )
        # Free capacity as float64: every value is an integer below 2**53 (inputs stay below
        # MAX_QUANTITY), so subtracting and comparing stay exact and no cast is needed to score.
        self.free_cpu: Floats = self.cpu_capacity.astype(np.float64)
        self.free_memory: Floats = self.memory_capacity.astype(np.float64)
        self.ports: dict[HostPort, Bools] = {}
        groups: dict[tuple[Taint, ...], int] = {}
        self.taint_group = np.array(
            [groups.setdefault(host.taints, len(groups)) for host in hosts], dtype=np.intp
        )
        self.taint_sets = list(groups)
        self._labels: dict[str, tuple[NDArray[np.int32], dict[str, int]]] = {}
        self._shapes: dict[_ShapeKey, _Shape] = {}
        self._evicted = 0
        self._by_ids: dict[tuple[int, int, int], _Shape] = {}
        self.fits = hostfit.Cache(self)

    # -- host-only filters ------------------------------------------------------------------

    def _label_codes(self, key: str) -> tuple[NDArray[np.int32], dict[str, int]]:
        if key not in self._labels:
            values: dict[str, int] = {}
            codes = np.array(
                [
                    -1 if (v := topology.host_label(host.labels, host.name, key)) is None
                    else values.setdefault(v, len(values))
                    for host in self.hosts
                ],
                dtype=np.int32,
            )
            self._labels[key] = (codes, values)
        return self._labels[key]

    def _label_equals(self, key: str, value: str) -> Bools:
        codes, values = self._label_codes(key)
        result: Bools = codes == values.get(value, -2)
        return result

    def _column(self, key: str) -> nodecols.Column:
        codes, values = self._label_codes(key)
        return codes, list(values)  # dicts keep insertion order: the values by code

    def shape(self, pod: PodRequest) -> _Shape:
        # Replicas of one owner usually share these very objects: found by identity first (the
        # pods, held by `schedule`, keep the objects and so their ids alive).
        ids = (id(pod.node_selector), id(pod.tolerations), id(pod.node_affinity))
        found = self._by_ids.get(ids)
        if found is None:
            found = self._by_ids[ids] = self._shape(pod)
        return found

    def _shape(self, pod: PodRequest) -> _Shape:
        key: _ShapeKey = (
            tuple(sorted(pod.node_selector.items())), pod.tolerations, pod.node_affinity
        )
        cached = self._shapes.get(key)
        if cached is not None:
            return cached
        if len(self._shapes) >= _SHAPE_CACHE:
            self._evicted += len(self._shapes)
            self._shapes.clear()
            self._by_ids.clear()  # pathological inputs only: keeps memory bounded
        tolerated = np.array(
            [predicates.hard_taints_tolerated(t, pod.tolerations) for t in self.taint_sets],
            dtype=np.bool_,
        )[self.taint_group]
        selected = np.ones(len(self.hosts), dtype=np.bool_)
        for label, value in key[0]:
            selected &= self._label_equals(label, value)
        node_score = None
        if pod.node_affinity is not None:
            selected &= nodecols.mask(pod.node_affinity, self._column, self.names)
            node_score = nodecols.score(pod.node_affinity, self._column, self.names)
        codes = np.zeros(len(self.hosts), dtype=np.int8)
        # Later assignments win, so assign in reverse filter order.
        codes[~selected] = _CODE[Reason.NODE_SELECTOR_MISMATCH]
        codes[~tolerated] = _CODE[Reason.UNTOLERATED_TAINT]
        codes[~self.ready] = _CODE[Reason.HOST_NOT_READY]
        penalties = np.array(
            [predicates.preference_penalty(t, pod.tolerations) for t in self.taint_sets],
            dtype=np.int64,
        )
        penalty = penalties[self.taint_group] if penalties.any() else None
        base = int(penalties.max(initial=0)) + 1
        shape = _Shape(
            ok=codes == 0,
            codes=codes,
            penalty=ranking.Penalty(
                penalty, base, np.flatnonzero(penalties[self.taint_group])
            ),
            number=len(self._shapes) + self._evicted,
            selected=selected,
            narrowed=None if selected.all() else selected,
            node_score=node_score,
            top=None if node_score is None else node_score == node_score.max(),
        )
        self._shapes[key] = shape
        return shape

    # -- placing ----------------------------------------------------------------------------

    def port_conflicts(self, pod: PodRequest) -> Bools | None:
        conflict: Bools | None = None
        for port in pod.host_ports:
            used = self.ports.get(port)
            if used is not None:
                conflict = used.copy() if conflict is None else conflict | used
        return conflict

    def reserve_ports(self, ports: frozenset[HostPort], host: int) -> None:
        for port in ports:
            used = self.ports.get(port)
            if used is None:
                used = self.ports[port] = np.zeros(len(self.hosts), dtype=np.bool_)
            used[host] = True

    def place(self, pod: PodRequest, host: int) -> None:
        self.free_cpu[host] -= pod.cpu_millis
        self.free_memory[host] -= pod.memory_bytes
        self.free_pod_ports[host] -= pod.pod_ports
        self.free_ephemeral[host] -= pod.ephemeral_storage
        self.reserve_ports(pod.host_ports, host)
        self.fits.placed(host)

    def column(self, pod: PodRequest, shape: _Shape) -> hostfit.Column:
        """Which hosts fit the pod (host-only filters, ports, resources) and their free score."""
        key = (shape.number, pod.cpu_millis, pod.memory_bytes, pod.pod_ports, pod.ephemeral_storage,
               pod.host_ports)  # fmt: skip
        return self.fits.column(key, pod, shape.ok, shape.top)

    def failures(
        self, pod: PodRequest, shape: _Shape, rules: Codes | None = None
    ) -> dict[Reason, int]:
        """Hosts per first failing filter, for a pod that fits nowhere (`rules`: the codes of
        `interpodrules.failures`, filters after all of these)."""
        codes = shape.codes.copy()
        conflict = self.port_conflicts(pod)
        ports_short = self.free_pod_ports < pod.pod_ports if pod.pod_ports else None
        dynamic = (
            (Reason.HOST_PORT_CONFLICT, conflict),
            (Reason.INSUFFICIENT_CPU, self.free_cpu < pod.cpu_millis),
            (Reason.INSUFFICIENT_MEMORY, self.free_memory < pod.memory_bytes),
            (Reason.INSUFFICIENT_EPHEMERAL_STORAGE,
             self.free_ephemeral < pod.ephemeral_storage if pod.ephemeral_storage else None),
            (Reason.INSUFFICIENT_POD_PORTS, ports_short),
        )
        for reason, failed in dynamic:
            if failed is not None:
                codes[(codes == 0) & failed] = _CODE[reason]
        if rules is not None:
            codes = np.where(codes == 0, rules, codes)
        counts = np.bincount(codes, minlength=len(FILTER_ORDER) + 1)
        return {reason: int(counts[_CODE[reason]]) for reason in FILTER_ORDER}


def schedule(hosts: Iterable[HostInfo], pods: Iterable[PodRequest]) -> Placement:
    """Bind every pod to a host, or report it unschedulable with per-host reasons.

    A pod whose `bound_host` is present and ready stays there and its requests count as used
    (even if it would no longer fit: it is running). Then the other pods, in key order, each go
    to the best host that passes every filter. The result depends only on the sets of hosts and
    pods, not on their order.
    """
    by_name = predicates.unique_hosts(list(hosts))
    cluster = _Cluster(sorted(by_name.values(), key=lambda host: host.name))
    ordered = predicates.pods_in_order(list(pods))
    bindings, pending, bound_owners = _keep_bound(cluster, ordered)
    spread = ranking.Spread(len(cluster.names), bound_owners, pending)
    columns = _columns(cluster, ordered, bindings)
    unschedulable: list[Unschedulable] = []
    if not cluster.names:  # no hosts: nothing to evaluate
        unschedulable = [Unschedulable.from_counts(pod.key, 0, {}) for pod in pending]
        pending = []
    for pod in pending:
        shape = cluster.shape(pod)
        column = cluster.column(pod, shape)
        if columns is not None and columns.involved(pod):
            masked, owned = _with_rules(columns, pod, shape, column)
        elif column.top is not None:
            masked, owned = _with_node_score(column, shape)
        else:
            masked, owned = column.masked, False
        counts, counted = spread.counts(pod.owner)
        host = ranking.best(masked, owned, counts, counted, shape.penalty)
        if host is None:
            rules = None
            if columns is not None and columns.involved(pod):
                rules = interpodrules.failures(columns, pod, shape.narrowed)
            failures = cluster.failures(pod, shape, rules)
            unschedulable.append(Unschedulable.from_counts(pod.key, len(cluster.names), failures))
            spread.placed(pod.owner, None)
            continue
        cluster.place(pod, host)
        if columns is not None:
            columns.place(pod, host)
        spread.placed(pod.owner, host)
        bindings[pod.key] = cluster.names[host]

    return Placement(
        bindings=MappingProxyType(dict(sorted(bindings.items()))),
        unschedulable=tuple(unschedulable),
    )


def _keep_bound(
    cluster: _Cluster, ordered: list[PodRequest]
) -> tuple[dict[str, str], list[PodRequest], dict[str, Counter[int]]]:
    """Keep each pod bound to a ready host there, counting what it uses; return those
    bindings, the other pods (in order) and the kept replicas per owner per host."""
    bindings: dict[str, str] = {}
    pending: list[PodRequest] = []
    used: dict[int, list[int]] = {}
    bound_owners: dict[str, Counter[int]] = {}
    for pod in ordered:
        host = cluster.index.get(pod.bound_host) if pod.bound_host is not None else None
        if host is None or not cluster.hosts[host].ready:
            pending.append(pod)
            continue
        bindings[pod.key] = cluster.names[host]
        usage = used.setdefault(host, [0, 0])
        usage[0] += pod.cpu_millis
        usage[1] += pod.memory_bytes
        cluster.reserve_ports(pod.host_ports, host)
        cluster.free_pod_ports[host] -= pod.pod_ports  # may go negative: it is running
        cluster.free_ephemeral[host] -= pod.ephemeral_storage
        if pod.owner is not None:
            bound_owners.setdefault(pod.owner, Counter())[host] += 1
    for host, (cpu, memory) in used.items():
        # Summed in Python ints; an overcommitted host only needs to stay negative (fits nothing).
        cluster.free_cpu[host] = max(int(cluster.cpu_capacity[host]) - cpu, -1)
        cluster.free_memory[host] = max(int(cluster.memory_capacity[host]) - memory, -1)
    return bindings, pending, bound_owners


def _columns(
    cluster: _Cluster, pods: list[PodRequest], bound: dict[str, str]
) -> interpodcols.Columns | None:
    """Topology columns when some pod has rules (None otherwise: nothing to evaluate), with the
    pods kept on their hosts already counted."""
    if all(pod.rules is None for pod in pods):
        return None
    columns = interpodcols.Columns(cluster.hosts, cluster.ready, pods)
    for pod in pods:
        host = bound.get(pod.key)
        if host is not None:
            columns.place(pod, cluster.index[host])
    return columns


def _with_node_score(column: hostfit.Column, shape: _Shape) -> tuple[Floats, bool]:
    """The free score of the hosts that fit with the highest preferred node affinity score
    among them, -inf elsewhere; and whether that array is a new one."""
    if column.top is not None:
        host = int(column.top.argmax())
        if column.top[host] > -np.inf:
            return column.top, False  # some host with the highest score of all fits
    assert shape.node_score is not None
    masked = np.where(column.fit, shape.node_score, -np.inf)
    fit = column.fit & (masked == masked.max())
    return np.where(fit, column.free, -np.inf), True


def _with_rules(
    columns: interpodcols.Columns, pod: PodRequest, shape: _Shape, column: hostfit.Column
) -> tuple[Floats, bool]:
    """The free score of the hosts that fit and pass the pod's rules, narrowed to those its
    preferences (and preferred node affinity) rank first, -inf elsewhere; and whether that
    array is a new one."""
    blocked = interpodrules.blocked(columns, pod, shape.narrowed)
    masked = column.masked if blocked is None else np.where(blocked, -np.inf, column.masked)
    if shape.node_score is None and not interpodrules.prefers(columns, pod):
        return masked, blocked is not None
    fit = masked > -np.inf
    best = interpodrules.preferred(columns, pod, fit, shape.narrowed, shape.node_score)
    return np.where(best, column.free, -np.inf), True
