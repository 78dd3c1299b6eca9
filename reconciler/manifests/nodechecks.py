"""A pod spec's `affinity.nodeAffinity`: `check` (per document, from `placementchecks.check`:
operators and their values as Kubernetes validates them, label keys, `matchFields` on
`metadata.name` only, an empty `nodeSelectorTerms`), `build` (from `placementchecks.build`) and
`keys` (from `placementchecks.across`: label keys no Host carries are warned about).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from reconciler.manifests import checking
from reconciler.manifests import positions as pos
from reconciler.model import diagnostics as dg
from reconciler.model import nodeaffinity

Doc = dict[str, Any]
_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
_PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"
_INTEGER = re.compile(r"[+-]?[0-9]+")  # Go's strconv.ParseInt, as kube-scheduler reads them
_INT64 = 2**63
_NEEDS_LABEL = ("In", "Exists", "Gt", "Lt")  # a host without the label never matches these


def _block(spec: Doc) -> Doc:
    return (spec.get("affinity") or {}).get("nodeAffinity") or {}


def _terms(spec: Doc) -> Iterable[tuple[pos.Path, Doc]]:
    """Every node selector term with its path relative to the pod spec."""
    block = _block(spec)
    required = block.get(_REQUIRED)
    for index, term in enumerate((required or {}).get("nodeSelectorTerms") or []):
        yield ("affinity", "nodeAffinity", _REQUIRED, "nodeSelectorTerms", index), term or {}
    for index, weighted in enumerate(block.get(_PREFERRED) or []):
        yield (
            ("affinity", "nodeAffinity", _PREFERRED, index, "preference"),
            (weighted.get("preference") or {}),
        )


def _integer(text: object) -> bool:
    return (
        isinstance(text, str) and bool(_INTEGER.fullmatch(text)) and -_INT64 <= int(text) < _INT64
    )


# -- per document ----------------------------------------------------------------------------


def check(checker: checking.Checker, path: pos.Path, spec: Doc) -> None:
    block = _block(spec)
    required = block.get(_REQUIRED)
    if required is not None and not required.get("nodeSelectorTerms"):
        checker.error(
            (*path, "affinity", "nodeAffinity", _REQUIRED, "nodeSelectorTerms"),
            dg.Code.INVALID_VALUE,
            "must have at least one node selector term",
            "list the terms (any one must hold), or remove "
            "requiredDuringSchedulingIgnoredDuringExecution",
        )
    for tpath, term in _terms(spec):
        full = (*path, *tpath)
        for index, expression in enumerate(term.get("matchExpressions") or []):
            _expression(checker, (*full, "matchExpressions", index), expression)
        for index, expression in enumerate(term.get("matchFields") or []):
            _field(checker, (*full, "matchFields", index), expression)
        if (
            tpath[2] == _REQUIRED
            and not term.get("matchExpressions")
            and not term.get("matchFields")
        ):
            checker.warn(
                full,
                dg.Code.INVALID_VALUE,
                "an empty node selector term matches no host",
                "add matchExpressions or matchFields, or remove the term",
            )


def _expression(checker: checking.Checker, path: pos.Path, expression: Doc) -> None:
    operator, values = expression["operator"], expression.get("values") or []
    checker.expression_values(path, operator, values)
    if operator in ("Gt", "Lt") and (len(values) != 1 or not _integer(values[0])):
        checker.error(
            (*path, "values"),
            dg.Code.INVALID_VALUE,
            f"operator {operator} needs exactly one value, an integer (got {values!r})",
            'write one integer as a string, for example values: ["4"]',
        )
    checker.expression_key(path, expression["key"])


def _field(checker: checking.Checker, path: pos.Path, expression: Doc) -> None:
    if expression["key"] != nodeaffinity.NAME_FIELD:
        checker.error(
            (*path, "key"),
            dg.Code.INVALID_VALUE,
            f"{expression['key']!r} is not a valid field selector key",
            f"matchFields supports only {nodeaffinity.NAME_FIELD} (the Host's name); use "
            "matchExpressions for labels",
        )
    if len(expression.get("values") or []) != 1:
        checker.error(
            (*path, "values"),
            dg.Code.INVALID_VALUE,
            "must be only one value when operator is In or NotIn for a node field selector",
            "name one Host; use several terms for several Hosts",
        )


# -- building --------------------------------------------------------------------------------


def build(spec: Doc) -> nodeaffinity.NodeAffinity:
    block = _block(spec)
    required = block.get(_REQUIRED)
    return nodeaffinity.NodeAffinity(
        required=None
        if required is None
        else tuple(_term(t) for t in required.get("nodeSelectorTerms") or []),
        preferred=tuple(
            nodeaffinity.PreferredTerm(w["weight"], _term(w.get("preference")))
            for w in block.get(_PREFERRED) or []
        ),
    )


def _term(term: Doc | None) -> nodeaffinity.NodeSelectorTerm:
    term = term or {}
    return nodeaffinity.NodeSelectorTerm(
        match_expressions=tuple(_requirement(e) for e in term.get("matchExpressions") or []),
        match_fields=tuple(_requirement(e) for e in term.get("matchFields") or []),
    )


def _requirement(expression: Doc) -> nodeaffinity.NodeRequirement:
    return nodeaffinity.NodeRequirement(
        expression["key"],
        nodeaffinity.NodeOperator(expression["operator"]),
        tuple(str(v) for v in expression.get("values") or ()),
    )


# -- across the repository -------------------------------------------------------------------


def keys(spec: Doc) -> Iterable[tuple[pos.Path, str, str]]:
    """(path of the key relative to the pod spec, label key, operator) of every expression."""
    for tpath, term in _terms(spec):
        for index, expression in enumerate(term.get("matchExpressions") or []):
            yield (
                (*tpath, "matchExpressions", index, "key"),
                expression["key"],
                expression["operator"],
            )


def uncarried(key: str, operator: str, known: str) -> tuple[str, str]:
    """(message, hint) of the warning for a label key no Host carries."""
    if operator in _NEEDS_LABEL:
        effect = f"operator {operator} on it matches no host"
    else:
        effect = f"operator {operator} on it matches every host"
    return (
        f"node affinity key {key!r} is a label no Host carries: {effect}",
        f"label your Hosts with it, or use one of: {known}",
    )
