"""Topology spread and pod (anti-)affinity in plain Python, for the reference scheduler: one
`View` per pod to place, built from the pods placed so far, then asked per host.

Kubernetes semantics (PodTopologySpread, InterPodAffinity): spread counts pods of the pod's
namespace matching the constraint's selector over eligible hosts (ready, passing the pod's
nodeSelector, taints ignored, carrying every key); existing pods' required anti-affinity is
checked against the incoming pod; a pod that is the first of a group with affinity to itself
may go to any host carrying the keys. `interpodcols` computes the same with numpy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.scheduler import predicates, topology
from reconciler.scheduler.inputs import HostInfo, PodRequest
from reconciler.scheduler.result import Reason

Placed = tuple[PodRequest, HostInfo]


def label(host: HostInfo, key: str) -> str | None:
    return topology.host_label(host.labels, host.name, key)


def node_selected(host: HostInfo, pod: PodRequest) -> bool:
    """Passes the pod's nodeSelector and required node affinity (nodeAffinityPolicy Honor)."""
    return all(
        label(host, key) == value for key, value in pod.node_selector.items()
    ) and predicates.node_affinity_allows(host, pod)


def _spread_counts(
    pod: PodRequest,
    constraint: topology.SpreadConstraint,
    eligible: Sequence[HostInfo],
    placed: Sequence[Placed],
) -> Counter[str]:
    names = {host.name for host in eligible}
    counts: Counter[str] = Counter()
    selector = constraint.selector
    for other, host in placed:
        if host.name not in names or selector is None or other.namespace != pod.namespace:
            continue
        if selector.matches(other.labels):
            counts[str(label(host, constraint.topology_key))] += 1
    return counts


def _eligible(
    pod: PodRequest, hosts: Sequence[HostInfo], constraints: tuple[topology.SpreadConstraint, ...]
) -> list[HostInfo]:
    return [
        host
        for host in hosts
        if host.ready
        and node_selected(host, pod)
        and all(label(host, c.topology_key) is not None for c in constraints)
    ]


@dataclass(frozen=True)
class _Hard:
    constraint: topology.SpreadConstraint
    counts: Counter[str]
    minimum: int
    self_match: int


@dataclass
class View:
    """What one pod's rules (and other pods' terms about it) say about each host."""

    pod: PodRequest
    hard: list[_Hard]
    soft: list[tuple[topology.SpreadConstraint, Counter[str]]]
    existing_blocked: set[tuple[str, str]]
    anti_blocked: list[tuple[str, set[str]]]
    affinity_pairs: set[tuple[str, str]]
    affinity_self: bool
    scores: Counter[tuple[str, str]]

    @classmethod
    def of(cls, pod: PodRequest, hosts: Sequence[HostInfo], placed: Sequence[Placed]) -> View:
        rules = pod.rules or topology.Rules()
        ns, labels = pod.namespace, pod.labels
        hard = []
        eligible = _eligible(pod, hosts, rules.hard_spread)
        for c in rules.hard_spread:
            counts = _spread_counts(pod, c, eligible, placed)
            domains = {str(label(host, c.topology_key)) for host in eligible}
            minimum = min((counts[d] for d in domains), default=0)
            if c.min_domains is not None and len(domains) < c.min_domains:
                minimum = 0
            selected = c.selector is not None and c.selector.matches(labels)
            hard.append(_Hard(c, counts, minimum, int(selected)))
        soft_eligible = _eligible(pod, hosts, rules.soft_spread)
        soft = [(c, _spread_counts(pod, c, soft_eligible, placed)) for c in rules.soft_spread]
        existing: set[tuple[str, str]] = set()
        scores: Counter[tuple[str, str]] = Counter()
        for other, host in placed:
            if other.rules is None:
                continue
            for term, weight, filters in other.rules.held():
                value = label(host, term.topology_key)
                if value is None or not term.matches(other.namespace, ns, labels):
                    continue
                if filters:
                    existing.add((term.topology_key, value))
                else:
                    scores[term.topology_key, value] += weight
        anti = []
        for term in rules.anti_affinity:
            values = {
                value
                for other, host in placed
                if term.matches(ns, other.namespace, other.labels)
                and (value := label(host, term.topology_key)) is not None
            }
            anti.append((term.topology_key, values))
        pairs = set()
        for other, host in placed:
            if rules.affinity and all(
                t.matches(ns, other.namespace, other.labels) for t in rules.affinity
            ):
                for term in rules.affinity:
                    value = label(host, term.topology_key)
                    if value is not None:
                        pairs.add((term.topology_key, value))
        preferred = [(w.weight, w.term) for w in rules.preferred_affinity]
        preferred += [(-w.weight, w.term) for w in rules.preferred_anti_affinity]
        for weight, term in preferred:
            for other, host in placed:
                value = label(host, term.topology_key)
                if value is not None and term.matches(ns, other.namespace, other.labels):
                    scores[term.topology_key, value] += weight
        return cls(
            pod=pod,
            hard=hard,
            soft=soft,
            existing_blocked=existing,
            anti_blocked=anti,
            affinity_pairs=pairs,
            affinity_self=all(t.matches(ns, ns, labels) for t in rules.affinity),
            scores=scores,
        )

    def failure(self, host: HostInfo) -> Reason | None:
        """The first failing rule, spread constraints first (in their order), then the pod's
        affinity, its anti-affinity, existing pods' anti-affinity (kube-scheduler's order)."""
        for hard in self.hard:
            value = label(host, hard.constraint.topology_key)
            if value is None:
                return Reason.SPREAD_MISSING_LABEL
            skew = hard.counts[value] + hard.self_match - hard.minimum
            if skew > hard.constraint.max_skew:
                return Reason.SPREAD_SKEW
        terms = self.pod.rules.affinity if self.pod.rules else ()
        if terms:
            found = [(t.topology_key, label(host, t.topology_key)) for t in terms]
            if any(value is None for _, value in found):
                return Reason.POD_AFFINITY
            unmet = not all(pair in self.affinity_pairs for pair in found)
            if unmet and (self.affinity_pairs or not self.affinity_self):
                return Reason.POD_AFFINITY
        for key, values in self.anti_blocked:
            if label(host, key) in values:
                return Reason.POD_ANTI_AFFINITY
        for key, blocked_value in self.existing_blocked:
            if label(host, key) == blocked_value:
                return Reason.EXISTING_ANTI_AFFINITY
        return None

    def rank(self, host: HostInfo, node_score: int = 0) -> tuple[int, int, int]:
        """Lower is better: higher affinity score (preferred terms, both ways, plus the pod's
        preferred node affinity `node_score`), then a host carrying every ScheduleAnyway key,
        then fewer matching pods in its domains."""
        score = node_score
        for (key, value), weight in self.scores.items():
            if label(host, key) == value:
                score += weight
        missing = 0
        total = 0
        for constraint, counts in self.soft:
            found = label(host, constraint.topology_key)
            if found is None:
                missing = 1
            else:
                total += counts[found]
        return (-score, missing, 0 if missing else total)
