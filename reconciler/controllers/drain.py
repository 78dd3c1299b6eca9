"""The drain controller, as `kubectl drain` through git: a Host annotated
`reconciler.dev/drain: "true"` is cordoned (`model.cordon`) and its Deployment pods are moved
away a few at a time. A step of `sync.STEPS` after the prober: `evict` picks the pods to move
now and hides them from the pass, so the Deployment controller re-creates them (same names) on
hosts that take new pods; `hostpass.fence` then deletes the hidden copies in the plan's first wave.

Budget per reconcile: a Deployment's `maxUnavailable` less its pods unavailable now, and every
`PodDisruptionBudget` covering its pods (disruptionsAllowed, Kubernetes' rule); moving an
unavailable pod costs nothing. Bare Pods are never moved (kubectl drain refuses them without
--force): they stay on the drained host. Without the controllers (the dry-run `diff`) the plan
is the end state: every Deployment pod off the draining hosts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reconciler.controllers import deployment as deploymentctl
from reconciler.controllers import hostpass
from reconciler.model import cordon, disruption, hoststate, objects
from reconciler.plan import expand

if TYPE_CHECKING:
    from reconciler.controllers import sync

REQUEUE = 1.0
"""Seconds until the next reconcile while a drain waits for moved pods to become available."""


@dataclass(frozen=True)
class Verdict:
    evict: tuple[hoststate.ObservedPod, ...]
    waiting: tuple[str, ...]  # "Deployment ns/name: ..." for pods that must wait


def budgets_of(state: objects.DesiredState) -> tuple[disruption.PodDisruptionBudget, ...]:
    return tuple(o for o in state if isinstance(o, disruption.PodDisruptionBudget))


def draining_hosts(state: objects.DesiredState) -> frozenset[str]:
    return frozenset(h.meta.name for h in state.hosts if cordon.draining(h.meta))


def judge(
    state: objects.DesiredState,
    pods: Sequence[hoststate.ObservedPod],
    now: float,
    *,
    end_state: bool = False,
) -> Verdict:
    """Which Deployment pods on draining hosts move now (`pods`: every pod seen on hosts that
    answered, with readiness where the prober knows it)."""
    draining = draining_hosts(state)
    if not draining:
        return Verdict((), ())
    budgets = budgets_of(state)
    deployments = {(d.meta.namespace, expand.owner_of(d)): d for d in state.deployments}
    allowance = {b.key: b.allowed(*_counts(b, state, pods, now)) for b in budgets}
    evict: list[hoststate.ObservedPod] = []
    waiting: list[str] = []
    for (namespace, owner), deployment in sorted(deployments.items()):
        mine = [p for p in pods if p.namespace == namespace and p.owner == owner]
        there = sorted((p for p in mine if p.host in draining), key=lambda p: (p.host, p.name))
        if not there:
            continue
        if end_state:
            evict.extend(there)
            continue
        _, max_unavailable = deploymentctl.surge_and_unavailable(deployment)
        ready = {p.key: deploymentctl.available(p, deployment.min_ready_seconds, now)
                 for p in mine}  # fmt: skip
        budget = max_unavailable - max(0, deployment.replicas - sum(ready.values()))
        covering = [b for b in budgets if b.selects(namespace, deployment.template.labels)]
        for pod in there:
            cost = 1 if ready[pod.key] else 0
            blocked = [b for b in covering if allowance[b.key] < cost]
            if budget < cost or blocked:
                why = (f"PodDisruptionBudget {blocked[0].meta.name} allows no disruption now"
                       if blocked else "maxUnavailable reached")  # fmt: skip
                waiting.append(f"Deployment {namespace}/{deployment.meta.name}: {why}")
                break
            budget -= cost
            for b in covering:
                allowance[b.key] -= cost
            evict.append(pod)
    return Verdict(tuple(evict), tuple(waiting))


def _counts(
    budget: disruption.PodDisruptionBudget,
    state: objects.DesiredState,
    pods: Sequence[hoststate.ObservedPod],
    now: float,
) -> tuple[int, int]:
    """(expected, healthy) pods of a budget: replicas of the Deployments and bare Pods it
    covers, and those of their observed pods that are available."""
    expected = 0
    healthy = 0
    for deployment in state.deployments:
        ns = deployment.meta.namespace
        if budget.selects(ns, deployment.template.labels):
            expected += max(0, deployment.replicas)
            owner = expand.owner_of(deployment)
            healthy += sum(
                1 for p in pods if p.namespace == ns and p.owner == owner
                and deploymentctl.available(p, deployment.min_ready_seconds, now)
            )  # fmt: skip
    for pod in state.pods:
        if budget.selects(pod.meta.namespace, pod.meta.labels):
            expected += 1
            healthy += sum(1 for p in pods if p.key == (pod.meta.namespace, pod.meta.name)
                           and not p.owner and _up(p))  # fmt: skip
    return expected, healthy


def _up(pod: hoststate.ObservedPod) -> bool:
    return deploymentctl.readiness(pod)[0]


def evict(p: sync.Pass) -> None:
    """The step: hide the pods that move now (they are re-created elsewhere and deleted)."""
    view = p.hosts
    if view is None:
        return
    pods = [pod for seen in p.observations.values() if seen.reachable for pod in seen.pods]
    verdict = judge(p.loaded.state, pods, p.now, end_state=p.controllers is None)
    view.waiting_drain = list(verdict.waiting)
    for pod in verdict.evict:
        view.evicted.append((pod, hostpass.DRAINED))
        seen = p.observations[pod.host]
        p.observations[pod.host] = dataclasses.replace(  # its claims stay (pinned pods)
            seen, pods=tuple(x for x in seen.pods if x.key != pod.key)
        )
    if verdict.evict or verdict.waiting:
        p.requeue.append(REQUEUE)

