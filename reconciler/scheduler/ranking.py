"""The last step of `placement` for one pod: among the hosts left after the filters and the
preferred rules, the winner (fewest replicas of the pod's owner, then fewest untolerated
PreferNoSchedule taints, then most free capacity, then the lowest host name); and the
replica counts per owner that step reads. Pure, no I/O.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from reconciler.scheduler.inputs import PodRequest

Bools = NDArray[np.bool_]
Ints = NDArray[np.int64]
Floats = NDArray[np.float64]

_NEVER = np.iinfo(np.int64).max  # a key no candidate has


@dataclass(frozen=True)
class Penalty:
    """Untolerated PreferNoSchedule taints per host for one pod shape."""

    per_host: Ints | None  # None when zero on every host
    base: int  # one more than the largest penalty
    hosts: NDArray[np.intp]  # the hosts with a penalty


def best(
    masked: Floats, owned: bool, spread: Ints | None, spread_hosts: list[int], penalty: Penalty
) -> int | None:
    """The winning host, or None if there is no candidate. `masked` is each candidate's free
    capacity score and -inf for every other host (scores are finite); `owned`: it may be
    changed in place. `spread`: the owner's replicas per host (None: none anywhere), non-zero
    exactly on `spread_hosts`."""
    if spread is None and penalty.per_host is None:
        host = int(masked.argmax())
        return host if masked[host] > -np.inf else None
    # Most often some candidate has neither a replica nor a penalty: the best of those.
    zero = masked if owned else masked.copy()
    kept = (zero[spread_hosts], zero[penalty.hosts]) if owned else None  # copies, to put back
    zero[spread_hosts] = -np.inf
    zero[penalty.hosts] = -np.inf
    host = int(zero.argmax())
    if zero[host] > -np.inf:
        return host
    if kept is not None:
        zero[spread_hosts], zero[penalty.hosts] = kept
    candidates = masked > -np.inf
    if not candidates.any():
        return None
    # Spread and penalty as one integer key: spread * (max penalty + 1) + penalty orders
    # hosts exactly as the pair (spread, penalty) does.
    key = spread
    if penalty.per_host is not None:
        key = penalty.per_host if key is None else key * penalty.base + penalty.per_host
    assert key is not None
    keyed = np.where(candidates, key, _NEVER)
    return int(np.argmax(np.where(keyed == keyed.min(), masked, -np.inf)))


class Spread:
    """Replicas per owner per host, kept dense only while the owner has pods still to place,
    with the hosts that have one."""

    def __init__(
        self, hosts: int, bound: dict[str, Counter[int]], pending: list[PodRequest]
    ) -> None:
        self._hosts = hosts
        self._bound = bound
        self._remaining = Counter(pod.owner for pod in pending if pod.owner is not None)
        self._dense: dict[str, tuple[Ints, list[int]]] = {}

    def counts(self, owner: str | None) -> tuple[Ints | None, list[int]]:
        """Current counts for the owner's next pod (None if they are all zero), and the hosts
        where they are not zero."""
        if owner is None:
            return None, []
        found = self._dense.get(owner)
        if found is None and owner in self._bound:
            dense = np.zeros(self._hosts, dtype=np.int64)
            hosts = []
            for host, n in self._bound.pop(owner).items():
                dense[host] = n
                hosts.append(host)
            found = self._dense[owner] = (dense, hosts)
        return found if found is not None else (None, [])

    def placed(self, owner: str | None, host: int | None) -> None:
        """Record the outcome of the owner's next pod (host None: unschedulable)."""
        if owner is None:
            return
        self._remaining[owner] -= 1
        if self._remaining[owner] == 0:
            self._dense.pop(owner, None)
            return
        if host is not None:
            found = self._dense.get(owner)
            if found is None:
                found = self._dense[owner] = (np.zeros(self._hosts, dtype=np.int64), [])
            dense, hosts = found
            if not dense[host]:
                hosts.append(host)
            dense[host] += 1
