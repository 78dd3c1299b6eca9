"""Maps a pod spec's topology spread constraints and pod (anti-)affinity (`podaffinity`) onto
the scheduler's `topology.Rules`, and its node affinity onto `nodeterms.NodeAffinity`. Called by
`binding.pod_request` for every desired pod.

The manifests were validated already; a value the scheduler still refuses raises ValueError,
which `binding` reports as a pod that cannot be scheduled.
"""

from __future__ import annotations

from reconciler.model import nodeaffinity, podaffinity
from reconciler.scheduler import nodeterms, topology


def rules(placement: podaffinity.Placement) -> topology.Rules | None:
    """None when the pod says nothing about other pods (the scheduler's fast path)."""
    if not placement.about_pods:
        return None
    return topology.Rules(
        spread=tuple(_constraint(c) for c in placement.spread),
        affinity=tuple(_term(t) for t in placement.affinity.required),
        anti_affinity=tuple(_term(t) for t in placement.anti_affinity.required),
        preferred_affinity=tuple(_weighted(w) for w in placement.affinity.preferred),
        preferred_anti_affinity=tuple(_weighted(w) for w in placement.anti_affinity.preferred),
    )


def _selector(selector: podaffinity.LabelSelector | None) -> topology.LabelSelector | None:
    if selector is None:
        return None
    return topology.LabelSelector.of(
        dict(selector.match_labels),
        tuple(
            topology.Requirement(e.key, topology.Operator(e.operator.value), e.values)
            for e in selector.match_expressions
        ),
    )


def _term(term: podaffinity.AffinityTerm) -> topology.Term:
    return topology.Term(term.topology_key, _selector(term.selector), frozenset(term.namespaces))


def _weighted(weighted: podaffinity.WeightedTerm) -> topology.WeightedTerm:
    return topology.WeightedTerm(weighted.weight, _term(weighted.term))


def _constraint(c: podaffinity.SpreadConstraint) -> topology.SpreadConstraint:
    return topology.SpreadConstraint(
        max_skew=c.max_skew,
        topology_key=c.topology_key,
        when_unsatisfiable=topology.Unsatisfiable(c.when_unsatisfiable.value),
        selector=_selector(c.selector),
        min_domains=c.min_domains,
    )


def node_affinity(placement: podaffinity.Placement) -> nodeterms.NodeAffinity | None:
    """None when the pod has no node affinity."""
    node = placement.node
    if node.empty:
        return None
    return nodeterms.NodeAffinity(
        required=None if node.required is None else tuple(_node_term(t) for t in node.required),
        preferred=tuple(
            nodeterms.Preferred(p.weight, _node_term(p.preference)) for p in node.preferred
        ),
    )


def _node_term(term: nodeaffinity.NodeSelectorTerm) -> nodeterms.Term:
    expressions = (_node_requirement(r, field=False) for r in term.match_expressions)
    fields = (_node_requirement(r, field=True) for r in term.match_fields)
    return nodeterms.Term((*expressions, *fields))


def _node_requirement(r: nodeaffinity.NodeRequirement, field: bool) -> nodeterms.Requirement:
    operator = nodeterms.NodeOperator(r.operator.value)
    return nodeterms.Requirement(r.key, operator, r.values, field=field)
