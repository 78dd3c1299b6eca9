"""Topology spread and pod (anti-)affinity for one pod, from the count columns of
`interpodcols`: which hosts its required rules block (and, for a pod no host takes, the first
failing rule per host), and which of the remaining hosts its preferred rules rank first.

Called by `placement` for each pod with rules or matched by other pods' terms; the semantics
are those of `interpod` (the reference), which tests check this against. Pure, no I/O.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from reconciler.scheduler import interpodcols, topology
from reconciler.scheduler.inputs import PodRequest
from reconciler.scheduler.result import FILTER_ORDER, Reason

Bools = NDArray[np.bool_]
Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
Codes = NDArray[np.int8]

_CODE = {reason: number for number, reason in enumerate(FILTER_ORDER, start=1)}
_NONE = np.iinfo(np.int64).max  # a total no host has


def _either(first: Bools | None, second: Bools) -> Bools:
    return second if first is None else first | second


def blocked(cols: interpodcols.Columns, pod: PodRequest, selected: Bools | None) -> Bools | None:
    """Per host: some required rule fails (`failures` is not 0); None when none applies.
    `selected`: the hosts passing the pod's nodeSelector and node affinity (None: every host)."""
    found: Bools | None = None
    for held, holders in cols.held_about(pod):
        if held[4]:
            found = _either(found, cols.sum(holders, held[2]) > 0)
    if pod.rules is None:
        return found
    own = cols.resolved(pod)
    for counts, key in own.anti:
        found = _either(found, cols.sum(counts, key) > 0)
    if pod.rules.affinity:
        found = _either(found, ~_affinity_ok(cols, pod, own.affinity, pod.rules.affinity))
    if own.hard:
        eligible = cols.eligible(own.hard_keys, selected)
        for c, counts in own.hard:
            skewed = _skew_fails(cols, pod, c, counts, keys=own.hard_keys, eligible=eligible)
            found = _either(found, skewed)
            domain = cols.domains.of(c.topology_key)
            if not domain.everyone:
                found = _either(found, ~domain.has)
    return found


def failures(cols: interpodcols.Columns, pod: PodRequest, selected: Bools | None) -> Codes:
    """Per host the first failing rule's filter code (0: passes): spread constraints first
    (in their order), then the pod's affinity, its anti-affinity, existing pods'
    anti-affinity (kube-scheduler's order)."""
    result = np.zeros(cols.size, dtype=np.int8)
    for held, holders in cols.held_about(pod):
        if held[4]:
            result[cols.sum(holders, held[2]) > 0] = _CODE[Reason.EXISTING_ANTI_AFFINITY]
    if pod.rules is None:
        return result
    own = cols.resolved(pod)
    for counts, key in reversed(own.anti):
        result[cols.sum(counts, key) > 0] = _CODE[Reason.POD_ANTI_AFFINITY]
    if pod.rules.affinity:
        ok = _affinity_ok(cols, pod, own.affinity, pod.rules.affinity)
        result[~ok] = _CODE[Reason.POD_AFFINITY]
    if own.hard:
        eligible = cols.eligible(own.hard_keys, selected)
        for c, counts in reversed(own.hard):
            skewed = _skew_fails(cols, pod, c, counts, keys=own.hard_keys, eligible=eligible)
            result[skewed] = _CODE[Reason.SPREAD_SKEW]
            result[~cols.domains.of(c.topology_key).has] = _CODE[Reason.SPREAD_MISSING_LABEL]
    return result


def _skew_fails(
    cols: interpodcols.Columns,
    pod: PodRequest,
    c: topology.SpreadConstraint,
    counts: Ints,
    *,
    keys: tuple[str, ...],
    eligible: Bools | None,
) -> Bools:
    domain = cols.domains.of(c.topology_key)
    if domain.identity:
        present = cols.ready if eligible is None else eligible
        per_domain = counts if eligible is None else np.where(eligible, counts, 0)
    else:
        present = cols.present_domains(c.topology_key, keys, eligible)
        per_domain = cols.domains.sums(counts, c.topology_key, eligible)
    domains = int(np.count_nonzero(present))
    minimum = int(per_domain[present].min()) if domains else 0
    if c.min_domains is not None and domains < c.min_domains:
        minimum = 0
    selected = c.selector is not None and c.selector.matches(pod.labels)
    over: Bools = per_domain + int(selected) - minimum > c.max_skew
    failed: Bools = over if domain.identity else over[domain.codes]
    return failed if domain.everyone else domain.has & failed


def _affinity_ok(
    cols: interpodcols.Columns, pod: PodRequest, counts: Ints, terms: tuple[topology.Term, ...]
) -> Bools:
    ok = np.ones(cols.size, dtype=np.bool_)
    has_all = np.ones(cols.size, dtype=np.bool_)
    any_pair = False
    for term in terms:
        has = cols.domains.of(term.topology_key).has
        ok &= cols.sum(counts, term.topology_key) > 0
        has_all &= has
        any_pair = any_pair or bool((counts[has] > 0).any())
    first = all(t.matches(pod.namespace, pod.namespace, pod.labels) for t in terms)
    if not any_pair and first:
        return has_all
    return ok


def prefers(cols: interpodcols.Columns, pod: PodRequest) -> bool:
    """Whether `preferred` can narrow the hosts (preferred terms, its own or other pods'
    about it, or ScheduleAnyway constraints)."""
    if pod.rules is not None:
        own = cols.resolved(pod)
        if own.weighted or own.soft:
            return True
    return any(held[3] for held, _ in cols.held_about(pod))


def preferred(
    cols: interpodcols.Columns,
    pod: PodRequest,
    fit: Bools,
    selected: Bools | None,
    node_score: Floats | None = None,
) -> Bools:
    """The hosts of `fit` best by the pod's preferences: highest affinity score (plus the
    preferred node affinity `node_score`), then carrying every ScheduleAnyway key, then
    fewest matching pods in those domains."""
    own = cols.resolved(pod)
    # Weighted counts summed per domain of each key first, then read per host once per key.
    by_key: dict[str, Ints] = {}
    weighted = [*own.weighted]
    weighted += [(held[3], holders, held[2]) for held, holders in cols.held_about(pod) if held[3]]
    for weight, counts, key in weighted:
        domain = cols.domains.of(key)
        part = weight * (counts if domain.identity else cols.domains.sums(counts, key))
        found = by_key.get(key)
        by_key[key] = part if found is None else found + part
    score: Floats | Ints | None = node_score
    for key, sums in by_key.items():
        domain = cols.domains.of(key)
        part = sums if domain.identity else sums[domain.codes]
        score = part if score is None else score + part
    candidates = fit
    if score is not None:
        masked = np.where(candidates, score, -np.inf)
        candidates = candidates & (masked == masked.max())
    if own.soft:
        eligible = cols.eligible(own.soft_keys, selected)
        total: Ints | None = None
        for c, counts in own.soft:
            part = cols.sum(counts, c.topology_key, eligible)
            total = part if total is None else total + part
        assert total is not None
        # A host missing a key ranks after every host carrying them all.
        keys = own.soft_keys
        everyone = cols.has_all(keys) is None and cols.domains.of(keys[0]).everyone
        ranked = candidates if everyone else candidates & cols.carrying(keys)
        keyed = np.where(ranked, total, _NONE)
        least = keyed.min()
        if least != _NONE:
            candidates = candidates & (keyed == least)
    return candidates
