"""Per-host filter and preference rules that depend only on the host and the pod, not on what
else is placed: readiness, taints against tolerations, nodeSelector and node affinity against
labels.

Both scheduler implementations use these (the fast one once per distinct taint set or selector
term, the reference one per host and pod), so their Kubernetes semantics live in one place.
"""

from __future__ import annotations

import itertools

from reconciler.scheduler import topology
from reconciler.scheduler.inputs import HostInfo, PodRequest, Taint, TaintEffect, Toleration
from reconciler.scheduler.result import Reason

# Effects that keep an untolerating pod off the host. PreferNoSchedule does not filter: it only
# lowers the host's preference (see `preference_penalty`), like kube-scheduler's TaintToleration.
HARD_EFFECTS = frozenset({TaintEffect.NO_SCHEDULE, TaintEffect.NO_EXECUTE})


def tolerated(taint: Taint, tolerations: tuple[Toleration, ...]) -> bool:
    return any(toleration.tolerates(taint) for toleration in tolerations)


def hard_taints_tolerated(taints: tuple[Taint, ...], tolerations: tuple[Toleration, ...]) -> bool:
    """True if every NoSchedule / NoExecute taint is tolerated."""
    return all(tolerated(taint, tolerations) for taint in taints if taint.effect in HARD_EFFECTS)


def preference_penalty(taints: tuple[Taint, ...], tolerations: tuple[Toleration, ...]) -> int:
    """How many PreferNoSchedule taints the pod does not tolerate; fewer is better."""
    return sum(
        1
        for taint in taints
        if taint.effect is TaintEffect.PREFER_NO_SCHEDULE and not tolerated(taint, tolerations)
    )


def node_affinity_allows(host: HostInfo, pod: PodRequest) -> bool:
    """The pod's required node affinity (kube-scheduler's NodeAffinity filter, which also
    checks nodeSelector under the same reason)."""
    affinity = pod.node_affinity
    return affinity is None or affinity.allows(host.name, host.labels)


def node_affinity_score(host: HostInfo, pod: PodRequest) -> int:
    """The weights of the pod's preferred node affinity terms this host matches."""
    affinity = pod.node_affinity
    return 0 if affinity is None else affinity.score(host.name, host.labels)


def static_failure(host: HostInfo, pod: PodRequest) -> Reason | None:
    """The first failing host-only filter, in `result.FILTER_ORDER`, or None if all pass."""
    if not host.ready:
        return Reason.HOST_NOT_READY
    if not hard_taints_tolerated(host.taints, pod.tolerations):
        return Reason.UNTOLERATED_TAINT
    if not all(
        topology.host_label(host.labels, host.name, key) == value
        for key, value in pod.node_selector.items()
    ) or not node_affinity_allows(host, pod):
        return Reason.NODE_SELECTOR_MISMATCH
    return None


def unique_hosts(hosts: list[HostInfo]) -> dict[str, HostInfo]:
    """Hosts by name; a duplicate name is a bug in the caller's adapter."""
    by_name: dict[str, HostInfo] = {}
    for host in hosts:
        if host.name in by_name:
            raise ValueError(f"duplicate host name {host.name!r}")
        by_name[host.name] = host
    return by_name


def pods_in_order(pods: list[PodRequest]) -> list[PodRequest]:
    """Pods sorted by key: the order placements are made in, whatever the input order."""
    ordered = sorted(pods, key=lambda pod: pod.key)
    for before, after in itertools.pairwise(ordered):
        if before.key == after.key:
            raise ValueError(f"duplicate pod key {after.key!r}")
    return ordered
