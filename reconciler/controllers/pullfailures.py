"""Pods whose image pull failed (`ErrImagePull`), as Kubernetes shows them: the daemon counts
each pod's failed pulls in a row, asks for the next sync after a back-off (10 s doubling to
5 min), marks the pod's Ready condition `ErrImagePull` then `ImagePullBackOff`, and records a
Warning event per failure. `get pods` lists such pods (not on any host) from those conditions.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.model import hoststate, objects
from reconciler.plan import configwait, expand
from reconciler.state import conditions as cond

ERR_IMAGE_PULL = "ErrImagePull"
IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
REASONS = frozenset({ERR_IMAGE_PULL, IMAGE_PULL_BACK_OFF})
FIRST_DELAY = 10.0
MAX_DELAY = 300.0
_HOST = re.compile(r" on host (\S+): ")

Key = tuple[str, str]


def is_pull_failure(result: hoststate.ActionResult) -> bool:
    """A create or replace that failed because an image could not be pulled."""
    return (
        result.outcome is hoststate.Outcome.FAILED
        and result.action.kind in (hoststate.ActionKind.CREATE, hoststate.ActionKind.REPLACE)
        and f"{ERR_IMAGE_PULL}: " in result.message
    )


def delay(failures: int) -> float:
    """Seconds until the next try after `failures` failed pulls in a row."""
    return min(MAX_DELAY, FIRST_DELAY * float(2 ** max(0, failures - 1)))


@dataclass
class PullBackOff:
    """Failed pulls in a row per pod, and when each pod's pull is tried again."""

    failures: dict[Key, int] = field(default_factory=dict)
    due: dict[Key, float] = field(default_factory=dict)

    def update(self, results: Iterable[hoststate.ActionResult], now: float) -> None:
        """Count the failed pulls of a sync's results; a pod created or replaced is cleared."""
        for result in results:
            key = (result.action.namespace, result.action.name)
            if is_pull_failure(result):
                self.failures[key] = self.failures.get(key, 0) + 1
                self.due[key] = now + delay(self.failures[key])
            elif result.outcome is hoststate.Outcome.DONE:
                self.failures.pop(key, None)
                self.due.pop(key, None)

    def forget_except(self, keys: Iterable[Key]) -> None:
        """Drop the pods no longer desired."""
        wanted = set(keys)
        for key in [k for k in self.failures if k not in wanted]:
            self.failures.pop(key, None)
            self.due.pop(key, None)

    def reason(self, key: Key) -> str:
        """`ErrImagePull` after one failure, `ImagePullBackOff` after more; "" when none."""
        count = self.failures.get(key, 0)
        return "" if not count else ERR_IMAGE_PULL if count == 1 else IMAGE_PULL_BACK_OFF

    def requeue_after(self, now: float) -> float | None:
        """Seconds until the earliest pod is due for another pull; None when none waits."""
        if not self.due:
            return None
        return max(1.0, min(self.due.values()) - now)

    def events(
        self, results: Iterable[hoststate.ActionResult]
    ) -> list[tuple[cond.EventKind, str, str, str]]:
        """A Warning event per failed pull, with the pod's reason (after `update`)."""
        return [
            (cond.EventKind.WARNING, f"Pod/{r.action.namespace}/{r.action.name}",
             self.reason((r.action.namespace, r.action.name)) or ERR_IMAGE_PULL, r.message)
            for r in results
            if is_pull_failure(r)
        ]  # fmt: skip

    def relabel(self, conditions: Sequence[cond.Condition]) -> list[cond.Condition]:
        """Pod conditions of failed pulls get the reason `ErrImagePull`/`ImagePullBackOff`
        instead of `ApplyFailed`."""
        out = []
        for condition in conditions:
            key = (condition.namespace, condition.name)
            reason = self.reason(key) if condition.kind == "Pod" else ""
            pulled = f"{ERR_IMAGE_PULL}: " in condition.message
            failed = condition.reason == cond.Reason.APPLY_FAILED
            out.append(dataclasses.replace(condition, reason=reason)
                       if reason and pulled and failed else condition)  # fmt: skip
        return out


def rows(
    desired: objects.DesiredState,
    observations: Mapping[str, hoststate.HostObservation],
    conditions: Iterable[cond.Condition],
    namespace: str,
) -> list[dict[str, Any]]:
    """`get pods` rows of desired pods found on no host whose last sync failed their pull
    (the daemon's conditions), in the columns of `get.pod_row`."""
    observed = [p for seen in observations.values() for p in seen.pods]
    addresses = {h.meta.name: h.address for h in desired.hosts}
    seen = {p.key for p in observed}
    pods = {p.key: p for p in expand.expand(desired, observed)}
    found = []
    for c in conditions:
        key = (c.namespace, c.name)
        if c.kind != "Pod" or c.reason not in REASONS or key in seen or key not in pods:
            continue
        if namespace and c.namespace != namespace:
            continue
        pod = pods[key]
        match = _HOST.search(c.message)
        host = match.group(1) if match else ""
        found.append(configwait.row(pod, c.reason, c.message, host, addresses.get(host, "")))
    return found


def describe_text(row: Mapping[str, Any]) -> str:
    """`describe pod` of a pod that no host runs because its pull failed (a `rows` row)."""
    host = f"{row['host']} ({row['address']})" if row["address"] else row["host"] or "<none>"
    return "\n".join([
        f"Name:         {row['name']}",
        f"Namespace:    {row['namespace']}",
        f"Host:         {host}",
        f"Status:       {row['status']} (not created: an image could not be pulled)",
        f"Owner:        {row['owner'] or '<none>'}",
        "Images:       " + ", ".join(row["images"]),
        f"Message:      {row['message']}",
        "",
    ])  # fmt: skip
