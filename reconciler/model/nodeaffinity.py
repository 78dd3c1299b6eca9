"""Where a pod may and would rather go among the hosts, as the manifests say it:
`affinity.nodeAffinity` (node selector terms on Host labels and names). Built by
`manifests.placementchecks`, carried on `podaffinity.Placement.node`, mapped onto the
scheduler's own values by `plan.podrules`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

NAME_FIELD = "metadata.name"
"""The one field `matchFields` may name: the Host's name."""


class NodeOperator(enum.StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"
    GT = "Gt"
    LT = "Lt"


@dataclass(frozen=True)
class NodeRequirement:
    """One `matchExpressions` entry (a Host label) or `matchFields` entry (`metadata.name`)."""

    key: str
    operator: NodeOperator
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeSelectorTerm:
    """Every expression and field holds; a term with neither matches no host."""

    match_expressions: tuple[NodeRequirement, ...] = ()
    match_fields: tuple[NodeRequirement, ...] = ()


@dataclass(frozen=True)
class PreferredTerm:
    weight: int
    preference: NodeSelectorTerm


@dataclass(frozen=True)
class NodeAffinity:
    """`required` terms (any one holds; None: no requirement) and `preferred` terms."""

    required: tuple[NodeSelectorTerm, ...] | None = None
    preferred: tuple[PreferredTerm, ...] = ()

    @property
    def empty(self) -> bool:
        return self.required is None and not self.preferred
