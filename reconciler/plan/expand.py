"""Controller expansion, the first step of `pipeline.build_plan`: a `DesiredState` becomes the
pods that should run. A Deployment gives `replicas` pods named
`<deployment>-<template-hash>-<ordinal>`; a bare Pod keeps its name. The scheduler binds them next.

Names are stable: the same input gives the same names, and pods already observed with the current
template hash keep their names, so nothing churns. Scaling down removes the highest ordinals (and
pods with names of another form, newest first) before the others. A changed template gives a new
hash, hence new pods; the old ones are no longer desired and get deleted (rolling comes later).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from reconciler.model import base, hoststate, objects, workloads
from reconciler.plan import hashing


@dataclass(frozen=True)
class DesiredPod:
    """A pod that should run somewhere: its spec and labels, where it comes from."""

    namespace: str
    name: str
    spec: workloads.PodSpec
    labels: base.FrozenMap[str, str]
    template_hash: str
    owner: str = ""  # "Deployment/<name>", or "" for a bare Pod
    source: base.SourceRef | None = field(default=None, compare=False)

    @property
    def key(self) -> tuple[str, str]:
        """(namespace, name), as `ObservedPod.key`."""
        return (self.namespace, self.name)

    @property
    def object_key(self) -> base.ObjectKey:
        """The declared object this pod comes from: the Deployment, or the Pod itself."""
        if self.owner:
            kind, _, name = self.owner.partition("/")
            return base.ObjectKey(base.Kind(kind), self.namespace, name)
        return base.ObjectKey(base.Kind.POD, self.namespace, self.name)


@dataclass(frozen=True)
class Expansion:
    """The pods a reconcile wants, as the controllers worked them out: `pods` to run, `kept`
    observed pods that are not desired but stay for now (old pods during a rollout: never
    deleted this time, counted by the scheduler where they run), `reasons` why an observed pod
    that is neither goes (default "not desired")."""

    pods: tuple[DesiredPod, ...]
    kept: tuple[hoststate.ObservedPod, ...] = ()
    reasons: base.FrozenMap[tuple[str, str], str] = field(default_factory=base.FrozenMap)


def owner_of(deployment: workloads.Deployment) -> str:
    return f"{base.Kind.DEPLOYMENT}/{deployment.meta.name}"


def template_hash(template: workloads.PodTemplate) -> str:
    """Like Kubernetes' pod-template-hash: 10 characters of [a-z0-9], stable across runs."""
    return hashing.digest(template, hashing.TEMPLATE_HASH_LENGTH)


def expand(
    desired: objects.DesiredState, observed: Iterable[hoststate.ObservedPod]
) -> tuple[DesiredPod, ...]:
    """Every desired pod, sorted by (namespace, name), in any namespace (an undeclared one exists
    implicitly, as with Argo CD's `CreateNamespace=true`; `validate` warns). `observed` are the
    pods seen on reachable hosts."""
    by_owner: dict[tuple[str, str], list[hoststate.ObservedPod]] = {}
    for seen in observed:
        if seen.owner:
            by_owner.setdefault((seen.namespace, seen.owner), []).append(seen)
    pods: list[DesiredPod] = []
    for deployment in desired.deployments:
        mine = by_owner.get((deployment.meta.namespace, owner_of(deployment)), [])
        pods.extend(expand_deployment(deployment, mine))
    pods.extend(bare_pod(pod) for pod in desired.pods)
    return tuple(sorted(pods, key=lambda pod: pod.key))


def bare_pod(pod: workloads.Pod) -> DesiredPod:
    template = workloads.PodTemplate(pod.meta.labels, pod.meta.annotations, pod.spec)
    return DesiredPod(
        namespace=pod.meta.namespace,
        name=pod.meta.name,
        spec=pod.spec,
        labels=pod.meta.labels,
        template_hash=template_hash(template),
        source=pod.source,
    )


def expand_deployment(
    deployment: workloads.Deployment, observed: Iterable[hoststate.ObservedPod]
) -> tuple[DesiredPod, ...]:
    digest = template_hash(deployment.template)
    names = replica_names(deployment, digest, observed)
    return tuple(
        DesiredPod(
            namespace=deployment.meta.namespace,
            name=name,
            spec=deployment.template.spec,
            labels=deployment.template.labels,
            template_hash=digest,
            owner=owner_of(deployment),
            source=deployment.source,
        )
        for name in names
    )


def replica_names(
    deployment: workloads.Deployment,
    digest: str,
    observed: Iterable[hoststate.ObservedPod],
    count: int | None = None,
) -> tuple[str, ...]:
    """`count` names (default: `replicas`): observed pods of this template hash first (lowest
    ordinal, then oldest), then new names with the lowest free ordinals."""
    wanted = max(deployment.replicas if count is None else count, 0)
    prefix = f"{deployment.meta.name}-{digest}-"
    owner = owner_of(deployment)
    running: dict[str, hoststate.ObservedPod] = {}
    for pod in observed:
        if (
            pod.namespace == deployment.meta.namespace
            and pod.owner == owner
            and pod.labels.get(hoststate.LABEL_TEMPLATE_HASH) == digest
        ):
            running.setdefault(pod.name, pod)
    ranked = sorted(running.values(), key=lambda pod: _rank(pod, prefix))
    kept = [pod.name for pod in ranked[:wanted]]
    used = {ordinal for name in kept if (ordinal := _ordinal(name, prefix)) is not None}
    fresh: list[str] = []
    ordinal = 0
    while len(kept) + len(fresh) < wanted:
        if ordinal not in used:
            fresh.append(f"{prefix}{ordinal}")
        ordinal += 1
    return tuple(sorted(kept + fresh))


def _ordinal(name: str, prefix: str) -> int | None:
    """The replica ordinal of a name `<prefix><ordinal>` (no leading zeros), else None."""
    suffix = name.removeprefix(prefix)
    if suffix == name or not suffix.isascii() or not suffix.isdigit():
        return None
    if suffix != "0" and suffix.startswith("0"):
        return None
    return int(suffix)


def _rank(pod: hoststate.ObservedPod, prefix: str) -> tuple[int, int, str, str]:
    """Sort key, kept first: ordinal names by ordinal, then other names oldest first."""
    ordinal = _ordinal(pod.name, prefix)
    if ordinal is not None:
        return (0, ordinal, "", pod.name)
    return (1, 0, pod.created_at, pod.name)
