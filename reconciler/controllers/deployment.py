"""The Deployment controller: one rollout step per reconcile, pure (no I/O, `now` is an input).

From a Deployment, the template it should run, and its pods observed with their readiness, `step`
works out which pods of the target template are wanted now and which old pods stay, as Kubernetes'
deployment controller scales its new and old ReplicaSets:

- RollingUpdate: old pods are removed only while at least `replicas - maxUnavailable` pods stay
  available (Ready for `minReadySeconds`), unavailable old pods first; new pods are added while
  all pods stay within `replicas + maxSurge`. Deletions run in the plan's first wave, creations in
  the next, so a new pod may take the port or capacity an old pod frees in the same step.
- Recreate: every old pod is removed first; no new pod is created while an old one is observed.
- A stalled rollout (past `progressDeadlineSeconds`) changes nothing: the pods that serve stay.

hostPorts: an old pod that stays keeps its hostPort; the scheduler sees it (it is passed on as a
kept pod) and puts a surge pod that needs the same port on another host. When no other host has
the port free, the surge pod waits (unschedulable) unless `maxUnavailable` lets an old pod go
first, which then frees the port in the same step: the port conflict counts against
maxUnavailable, never against availability.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reconciler.model import hoststate, workloads
from reconciler.plan import expand


@dataclass(frozen=True)
class Counts:
    """kubectl's columns for a Deployment: READY ready/replicas, UP-TO-DATE updated, AVAILABLE."""

    replicas: int
    current: int = 0  # pods observed, old and new
    updated: int = 0  # pods of the target template
    ready: int = 0
    available: int = 0
    updated_available: int = 0


@dataclass(frozen=True)
class Step:
    """What one reconcile does for one Deployment (see the module docstring)."""

    pods: tuple[expand.DesiredPod, ...]  # target-template pods wanted now (kept or to create)
    keep: tuple[hoststate.ObservedPod, ...]  # old pods left running in this step
    remove: tuple[hoststate.ObservedPod, ...]  # old pods removed in this step
    template_hash: str
    counts: Counts
    complete: bool  # every replica runs the target template, available; no old pod left
    waiting: str = ""  # what the rollout waits for, when not complete


def surge_and_unavailable(deployment: workloads.Deployment) -> tuple[int, int]:
    """maxSurge rounded up and maxUnavailable rounded down against `replicas`, as Kubernetes
    does; both 0 cannot be (validate refuses it), and maxUnavailable 0 with maxSurge 0 after
    rounding becomes maxUnavailable 1 (Kubernetes' rule, so a rollout can always progress)."""
    if deployment.strategy is workloads.StrategyType.RECREATE:
        return 0, deployment.replicas
    rolling = deployment.rolling_update
    surge = scaled(rolling.max_surge, deployment.replicas, round_up=True)
    unavailable = scaled(rolling.max_unavailable, deployment.replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def scaled(value: int | str, replicas: int, *, round_up: bool) -> int:
    """An int, or a percentage of `replicas` ("25%")."""
    if isinstance(value, int):
        return max(0, value)
    text = str(value).strip()
    if text.endswith("%"):
        exact = replicas * float(text[:-1]) / 100
        return max(0, math.ceil(exact) if round_up else math.floor(exact))
    return max(0, int(text))


def available(pod: hoststate.ObservedPod, min_ready_seconds: int, now: float) -> bool:
    """Ready for at least `min_ready_seconds`; with 0, ready is enough, whenever it became ready
    (Kubernetes' IsPodAvailable: the prober's clock may stand a few milliseconds past `now`)."""
    ready, since = readiness(pod)
    return ready and (min_ready_seconds <= 0 or now - since >= min_ready_seconds)


def ready_at_start(deployment: workloads.Deployment) -> bool:
    """Its new pods are available as soon as their containers run: no readiness or startup
    probe, no init container, `minReadySeconds` 0. After a step made such pods, the next step
    need not wait for anything but seeing them."""
    spec = deployment.template.spec
    return (
        deployment.min_ready_seconds <= 0
        and not spec.init_containers
        and all(c.readiness_probe is None and c.startup_probe is None for c in spec.containers)
    )


def readiness(pod: hoststate.ObservedPod) -> tuple[bool, float]:
    """(ready, since). A pod the prober has annotated says so itself; otherwise (no prober ran,
    e.g. a pod without probes seen by a one-shot command) it is ready when every container runs,
    since the last container start."""
    if pod.ready is not None:
        return pod.ready, pod.ready_since
    if not pod.containers or any(c.state != "running" for c in pod.containers):
        return False, 0.0
    return True, max((_epoch(c.started_at) for c in pod.containers), default=0.0)


def _epoch(iso: str) -> float:
    if not iso:
        return 0.0
    try:
        return datetime.datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return 0.0


def step(
    deployment: workloads.Deployment,
    template: workloads.PodTemplate,
    observed: Sequence[hoststate.ObservedPod],
    now: float,
    *,
    stalled: bool = False,
    digest: str | None = None,
) -> Step:
    """One rollout step of `deployment` towards `template` (its own, or a rollback target).
    `observed` are the Deployment's pods on reachable hosts; `digest` is the template's hash
    when the caller knows it (else it is computed)."""
    digest = digest if digest is not None else expand.template_hash(template)
    new = [pod for pod in observed if pod.template_hash == digest]
    old = [pod for pod in observed if pod.template_hash != digest]
    replicas = max(deployment.replicas, 0)
    minimum = deployment.min_ready_seconds
    is_available = {pod.key: available(pod, minimum, now) for pod in observed}
    counts = Counts(
        replicas=replicas,
        current=len(observed),
        updated=len(new),
        ready=sum(1 for pod in observed if readiness(pod)[0]),
        available=sum(1 for pod in observed if is_available[pod.key]),
        updated_available=sum(1 for pod in new if is_available[pod.key]),
    )
    if stalled:
        wanted = _names(deployment, template, digest, new, len(new))
        return Step(wanted, tuple(old), (), digest, counts, False, "progress deadline exceeded")

    surge, unavailable = surge_and_unavailable(deployment)
    remove = _scale_down(
        old, new, replicas, unavailable, is_available, strategy=deployment.strategy
    )
    remaining_old = [pod for pod in old if pod not in remove]
    if deployment.strategy is workloads.StrategyType.RECREATE and old:
        target = min(len(new), replicas)  # no new pod while an old one is observed
    elif len(new) >= replicas:
        target = replicas
    else:
        room = replicas + surge - len(new) - len(remaining_old)
        target = len(new) + max(0, min(room, replicas - len(new)))
    wanted = _names(deployment, template, digest, new, target)
    complete = not old and counts.updated_available >= replicas and len(new) == replicas
    pending = _pending(new, is_available)
    return Step(
        pods=wanted,
        keep=tuple(remaining_old),
        remove=tuple(remove),
        template_hash=digest,
        counts=counts,
        complete=complete,
        waiting="" if complete else _waiting(counts, len(old), replicas, pending),
    )


def _scale_down(
    old: Sequence[hoststate.ObservedPod],
    new: Sequence[hoststate.ObservedPod],
    replicas: int,
    max_unavailable: int,
    is_available: dict[tuple[str, str], bool],
    *,
    strategy: workloads.StrategyType,
) -> list[hoststate.ObservedPod]:
    """Old pods to remove now: all for Recreate; for RollingUpdate unavailable ones first, then
    available ones while `replicas - maxUnavailable` stay available (Kubernetes'
    reconcileOldReplicaSets)."""
    if not old:
        return []
    ranked = sorted(old, key=lambda pod: _removal_rank(pod, is_available))
    if strategy is workloads.StrategyType.RECREATE:
        return ranked
    min_available = replicas - max_unavailable
    new_unavailable = sum(1 for pod in new if not is_available[pod.key])
    budget = len(old) + len(new) - min_available - new_unavailable
    if budget <= 0:
        return []
    removed = [pod for pod in ranked if not is_available[pod.key]][:budget]
    budget -= len(removed)
    available_total = sum(1 for ok in is_available.values() if ok)
    healthy_budget = min(budget, available_total - min_available)
    healthy = [pod for pod in ranked if is_available[pod.key]]
    return removed + healthy[: max(0, healthy_budget)]


def _removal_rank(
    pod: hoststate.ObservedPod, is_available: dict[tuple[str, str], bool]
) -> tuple[int, int, str, str]:
    """Unavailable first, then not running, then newest (latest created, highest name) first."""
    running = pod.phase is hoststate.PodPhase.RUNNING
    return (is_available[pod.key], running, _descending(pod.created_at), _descending(pod.name))


def _descending(text: str) -> str:
    return "".join(chr(0x10FFFF - ord(ch)) for ch in text)


def _names(
    deployment: workloads.Deployment,
    template: workloads.PodTemplate,
    digest: str,
    observed: Iterable[hoststate.ObservedPod],
    count: int,
) -> tuple[expand.DesiredPod, ...]:
    names = expand.replica_names(deployment, digest, observed, count)
    return tuple(
        expand.DesiredPod(
            namespace=deployment.meta.namespace,
            name=name,
            spec=template.spec,
            labels=template.labels,
            template_hash=digest,
            owner=expand.owner_of(deployment),
            source=deployment.source,
        )
        for name in names
    )


def _waiting(counts: Counts, old: int, replicas: int, pending: str) -> str:
    if counts.updated < replicas:
        created = f"{counts.updated} of {replicas} new pods created"
        return f"{created}, waiting for {pending}" if pending else created
    if counts.updated_available < replicas:
        waiting = replicas - counts.updated_available
        return f"waiting for {pending or f'{waiting} new pod(s) to become available'}"
    return f"{old} old pod(s) to remove"


PENDING_NAMED = 3
"""How many not yet available new pods a rollout's message names."""


def _pending(
    new: Sequence[hoststate.ObservedPod], is_available: dict[tuple[str, str], bool]
) -> str:
    """The new pods that are not available yet, named, with where to see why (their probes,
    state and events), or "" when there is none: `new pod web-x-0 to become available
    (`reconciler describe pod web-x-0 -n shop` shows why)`."""
    names = sorted(pod.name for pod in new if not is_available[pod.key])
    if not names:
        return ""
    shown = ", ".join(names[:PENDING_NAMED])
    more = f" and {len(names) - PENDING_NAMED} more" if len(names) > PENDING_NAMED else ""
    plural = "s" if len(names) > 1 else ""
    first = next(pod for pod in new if pod.name == names[0])
    return (
        f"new pod{plural} {shown}{more} to become available "
        f"(`reconciler describe pod {first.name} -n {first.namespace}` shows why)"
    )
