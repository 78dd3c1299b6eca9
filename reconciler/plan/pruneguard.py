"""The prune guard, judged right after the hosts are observed and before any controller sees a
revision: a revision that removes from git the objects of too many running pods is held whole
(nothing created, replaced or deleted) until an override allows it. Pure: data in, a verdict out.

What counts as pruned: each observed managed pod (on a reachable host) whose object, its
Deployment or the bare Pod itself, is no longer declared (removed from git, or its Namespace
is). Rollout replacements and scale-down inside a kept Deployment are not prunes. A revision
is held when it prunes the pods of two or more objects and either every managed pod or more
than `max_percent` of them; removing a single object (one Deployment, however large) never is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.model import base, hoststate, objects

DEFAULT_PERCENT = 50.0
OVERRIDE_FILE = ".reconciler/allow-prune"
"""A file at this path in the repository, at the revision judged, allows its mass prune."""
HOW_TO_ALLOW = (
    f"commit a file {OVERRIDE_FILE}, set allow_mass_prune: true in the daemon's config, "
    "or run `reconciler apply --allow-mass-prune`"
)


@dataclass(frozen=True)
class Policy:
    """`max_percent`: the share of managed pods a revision may prune (0-100); `allowed`: the
    guard is lifted (daemon config `allow_mass_prune`, `apply --allow-mass-prune`, or the
    override file in the revision)."""

    max_percent: float = DEFAULT_PERCENT
    allowed: bool = False


@dataclass(frozen=True)
class Verdict:
    """What a revision would prune: `pruned` of `managed` pods, of the objects in `removed`
    (`Deployment/ns/name`, `Pod/ns/name`), and whether that holds the revision."""

    managed: int
    pruned: int
    removed: tuple[str, ...]
    max_percent: float
    blocked: bool
    allowed: bool = False

    @property
    def percent(self) -> float:
        return 100.0 * self.pruned / self.managed if self.managed else 0.0

    @property
    def message(self) -> str:
        """One line for conditions, logs and the CLI, e.g. `revision would delete 6 of 10
        managed pods (60%, more than the 50% allowed) of 3 objects removed from git: ...`."""
        shown = ", ".join(self.removed[:5]) + (", ..." if len(self.removed) > 5 else "")
        if self.pruned == self.managed:
            share = "every managed pod"
        else:
            share = f"{self.percent:.0f}%, more than the {self.max_percent:g}% allowed"
        counts = (
            f"would delete {self.pruned} of {self.managed} managed pods ({share}) of "
            f"{len(self.removed)} objects removed from git: {shown}"
        )
        if not self.blocked:
            return counts
        return f"{counts}; the revision is held, nothing is deleted; to allow it, {HOW_TO_ALLOW}"


def object_of(pod: hoststate.ObservedPod) -> str:
    """The declared object an observed pod belongs to, as `Kind/namespace/name`: its
    Deployment (from its owner label), or the bare Pod itself."""
    if pod.owner:
        kind, _, name = pod.owner.partition("/")
        return f"{kind}/{pod.namespace}/{name}"
    return str(base.ObjectKey(base.Kind.POD, pod.namespace, pod.name))


def declared(desired: objects.DesiredState) -> frozenset[str]:
    """The objects whose pods a revision keeps (`Kind/namespace/name`): Deployments, Pods and
    Jobs."""
    keys = [d.key for d in desired.deployments] + [p.key for p in desired.pods]
    keys += [j.key for j in desired.jobs]
    return frozenset(str(key) for key in keys)


def judge(
    desired: objects.DesiredState,
    observations: Mapping[str, hoststate.HostObservation],
    policy: Policy,
) -> Verdict:
    """The verdict on `desired` against what reachable hosts run (unknown pods count for
    nothing: an unreachable host's pods are neither managed nor pruned here)."""
    managed = [pod for seen in observations.values() if seen.reachable for pod in seen.pods]
    keep = declared(desired)
    pruned = [pod for pod in managed if object_of(pod) not in keep]
    removed = sorted({object_of(pod) for pod in pruned})
    too_many = bool(pruned) and (
        len(pruned) == len(managed) or 100 * len(pruned) > policy.max_percent * len(managed)
    )
    blocked = too_many and len(removed) >= 2 and not policy.allowed
    return Verdict(
        managed=len(managed),
        pruned=len(pruned),
        removed=tuple(removed),
        max_percent=policy.max_percent,
        blocked=blocked,
        allowed=too_many and len(removed) >= 2 and policy.allowed,
    )
