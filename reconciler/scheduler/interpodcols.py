"""Topology spread and pod (anti-)affinity as numpy columns, for `placement`: per host, how
many placed pods match each selector in use and how many pods hold each term, kept up to date
as pods are placed; a pod's filter and preference are a few bincounts over topology domains.

Built only when some pod has `rules`; the semantics are those of `interpod` (the reference),
which tests check this against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from reconciler.scheduler import topology
from reconciler.scheduler.inputs import HostInfo, PodRequest
from reconciler.scheduler.result import FILTER_ORDER, Reason

Bools = NDArray[np.bool_]
Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
Codes = NDArray[np.int8]

_CODE = {reason: number for number, reason in enumerate(FILTER_ORDER, start=1)}
# A matcher is a conjunction of (namespaces, selector) clauses: a pod matches when it is in
# every clause's namespaces and matches every selector.
_Clause = tuple[frozenset[str], topology.LabelSelector]
_Matcher = tuple[_Clause, ...]
# A held term: (namespaces, selector, topology key, score weight, filters).
_Held = tuple[frozenset[str], topology.LabelSelector, str, int, bool]
_PodKey = tuple[str, tuple[tuple[str, str], ...]]


def _pod_key(pod: PodRequest) -> _PodKey:
    return (pod.namespace, tuple(sorted(pod.labels.items())))


def _matches(clauses: _Matcher, namespace: str, labels: Mapping[str, str]) -> bool:
    return all(ns_set.__contains__(namespace) and sel.matches(labels) for ns_set, sel in clauses)


def _term_matcher(term: topology.Term, holder_namespace: str) -> _Matcher | None:
    if term.selector is None:
        return None  # matches no pod
    return ((term.scope(holder_namespace), term.selector),)


def _spread_matcher(pod: PodRequest, c: topology.SpreadConstraint) -> _Matcher | None:
    return None if c.selector is None else ((frozenset({pod.namespace}), c.selector),)


def _affinity_matcher(pod: PodRequest, terms: tuple[topology.Term, ...]) -> _Matcher | None:
    clauses = [_term_matcher(term, pod.namespace) for term in terms]
    if any(clause is None for clause in clauses):
        return None
    return tuple(c for clause in clauses if clause is not None for c in clause)


def _index_pair(clauses: _Matcher) -> tuple[str, str] | None:
    """A label every matching pod has (from the first clause's matchLabels), to look up only
    the matchers that can match a pod; None when there is none."""
    first = clauses[0][1].match_labels if clauses else ()
    return first[0] if first else None


class _Index:
    """Items found by a label pair that every pod they match carries, plus the rest."""

    def __init__(self) -> None:
        self.by_pair: dict[tuple[str, str], list[int]] = {}
        self.rest: list[int] = []

    def add(self, number: int, pair: tuple[str, str] | None) -> None:
        (self.rest if pair is None else self.by_pair.setdefault(pair, [])).append(number)

    def candidates(self, labels: Mapping[str, str]) -> list[int]:
        found = list(self.rest)
        for pair in labels.items():
            found += self.by_pair.get(pair, ())
        return sorted(found)


def _held(pod: PodRequest) -> list[_Held]:
    if pod.rules is None:
        return []
    return [
        (term.scope(pod.namespace), term.selector, term.topology_key, weight, filters)
        for term, weight, filters in pod.rules.held()
        if term.selector is not None
    ]


class Columns:
    """Per-host counts for every matcher and held term that some pod of this run uses."""

    def __init__(self, hosts: Sequence[HostInfo], ready: Bools, pods: Sequence[PodRequest]):
        self.hosts = hosts
        self.ready = ready
        self.size = len(hosts)
        self._domains: dict[str, tuple[NDArray[np.intp], int, Bools, bool]] = {}
        self._counts: dict[_Matcher, Ints] = {}
        self._held: dict[_Held, Ints] = {}
        for pod in pods:
            for matcher in self._matchers(pod):
                self._counts.setdefault(matcher, np.zeros(self.size, dtype=np.int64))
            for held in _held(pod):
                self._held.setdefault(held, np.zeros(self.size, dtype=np.int64))
        self._count_cache: dict[_PodKey, list[Ints]] = {}
        self._held_cache: dict[_PodKey, list[tuple[_Held, Ints]]] = {}
        self._count_items = list(self._counts.items())
        self._count_index = _Index()
        for number, (matcher, _) in enumerate(self._count_items):
            self._count_index.add(number, _index_pair(matcher))
        self._held_items = list(self._held.items())
        self._held_index = _Index()
        for number, (held, _) in enumerate(self._held_items):
            self._held_index.add(number, _index_pair(((held[0], held[1]),)))
        self._keys: dict[str, _PodKey] = {}
        self._holds: dict[tuple[str, int], list[Ints]] = {}

    def _matchers(self, pod: PodRequest) -> list[_Matcher]:
        rules = pod.rules
        if rules is None:
            return []
        found = [_spread_matcher(pod, c) for c in rules.spread]
        found += [_term_matcher(t, pod.namespace) for t in rules.anti_affinity]
        found += [_term_matcher(w.term, pod.namespace) for w in rules.preferred_affinity]
        found += [_term_matcher(w.term, pod.namespace) for w in rules.preferred_anti_affinity]
        if rules.affinity:
            found.append(_affinity_matcher(pod, rules.affinity))
        return [m for m in found if m is not None]

    # -- state --------------------------------------------------------------------------------

    def place(self, pod: PodRequest, host: int) -> None:
        """Count a bound or newly placed pod on `host`."""
        key = self._key(pod)
        counts = self._count_cache.get(key)
        if counts is None:
            items = (self._count_items[n] for n in self._count_index.candidates(pod.labels))
            counts = self._count_cache[key] = [
                array for matcher, array in items if _matches(matcher, key[0], pod.labels)
            ]
        for array in counts:
            array[host] += 1
        if pod.rules is not None:
            holds = self._holds.get((key[0], id(pod.rules)))
            if holds is None:
                holds = [self._held[held] for held in _held(pod)]
                self._holds[key[0], id(pod.rules)] = holds
            for array in holds:
                array[host] += 1

    def held_about(self, pod: PodRequest) -> list[tuple[_Held, Ints]]:
        """Terms that other pods hold and that match this pod, with their holders per host."""
        if not self._held:
            return []
        key = self._key(pod)
        found = self._held_cache.get(key)
        if found is None:
            items = (self._held_items[n] for n in self._held_index.candidates(pod.labels))
            found = self._held_cache[key] = [
                (held, array)
                for held, array in items
                if key[0] in held[0] and held[1].matches(pod.labels)
            ]
        return found

    def _key(self, pod: PodRequest) -> _PodKey:
        """(namespace, sorted labels), built once per pod (asked when filtering and placing)."""
        key = self._keys.get(pod.key)
        if key is None:
            key = self._keys[pod.key] = _pod_key(pod)
        return key

    def involved(self, pod: PodRequest) -> bool:
        return pod.rules is not None or bool(self.held_about(pod))

    # -- domains ------------------------------------------------------------------------------

    def domains(self, key: str) -> tuple[NDArray[np.intp], int, Bools, bool]:
        """(value code per host, -1 without the key; number of values; has the key; every
        host its own value)."""
        found = self._domains.get(key)
        if found is None:
            values: dict[str, int] = {}
            codes = np.array(
                [
                    -1 if (v := topology.host_label(h.labels, h.name, key)) is None
                    else values.setdefault(v, len(values))
                    for h in self.hosts
                ],
                dtype=np.intp,
            )  # fmt: skip
            identity = len(values) == self.size and bool((codes == np.arange(self.size)).all())
            found = self._domains[key] = (codes, len(values), codes >= 0, identity)
        return found

    def _sum(self, values: Ints, key: str, contributors: Bools | None = None) -> Floats:
        """Per host: the sum of `values` over the contributing hosts of its domain (0 for a
        host without the key). Per-domain arrays have one spare slot, which code -1 reads."""
        codes, count, has, identity = self.domains(key)
        if identity and contributors is None:
            return values.astype(np.float64)  # every host has the key: its own domain
        use = has if contributors is None else has & contributors
        if identity:
            return np.where(use, values, 0).astype(np.float64)
        per_domain = np.bincount(codes[use], weights=values[use], minlength=count + 1)
        return np.where(has, per_domain[codes], 0.0)

    def _count(self, matcher: _Matcher | None) -> Ints:
        if matcher is None:
            return np.zeros(self.size, dtype=np.int64)
        return self._counts[matcher]

    def _has_all(self, constraints: tuple[topology.SpreadConstraint, ...]) -> Bools:
        has = np.ones(self.size, dtype=np.bool_)
        for c in constraints:
            has &= self.domains(c.topology_key)[2]
        return has

    # -- filter -------------------------------------------------------------------------------

    def failures(self, pod: PodRequest, selected: Bools) -> Codes:
        """Per host the first failing rule's filter code (0: passes); `selected` are the hosts
        passing the pod's nodeSelector."""
        rules = pod.rules or topology.Rules()
        result = np.zeros(self.size, dtype=np.int8)
        for held, holders in self.held_about(pod):
            if held[4]:
                blocked = self._sum(holders, held[2]) > 0
                result[blocked] = _CODE[Reason.EXISTING_ANTI_AFFINITY]
        for term in reversed(rules.anti_affinity):
            counts = self._count(_term_matcher(term, pod.namespace))
            result[self._sum(counts, term.topology_key) > 0] = _CODE[Reason.POD_ANTI_AFFINITY]
        if rules.affinity:
            result[~self._affinity_ok(pod, rules.affinity)] = _CODE[Reason.POD_AFFINITY]
        hard = rules.hard_spread
        if hard:
            eligible = self.ready & selected & self._has_all(hard)
            for c in reversed(hard):
                result[self._skew_fails(pod, c, eligible)] = _CODE[Reason.SPREAD_SKEW]
                result[~self.domains(c.topology_key)[2]] = _CODE[Reason.SPREAD_MISSING_LABEL]
        return result

    def _skew_fails(
        self, pod: PodRequest, c: topology.SpreadConstraint, eligible: Bools
    ) -> Bools:
        codes, count, has, identity = self.domains(c.topology_key)
        counts = self._count(_spread_matcher(pod, c))
        if identity:
            present = eligible
            per_domain = np.where(eligible, counts, 0)
        else:
            present = np.bincount(codes[eligible], minlength=count + 1) > 0
            per_domain = np.bincount(
                codes[eligible], weights=counts[eligible], minlength=count + 1
            )
        domains = int(present.sum())
        minimum = float(per_domain[present].min()) if domains else 0.0
        if c.min_domains is not None and domains < c.min_domains:
            minimum = 0.0
        selected = c.selector is not None and c.selector.matches(pod.labels)
        per_host = np.where(has, per_domain[codes], 0)
        failed: Bools = has & (per_host + int(selected) - minimum > c.max_skew)
        return failed

    def _affinity_ok(self, pod: PodRequest, terms: tuple[topology.Term, ...]) -> Bools:
        counts = self._count(_affinity_matcher(pod, terms))
        ok = np.ones(self.size, dtype=np.bool_)
        has_all = np.ones(self.size, dtype=np.bool_)
        any_pair = False
        for term in terms:
            has = self.domains(term.topology_key)[2]
            ok &= self._sum(counts, term.topology_key) > 0
            has_all &= has
            any_pair = any_pair or bool((counts[has] > 0).any())
        first = all(t.matches(pod.namespace, pod.namespace, pod.labels) for t in terms)
        if not any_pair and first:
            return has_all
        return ok

    # -- preference ---------------------------------------------------------------------------

    def preferred(
        self, pod: PodRequest, fit: Bools, selected: Bools, node_score: Floats | None = None
    ) -> Bools:
        """The hosts of `fit` best by the pod's preferences: highest affinity score (plus the
        preferred node affinity `node_score`), then carrying every ScheduleAnyway key, then
        fewest matching pods in those domains."""
        rules = pod.rules or topology.Rules()
        score: Floats | None = node_score
        weighted = [(w.weight, w.term) for w in rules.preferred_affinity]
        weighted += [(-w.weight, w.term) for w in rules.preferred_anti_affinity]
        for weight, term in weighted:
            counts = self._count(_term_matcher(term, pod.namespace))
            part = weight * self._sum(counts, term.topology_key)
            score = part if score is None else score + part
        for held, holders in self.held_about(pod):
            if held[3]:
                part = held[3] * self._sum(holders, held[2])
                score = part if score is None else score + part
        candidates = fit
        if score is not None:
            masked = np.where(candidates, score, -np.inf)
            candidates = candidates & (masked == masked.max())
        soft = rules.soft_spread
        if soft:
            has_all = self._has_all(soft)
            eligible = self.ready & selected & has_all
            total = np.zeros(self.size, dtype=np.float64)
            for c in soft:
                counts = self._count(_spread_matcher(pod, c))
                total += self._sum(counts, c.topology_key, eligible)
            key = np.where(has_all, total, np.inf)
            masked = np.where(candidates, key, np.inf)
            candidates = candidates & (masked == masked.min())
        return candidates
