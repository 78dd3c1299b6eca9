"""Topology spread and pod (anti-)affinity as numpy columns, for `placement`: per host, how
many placed pods match each selector in use and how many pods hold each term, kept up to date
as pods are placed, with their sums per topology domain (`domainsums`); `interpodrules`
evaluates a pod's filter and preference from them.

Built only when some pod has `rules`; the semantics are those of `interpod` (the reference),
which tests check this against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from reconciler.scheduler import domainsums, topology
from reconciler.scheduler.inputs import HostInfo, PodRequest

Bools = NDArray[np.bool_]
Ints = NDArray[np.int64]
Floats = NDArray[np.float64]

# A matcher is a conjunction of (namespaces, selector) clauses: a pod matches when it is in
# every clause's namespaces and matches every selector.
_Clause = tuple[frozenset[str], topology.LabelSelector]
_Matcher = tuple[_Clause, ...]
# A held term: (namespaces, selector, topology key, score weight, filters).
_Held = tuple[frozenset[str], topology.LabelSelector, str, int, bool]
_PodKey = tuple[str, tuple[tuple[str, str], ...]]
_NO_RULES = topology.Rules()


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


@dataclass(frozen=True)
class Resolved:
    """A pod's own rules with their count columns: anti-affinity (counts, key); the
    conjunction of its affinity terms; DoNotSchedule and ScheduleAnyway constraints with their
    keys; preferred terms (signed weight, counts, key)."""

    anti: tuple[tuple[Ints, str], ...]
    affinity: Ints
    hard: tuple[tuple[topology.SpreadConstraint, Ints], ...]
    hard_keys: tuple[str, ...]
    soft: tuple[tuple[topology.SpreadConstraint, Ints], ...]
    soft_keys: tuple[str, ...]
    weighted: tuple[tuple[int, Ints, str], ...]


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
        self._present: dict[tuple[str, tuple[str, ...], int], Bools] = {}
        self._eligible: dict[tuple[tuple[str, ...], int], Bools] = {}
        self._keep_selected: list[Bools | None] = []
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
        self._last: tuple[PodRequest | None, _PodKey] = (None, ("", ()))
        self._holds: dict[tuple[str, int], list[Ints]] = {}
        self._resolved: dict[tuple[str, int], Resolved] = {}
        self._keep_rules: list[topology.Rules] = []

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
        """(namespace, sorted labels); the last pod's again when this one has the same (asked
        when filtering and placing, and replicas come one after another)."""
        last, key = self._last
        if last is not pod and (
            last is None or pod.labels != last.labels or pod.namespace != last.namespace
        ):
            key = _pod_key(pod)
        self._last = (pod, key)
        return key

    def involved(self, pod: PodRequest) -> bool:
        return pod.rules is not None or bool(self.held_about(pod))

    def resolved(self, pod: PodRequest) -> Resolved:
        """The count columns of the pod's own rules (found once per namespace and rules)."""
        rules = pod.rules or _NO_RULES
        key = (pod.namespace, id(rules))
        found = self._resolved.get(key)
        if found is None:
            ns = pod.namespace
            weighted = [(w.weight, w.term) for w in rules.preferred_affinity]
            weighted += [(-w.weight, w.term) for w in rules.preferred_anti_affinity]
            found = self._resolved[key] = Resolved(
                anti=tuple(
                    (self.count(_term_matcher(t, ns)), t.topology_key) for t in rules.anti_affinity
                ),
                affinity=self.count(_affinity_matcher(pod, rules.affinity))
                if rules.affinity
                else self._zeros,
                hard=tuple((c, self.count(_spread_matcher(pod, c))) for c in rules.hard_spread),
                hard_keys=tuple(c.topology_key for c in rules.hard_spread),
                soft=tuple((c, self.count(_spread_matcher(pod, c))) for c in rules.soft_spread),
                soft_keys=tuple(c.topology_key for c in rules.soft_spread),
                weighted=tuple(
                    (weight, self.count(_term_matcher(term, ns)), term.topology_key)
                    for weight, term in weighted
                ),
            )
            self._keep_rules.append(rules)  # its id must stay its own
        return found

    def count(self, matcher: _Matcher | None) -> Ints:
        return self._zeros if matcher is None else self._counts[matcher]

    # -- domains ------------------------------------------------------------------------------
    # A pod is only ever counted on a ready host (kept on a ready host or placed where it fits),
    # so every count column is 0 on the hosts that are not ready: counting over the ready hosts
    # of a domain is counting over all of them.

    def sum(self, values: Ints, key: str, eligible: Bools | None = None) -> Ints:
        """Per host: the sum of `values` over the `eligible` hosts of its domain (None: every
        host; else an array of `eligible`), 0 for a host without the key. Read only: it may
        be `values` itself."""
        if eligible is None:
            return self.domains.per_host(values, key)
        domain = self.domains.of(key)
        if domain.identity:
            return np.where(eligible, values, 0)
        result: Ints = self.domains.sums(values, key, eligible)[domain.codes]
        return result

    def has_all(self, keys: tuple[str, ...]) -> Bools | None:
        """The hosts carrying every key; None when each host carrying the first carries all
        (then the first key's domains alone say who is eligible)."""
        if keys not in self._everywhere:
            has = np.ones(self.size, dtype=np.bool_)
            for key in keys:
                has &= self.domains.of(key).has
            same = all(bool((self.domains.of(key).has == has).all()) for key in keys)
            self._everywhere[keys] = None if same else has
        return self._everywhere[keys]

    def carrying(self, keys: tuple[str, ...]) -> Bools:
        """The hosts carrying every key."""
        has_all = self.has_all(keys)
        return self.domains.of(keys[0]).has if has_all is None else has_all

    def eligible(self, keys: tuple[str, ...], selected: Bools | None) -> Bools | None:
        """The hosts whose pods a spread constraint over `keys` counts (ready, selected by the
        pod's node selector and affinity, carrying every key); None when that is every host
        carrying each constraint's own key (as far as counts go: see above). The same array
        for the same arguments, so that sums over it can be kept."""
        if selected is None and self.has_all(keys) is None:
            return None
        found = self._eligible.get((keys, id(selected)))
        if found is None:
            eligible = self.ready & self.carrying(keys)
            found = eligible if selected is None else eligible & selected
            self._eligible[keys, id(selected)] = found
            self._keep_selected.append(selected)  # its id must stay its own
        return found

    def present_domains(self, key: str, keys: tuple[str, ...], eligible: Bools | None) -> Bools:
        """Per domain of `key` (plus the spare slot): has a ready host carrying `keys` (and in
        `eligible`, an array of `eligible`, if given)."""
        found = self._present.get((key, keys, id(eligible)))
        if found is None:
            domain = self.domains.of(key)
            hosts = self.ready & self.carrying(keys) if eligible is None else eligible
            found = np.bincount(domain.codes[hosts], minlength=domain.count + 1) > 0
            self._present[key, keys, id(eligible)] = found
        return found
