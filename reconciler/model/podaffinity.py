"""Where a pod goes relative to other pods, as the manifests say it: `topologySpreadConstraints`
and `affinity.podAffinity` / `podAntiAffinity` (and, relative to hosts, `nodeAffinity`). Built
by `manifests.placementchecks`, carried on `workloads.PodSpec.placement`, mapped onto the
scheduler's own values by `plan.podrules`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from reconciler.model import base, nodeaffinity

HOSTNAME_KEY = "kubernetes.io/hostname"
"""The topology key every host carries (its name), as every Kubernetes node does."""


class SelectorOperator(enum.StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class WhenUnsatisfiable(enum.StrEnum):
    DO_NOT_SCHEDULE = "DoNotSchedule"
    SCHEDULE_ANYWAY = "ScheduleAnyway"


@dataclass(frozen=True)
class SelectorRequirement:
    key: str
    operator: SelectorOperator
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabelSelector:
    match_labels: base.FrozenMap[str, str]
    match_expressions: tuple[SelectorRequirement, ...] = ()


@dataclass(frozen=True)
class AffinityTerm:
    """Pods in `namespaces` (empty: the pod's own) matching `selector` (None: no pod)."""

    topology_key: str
    selector: LabelSelector | None = None
    namespaces: tuple[str, ...] = ()


@dataclass(frozen=True)
class WeightedTerm:
    weight: int
    term: AffinityTerm


@dataclass(frozen=True)
class PodAffinity:
    required: tuple[AffinityTerm, ...] = ()
    preferred: tuple[WeightedTerm, ...] = ()


@dataclass(frozen=True)
class SpreadConstraint:
    max_skew: int
    topology_key: str
    when_unsatisfiable: WhenUnsatisfiable
    selector: LabelSelector | None = None
    min_domains: int | None = None


@dataclass(frozen=True)
class Placement:
    """Everything a pod spec says about other pods, and its node affinity; empty by default."""

    spread: tuple[SpreadConstraint, ...] = ()
    affinity: PodAffinity = PodAffinity()
    anti_affinity: PodAffinity = PodAffinity()
    node: nodeaffinity.NodeAffinity = field(default_factory=nodeaffinity.NodeAffinity)

    @property
    def empty(self) -> bool:
        return self == Placement()

    @property
    def about_pods(self) -> bool:
        """Says something about other pods (spread or pod (anti-)affinity)."""
        return self.spread != () or self.affinity != PodAffinity() or (
            self.anti_affinity != PodAffinity()
        )
