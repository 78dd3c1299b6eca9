"""The STATUS, SINCE and REASON of `get hosts`: the daemon's recorded host condition (its state
database on this machine, see `controllers.hosthealth`) when there is one, else what this
command saw (Ready, or Unknown for a host that did not answer now); `SchedulingDisabled` is
added for a cordoned host, as kubectl shows it, and `Draining` (Deployment pods still there) or
`Drained` for a host being drained.
"""

from __future__ import annotations

import time
from typing import Any

from reconciler.controllers import hostconditions
from reconciler.model import cordon, hoststate, objects
from reconciler.state import store as storemod

Condition = hostconditions.Condition


def recorded(store: storemod.Store) -> dict[str, hostconditions.Condition]:
    """The daemon's host conditions, by host name."""
    found = (hostconditions.Condition.from_record(raw) for raw in store.host_conditions())
    return {c.host: c for c in found if c is not None}


def columns(
    host: objects.Host,
    seen: hoststate.HostObservation | None,
    conditions: dict[str, hostconditions.Condition],
    now: float | None = None,
) -> dict[str, Any]:
    """`status`, `since` (an age, "" when not known) and `reason` of one host's row."""
    now = time.time() if now is None else now
    condition = conditions.get(host.meta.name)
    if condition is not None:
        status, reason = str(condition.status), str(condition.reason)
        since = _age(now - condition.since)
    elif seen is not None and seen.reachable:
        status, reason, since = str(hostconditions.Status.READY), "", ""
    else:
        status, reason, since = str(hostconditions.Status.UNKNOWN), "", ""
    if not cordon.schedulable(host):
        status += ",SchedulingDisabled"
    if cordon.draining(host.meta) and seen is not None and seen.reachable:
        status += ",Draining" if any(pod.owner for pod in seen.pods) else ",Drained"
    return {"status": status, "since": since, "reason": reason}


def _age(seconds: float) -> str:
    whole = max(0, int(seconds))
    for unit, size, below in (("s", 1, 120), ("m", 60, 2 * 3600), ("h", 3600, 48 * 3600)):
        if whole < below:
            return f"{whole // size}{unit}"
    return f"{whole // 86400}d"
