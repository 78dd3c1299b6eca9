"""The scheduler's shortcut for a reconcile with nothing to place: when every pod is bound to a
known, ready host, `placement.schedule` would keep each where it is, so the answer is known
without building its numpy columns (a no-op `apply` and a resting daemon never import numpy).

Called by `plan.binding` before `placement.schedule`; pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

from reconciler.scheduler import predicates
from reconciler.scheduler.inputs import HostInfo, PodRequest
from reconciler.scheduler.result import Placement


def all_kept(hosts: Sequence[HostInfo], pods: Sequence[PodRequest]) -> Placement | None:
    """Every pod on its bound host when each is bound to a known ready host; None otherwise
    (then `placement.schedule` decides). Raises ValueError on duplicates, as `schedule` does."""
    by_name = predicates.unique_hosts(list(hosts))
    bindings: dict[str, str] = {}
    for pod in predicates.pods_in_order(list(pods)):
        host = by_name.get(pod.bound_host) if pod.bound_host is not None else None
        if host is None or not host.ready:
            return None
        bindings[pod.key] = host.name
    return Placement(bindings=MappingProxyType(bindings), unschedulable=())
