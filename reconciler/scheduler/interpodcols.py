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

from reconciler.scheduler import domainsums, topology
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
_NONE = np.iinfo(np.int64).max  # a total no host has


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
        self.domains = domainsums.Domains(hosts)
        self._zeros: Ints = np.zeros(self.size, dtype=np.int64)  # never added to
        self._counts: dict[_Matcher, Ints] = {}
        self._held: dict[_Held, Ints] = {}
        seen: set[tuple[str, int]] = set()
        for pod in pods:
            if pod.rules is None or (pod.namespace, id(pod.rules)) in seen:
                continue  # the replicas of one owner usually share their rules
            seen.add((pod.namespace, id(pod.rules)))
            for matcher in self._matchers(pod):
                self._counts.setdefault(matcher, np.zeros(self.size, dtype=np.int64))
            for held in _held(pod):
                self._held.setdefault(held, np.zeros(self.size, dtype=np.int64))
        self._everywhere: dict[tuple[str, ...], Bools | None] = {}
        self._present: dict[tuple[str, tuple[str, ...]], Bools] = {}
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
        added = self.domains.added
        for array in counts:
            array[host] += 1
            added(array, host)
        if pod.rules is not None:
            holds = self._holds.get((key[0], id(pod.rules)))
            if holds is None:
                holds = [self._held[held] for held in _held(pod)]
                self._holds[key[0], id(pod.rules)] = holds
            for array in holds:
                array[host] += 1
                added(array, host)

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
    # A pod is only ever counted on a ready host (kept on a ready host or placed where it fits),
    # so every count column is 0 on the hosts that are not ready: counting over the ready hosts
    # of a domain is counting over all of them.

    def _sum(self, values: Ints, key: str, eligible: Bools | None = None) -> Ints:
        """Per host: the sum of `values` over the `eligible` hosts of its domain (None: every
        host), 0 for a host without the key. Read only: it may be `values` itself."""
        if eligible is None:
            return self.domains.per_host(values, key)
        domain = self.domains.of(key)
        use = domain.has & eligible
        if domain.identity:
            return np.where(use, values, 0)
        codes = domain.codes
        per_domain = np.bincount(codes[use], weights=values[use], minlength=domain.count + 1)
        result: Ints = np.where(domain.has, per_domain[codes], 0.0).astype(np.int64)
        return result

    def _count(self, matcher: _Matcher | None) -> Ints:
        return self._zeros if matcher is None else self._counts[matcher]

    def _has_all(self, keys: tuple[str, ...]) -> Bools | None:
        """The hosts carrying every key; None when each host carrying the first carries all
        (then the first key's domains alone say who is eligible)."""
        if keys not in self._everywhere:
            has = np.ones(self.size, dtype=np.bool_)
            for key in keys:
                has &= self.domains.of(key).has
            same = all(bool((self.domains.of(key).has == has).all()) for key in keys)
            self._everywhere[keys] = None if same else has
        return self._everywhere[keys]

    def _eligible(
        self, constraints: tuple[topology.SpreadConstraint, ...], selected: Bools | None
    ) -> Bools | None:
        """The hosts whose pods a spread constraint counts (ready, selected by the pod's node
        selector and affinity, carrying every key); None when that is every host carrying
        each constraint's own key (as far as counts go: see above)."""
        keys = tuple(c.topology_key for c in constraints)
        has_all = self._has_all(keys)
        if selected is None and has_all is None:
            return None
        eligible = self.ready & (self.domains.of(keys[0]).has if has_all is None else has_all)
        return eligible if selected is None else eligible & selected

    # -- filter -------------------------------------------------------------------------------

    def failures(self, pod: PodRequest, selected: Bools | None) -> Codes:
        """Per host the first failing rule's filter code (0: passes); `selected` are the hosts
        passing the pod's nodeSelector and node affinity (None: every host)."""
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
            keys = tuple(c.topology_key for c in hard)
            eligible = self._eligible(hard, selected)
            for c in reversed(hard):
                result[self._skew_fails(pod, c, keys, eligible)] = _CODE[Reason.SPREAD_SKEW]
                domain = self.domains.of(c.topology_key)
                if not domain.everyone:
                    result[~domain.has] = _CODE[Reason.SPREAD_MISSING_LABEL]
        return result

    def _skew_fails(
        self,
        pod: PodRequest,
        c: topology.SpreadConstraint,
        keys: tuple[str, ...],
        eligible: Bools | None,
    ) -> Bools:
        domain = self.domains.of(c.topology_key)
        codes, has = domain.codes, domain.has
        counts = self._count(_spread_matcher(pod, c))
        if domain.identity:
            present = self.ready if eligible is None else eligible
            per_domain = counts if eligible is None else np.where(eligible, counts, 0)
        elif eligible is None:
            present = self._present_domains(c.topology_key, keys)
            per_domain = self.domains.sums(counts, c.topology_key)
        else:
            present = np.bincount(codes[eligible], minlength=domain.count + 1) > 0
            per_domain = np.bincount(
                codes[eligible], weights=counts[eligible], minlength=domain.count + 1
            ).astype(np.int64)
        domains = int(np.count_nonzero(present))
        minimum = int(per_domain[present].min()) if domains else 0
        if c.min_domains is not None and domains < c.min_domains:
            minimum = 0
        selected = c.selector is not None and c.selector.matches(pod.labels)
        over: Bools = per_domain + int(selected) - minimum > c.max_skew
        failed: Bools = over if domain.identity else over[codes]
        return failed if domain.everyone else has & failed

    def _present_domains(self, key: str, keys: tuple[str, ...]) -> Bools:
        """Per domain of `key` (plus the spare slot): has a ready host carrying `keys`."""
        found = self._present.get((key, keys))
        if found is None:
            domain = self.domains.of(key)
            has_all = self._has_all(keys)
            eligible = self.ready & (domain.has if has_all is None else has_all)
            found = np.bincount(domain.codes[eligible], minlength=domain.count + 1) > 0
            self._present[key, keys] = found
        return found

    def _affinity_ok(self, pod: PodRequest, terms: tuple[topology.Term, ...]) -> Bools:
        counts = self._count(_affinity_matcher(pod, terms))
        ok = np.ones(self.size, dtype=np.bool_)
        has_all = np.ones(self.size, dtype=np.bool_)
        any_pair = False
        for term in terms:
            has = self.domains.of(term.topology_key).has
            ok &= self._sum(counts, term.topology_key) > 0
            has_all &= has
            any_pair = any_pair or bool((counts[has] > 0).any())
        first = all(t.matches(pod.namespace, pod.namespace, pod.labels) for t in terms)
        if not any_pair and first:
            return has_all
        return ok

    # -- preference ---------------------------------------------------------------------------

    def preferred(
        self,
        pod: PodRequest,
        fit: Bools,
        selected: Bools | None,
        node_score: Floats | None = None,
    ) -> Bools:
        """The hosts of `fit` best by the pod's preferences: highest affinity score (plus the
        preferred node affinity `node_score`), then carrying every ScheduleAnyway key, then
        fewest matching pods in those domains."""
        rules = pod.rules or topology.Rules()
        score: Floats | Ints | None = node_score
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
            keys = tuple(c.topology_key for c in soft)
            eligible = self._eligible(soft, selected)
            total: Ints | None = None
            for c in soft:
                counts = self._count(_spread_matcher(pod, c))
                part = self._sum(counts, c.topology_key, eligible)
                total = part if total is None else total + part
            assert total is not None
            has_all = self._has_all(keys)
            carrying = self.domains.of(keys[0]).has if has_all is None else has_all
            # A host missing a key ranks after every host carrying them all.
            keyed = np.where(candidates & carrying, total, _NONE)
            least = keyed.min()
            if least != _NONE:
                candidates = candidates & (keyed == least)
        return candidates
