"""Topology domains for `interpodcols`: per topology key, each host's domain, and per-domain
sums of host count columns kept up to date as pods are placed, so a rule reads its counts per
domain with one lookup per host instead of summing every host's count again for each pod.

A count column is watched from the first time its sums are asked for; whoever adds to a column
calls `added` for each increment. Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from reconciler.scheduler import topology
from reconciler.scheduler.inputs import HostInfo

Bools = NDArray[np.bool_]
Ints = NDArray[np.int64]
Codes = NDArray[np.intp]


class Domain:
    """One topology key over the hosts: `codes` per host (-1 without the key), `count`
    values, `has` the key, `identity` (every host is its own domain, in host order)."""

    __slots__ = ("codes", "count", "everyone", "has", "identity")

    def __init__(self, hosts: Sequence[HostInfo], key: str) -> None:
        values: dict[str, int] = {}
        self.codes: Codes = np.array(
            [
                -1 if (v := topology.host_label(h.labels, h.name, key)) is None
                else values.setdefault(v, len(values))
                for h in hosts
            ],
            dtype=np.intp,
        )  # fmt: skip
        self.count = len(values)
        self.has: Bools = self.codes >= 0
        self.everyone = bool(self.has.all())
        self.identity = len(values) == len(hosts) and bool(
            (self.codes == np.arange(len(hosts))).all()
        )


class Domains:
    """Domains by key, and per-domain sums of watched count columns."""

    def __init__(self, hosts: Sequence[HostInfo]) -> None:
        self._hosts = hosts
        self._by_key: dict[str, Domain] = {}
        # (id of a count column, key, id of the hosts counted or of None) -> its sums per
        # domain, with a last spare slot that stays 0 (code -1 reads it).
        self._sums: dict[tuple[int, str, int], Ints] = {}
        self._watch: dict[int, list[tuple[Codes, Ints, Bools | None]]] = {}
        self._keep: list[tuple[Ints, Bools | None]] = []

    def of(self, key: str) -> Domain:
        found = self._by_key.get(key)
        if found is None:
            found = self._by_key[key] = Domain(self._hosts, key)
        return found

    def sums(self, values: Ints, key: str, over: Bools | None = None) -> Ints:
        """Per domain of `key` (plus the spare slot): the sum of `values` over its hosts (only
        those of `over`, if given: an array that must not change while this object lives)."""
        found = self._sums.get((id(values), key, id(over)))
        if found is None:
            domain = self.of(key)
            use = domain.has if over is None else domain.has & over
            found = np.bincount(
                domain.codes[use], weights=values[use], minlength=domain.count + 1
            ).astype(np.int64)
            self._sums[id(values), key, id(over)] = found
            self._watch.setdefault(id(values), []).append((domain.codes, found, over))
            self._keep.append((values, over))  # their ids must not be reused while watched
        return found

    def per_host(self, values: Ints, key: str) -> Ints:
        """Per host: the sum of `values` over its domain of `key`; 0 for a host without it.
        Read only: it may be `values` itself."""
        domain = self.of(key)
        if domain.identity:
            return values
        result: Ints = self.sums(values, key)[domain.codes]
        return result

    def added(self, values: Ints, host: int) -> None:
        """`values[host]` has just gone up by one."""
        for codes, sums, over in self._watch.get(id(values), ()):
            code = codes[host]
            if code >= 0 and (over is None or over[host]):
                sums[code] += 1
