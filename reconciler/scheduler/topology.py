"""The scheduler's inputs for placing pods relative to other pods: label selectors, pod
(anti-)affinity terms and topology spread constraints, with their Kubernetes matching rules.

A `PodRequest` carries them as `rules`; `interpod` (plain Python, for `reference`) and
`interpodcols` (numpy, for `placement`) evaluate them. Values are validated on construction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

HOSTNAME = "kubernetes.io/hostname"
"""Every host carries this label, its name as value, unless its labels set it otherwise."""

MAX_WEIGHT = 100


class Operator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class Unsatisfiable(StrEnum):
    """`whenUnsatisfiable` of a spread constraint: a filter, or only a preference."""

    DO_NOT_SCHEDULE = "DoNotSchedule"
    SCHEDULE_ANYWAY = "ScheduleAnyway"


def host_label(labels: Mapping[str, str], name: str, key: str) -> str | None:
    """A host's value for a topology key or selector key, with the implicit hostname label."""
    value = labels.get(key)
    if value is None and key == HOSTNAME:
        return name
    return value


@dataclass(frozen=True)
class Requirement:
    """One `matchExpressions` entry (Kubernetes label selector semantics)."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("a selector requirement needs a key")
        needs_values = self.operator in (Operator.IN, Operator.NOT_IN)
        if needs_values and not self.values:
            raise ValueError(f"operator {self.operator} needs at least one value")
        if not needs_values and self.values:
            raise ValueError(f"operator {self.operator} takes no values")

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        if self.operator is Operator.IN:
            return value is not None and value in self.values
        if self.operator is Operator.NOT_IN:
            return value is None or value not in self.values
        if self.operator is Operator.EXISTS:
            return value is not None
        return value is None


@dataclass(frozen=True)
class LabelSelector:
    """`matchLabels` (sorted pairs, hashable) and `matchExpressions`, all of which must hold;
    an empty selector matches every pod."""

    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[Requirement, ...] = ()

    @classmethod
    def of(
        cls, labels: Mapping[str, str], expressions: tuple[Requirement, ...] = ()
    ) -> LabelSelector:
        return cls(tuple(sorted(labels.items())), expressions)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(key) == value for key, value in self.match_labels) and all(
            requirement.matches(labels) for requirement in self.match_expressions
        )


@dataclass(frozen=True)
class Term:
    """A pod (anti-)affinity term: pods in `namespaces` (empty: the namespace of the pod that
    holds the term) matching `selector` (None matches no pod), counted per `topology_key`
    domain."""

    topology_key: str
    selector: LabelSelector | None
    namespaces: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.topology_key:
            raise ValueError("an affinity term needs a topologyKey")

    def scope(self, holder_namespace: str) -> frozenset[str]:
        return self.namespaces or frozenset({holder_namespace})

    def matches(self, holder_namespace: str, namespace: str, labels: Mapping[str, str]) -> bool:
        """Does a pod (namespace, labels) match this term held by a pod of `holder_namespace`?"""
        if self.selector is None or namespace not in self.scope(holder_namespace):
            return False
        return self.selector.matches(labels)


@dataclass(frozen=True)
class WeightedTerm:
    """A preferred term: `weight` (1..100) per matching pod in the host's domain."""

    weight: int
    term: Term

    def __post_init__(self) -> None:
        if not 1 <= self.weight <= MAX_WEIGHT:
            raise ValueError(f"weight must be in 1..{MAX_WEIGHT}, got {self.weight}")


@dataclass(frozen=True)
class SpreadConstraint:
    """A topology spread constraint; pods counted are those of the pod's own namespace that
    match `selector` (None matches none)."""

    max_skew: int
    topology_key: str
    when_unsatisfiable: Unsatisfiable = Unsatisfiable.DO_NOT_SCHEDULE
    selector: LabelSelector | None = None
    min_domains: int | None = None

    def __post_init__(self) -> None:
        if self.max_skew < 1:
            raise ValueError(f"maxSkew must be at least 1, got {self.max_skew}")
        if not self.topology_key:
            raise ValueError("a spread constraint needs a topologyKey")
        if self.min_domains is not None:
            if self.min_domains < 1:
                raise ValueError(f"minDomains must be at least 1, got {self.min_domains}")
            if self.when_unsatisfiable is not Unsatisfiable.DO_NOT_SCHEDULE:
                raise ValueError("minDomains needs whenUnsatisfiable DoNotSchedule")


@dataclass(frozen=True)
class Rules:
    """Everything a pod asks about other pods. Required terms filter hosts; preferred terms
    and ScheduleAnyway constraints only rank them."""

    spread: tuple[SpreadConstraint, ...] = ()
    affinity: tuple[Term, ...] = ()
    anti_affinity: tuple[Term, ...] = ()
    preferred_affinity: tuple[WeightedTerm, ...] = ()
    preferred_anti_affinity: tuple[WeightedTerm, ...] = ()

    @cached_property
    def hard_spread(self) -> tuple[SpreadConstraint, ...]:
        return tuple(
            c for c in self.spread if c.when_unsatisfiable is Unsatisfiable.DO_NOT_SCHEDULE
        )

    @cached_property
    def soft_spread(self) -> tuple[SpreadConstraint, ...]:
        return tuple(
            c for c in self.spread if c.when_unsatisfiable is Unsatisfiable.SCHEDULE_ANYWAY
        )

    def held(self) -> tuple[tuple[Term, int, bool], ...]:
        """The terms other pods are checked against (Kubernetes symmetry): (term, score
        weight, filters). Required anti-affinity filters; required affinity scores 1 (the
        default hardPodAffinityWeight); preferred terms score +weight / -weight."""
        return (
            *((term, 0, True) for term in self.anti_affinity),
            *((term, 1, False) for term in self.affinity),
            *((w.term, w.weight, False) for w in self.preferred_affinity),
            *((w.term, -w.weight, False) for w in self.preferred_anti_affinity),
        )
