"""A pod's node affinity (`affinity.nodeAffinity`): node selector terms matched against a host's
labels and name, with kube-scheduler's NodeAffinity semantics. A host-only filter and score,
like nodeSelector: `predicates` asks it per host (reference), `nodecols` per distinct label
value (numpy, for `placement`); both use `Requirement.matches_value`. No numpy here: `inputs`
imports this, and a planner with nothing to place never imports numpy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from reconciler.scheduler import topology

NAME_FIELD = "metadata.name"
"""The one field `matchFields` may name: the host's name."""
_INTEGER = re.compile(r"[+-]?[0-9]+")
_INT64 = 2**63


class NodeOperator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"
    GT = "Gt"
    LT = "Lt"


def parse_integer(text: str) -> int | None:
    """A value as Go's strconv.ParseInt(text, 10, 64) reads it, or None."""
    if not _INTEGER.fullmatch(text):
        return None
    number = int(text)
    return number if -_INT64 <= number < _INT64 else None


@dataclass(frozen=True)
class Requirement:
    """One `matchExpressions` entry on a host label, or (`field`) one `matchFields` entry on the
    host's name."""

    key: str
    operator: NodeOperator
    values: tuple[str, ...] = ()
    field: bool = False

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("a node selector requirement needs a key")
        op = self.operator
        if self.field:
            if self.key != NAME_FIELD:
                raise ValueError(f"matchFields supports only {NAME_FIELD}, not {self.key!r}")
            if op not in (NodeOperator.IN, NodeOperator.NOT_IN) or len(self.values) != 1:
                raise ValueError("matchFields needs operator In or NotIn and exactly one value")
        elif op in (NodeOperator.IN, NodeOperator.NOT_IN) and not self.values:
            raise ValueError(f"operator {op} needs at least one value")
        elif op in (NodeOperator.EXISTS, NodeOperator.DOES_NOT_EXIST) and self.values:
            raise ValueError(f"operator {op} takes no values")
        elif op in (NodeOperator.GT, NodeOperator.LT) and (
            len(self.values) != 1 or parse_integer(self.values[0]) is None
        ):
            raise ValueError(f"operator {op} needs exactly one integer value")

    def matches_value(self, value: str | None) -> bool:
        """Does a host whose value for `key` is `value` (None: no such label) match?"""
        op = self.operator
        if op is NodeOperator.IN:
            return value is not None and value in self.values
        if op is NodeOperator.NOT_IN:
            return value is None or value not in self.values
        if op is NodeOperator.EXISTS:
            return value is not None
        if op is NodeOperator.DOES_NOT_EXIST:
            return value is None
        number = None if value is None else parse_integer(value)
        if number is None:
            return False  # a missing or non-integer label matches neither Gt nor Lt
        bound = int(self.values[0])
        return number > bound if op is NodeOperator.GT else number < bound

    def matches(self, name: str, labels: Mapping[str, str]) -> bool:
        value = name if self.field else topology.host_label(labels, name, self.key)
        return self.matches_value(value)


@dataclass(frozen=True)
class Term:
    """A node selector term: every requirement holds. An empty term matches no host."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, name: str, labels: Mapping[str, str]) -> bool:
        return bool(self.requirements) and all(r.matches(name, labels) for r in self.requirements)


@dataclass(frozen=True)
class Preferred:
    """A preferred term: `weight` (1..100) for a host that matches `term`."""

    weight: int
    term: Term

    def __post_init__(self) -> None:
        if not 1 <= self.weight <= topology.MAX_WEIGHT:
            raise ValueError(f"weight must be in 1..{topology.MAX_WEIGHT}, got {self.weight}")


@dataclass(frozen=True)
class NodeAffinity:
    """`required` terms are ORed (None: no requirement); `preferred` terms add their weight."""

    required: tuple[Term, ...] | None = None
    preferred: tuple[Preferred, ...] = ()

    def __post_init__(self) -> None:
        if self.required is not None and not self.required:
            raise ValueError("required node affinity needs at least one node selector term")

    def allows(self, name: str, labels: Mapping[str, str]) -> bool:
        """The filter: some required term matches (always, without required terms)."""
        return self.required is None or any(t.matches(name, labels) for t in self.required)

    def score(self, name: str, labels: Mapping[str, str]) -> int:
        """The sum of the weights of the preferred terms the host matches."""
        return sum(p.weight for p in self.preferred if p.term.matches(name, labels))
