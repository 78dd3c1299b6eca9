"""Desired pods that wait for an object nothing declares, as Kubernetes shows them: a missing
ConfigMap or Secret (or one of its keys) is `CreateContainerConfigError`, a missing claim is
`Pending`. The plan never creates such a pod (`pipeline` holds it, and keeps its owner's running
pods); `get pods` and `describe pod` list it from the repository, as it runs on no host.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.model import diagnostics, hoststate, objects
from reconciler.plan import expand, refs, resolve

CONFIG_ERROR = "CreateContainerConfigError"
PENDING = "Pending"
CLAIM_FIELD = "persistentVolumeClaim"


@dataclass(frozen=True)
class Waiting:
    pod: expand.DesiredPod
    reason: str  # CONFIG_ERROR or PENDING
    message: str  # the field path and what is missing (no secret value: names only)


def reason_of(exc: refs.ResolveError) -> str:
    return PENDING if CLAIM_FIELD in exc.path else CONFIG_ERROR


def waiting(
    desired: objects.DesiredState, observed: Iterable[hoststate.ObservedPod]
) -> list[Waiting]:
    """Every desired pod found on no host whose ConfigMap, Secret, key or claim is missing."""
    observed = list(observed)
    seen = {pod.key for pod in observed}
    found = []
    for pod in expand.expand(desired, observed):
        if pod.key in seen:
            continue
        try:
            resolve.resolve(pod, desired, resolve.Policy())
        except refs.ResolveError as exc:
            if exc.code is diagnostics.Code.MISSING_REFERENCE:
                found.append(Waiting(pod, reason_of(exc), f"{exc.path}: {exc.message}"))
    return found


def rows(
    desired: objects.DesiredState,
    observations: Mapping[str, hoststate.HostObservation],
    namespace: str,
) -> list[dict[str, Any]]:
    """`get pods` rows of the waiting pods, in the columns of `get.pod_row`."""
    observed = [p for seen in observations.values() for p in seen.pods]
    return [
        row(w.pod, w.reason, w.message)
        for w in waiting(desired, observed)
        if not namespace or w.pod.namespace == namespace
    ]


def row(
    pod: expand.DesiredPod, status: str, message: str, host: str = "", address: str = ""
) -> dict[str, Any]:
    """The `get pods` row (columns of `get.pod_row`) of a desired pod that runs on no host."""
    return {
        "namespace": pod.namespace, "name": pod.name,
        "ready": f"0/{len(pod.spec.containers)}", "status": status, "restarts": 0,
        "host": host, "address": address, "owner": pod.owner, "revision": "",
        "images": sorted({c.image for c in pod.spec.containers}), "created": "",
        "message": message,
    }  # fmt: skip


def describe_text(row: Mapping[str, Any]) -> str:
    """`describe pod` of a waiting pod (a `rows` row)."""
    what = "a claim it mounts" if row["status"] == PENDING else "an object it uses"
    return "\n".join([
        f"Name:         {row['name']}",
        f"Namespace:    {row['namespace']}",
        "Host:         <none>",
        f"Status:       {row['status']} (not created: {what} is not declared)",
        f"Owner:        {row['owner'] or '<none>'}",
        "Images:       " + ", ".join(row["images"]),
        f"Message:      {row['message']}",
        "",
    ])  # fmt: skip
