"""A pod spec's `topologySpreadConstraints` and `affinity.podAffinity` / `podAntiAffinity`
(and `nodeAffinity`, through `nodechecks`): `check` (per document, from `podchecks`: selectors
that cannot be parsed, duplicate constraints), `build` (from `build.pod_spec`), and `across`
(from `loader`, once every document is built: a topologyKey that no Host carries, an error; a
node affinity key no Host carries, a warning). Findings carry file:line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from reconciler.manifests import checking, nodechecks, yamldocs
from reconciler.manifests import positions as pos
from reconciler.model import base, cronjobs, jobs, objects, podaffinity, workloads
from reconciler.model import diagnostics as dg

Doc = dict[str, Any]
_KINDS = ("podAffinity", "podAntiAffinity")
_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
_PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


# -- per document ----------------------------------------------------------------------------


def _terms(spec: Doc) -> Iterable[tuple[pos.Path, Doc]]:
    """Every affinity term with its path relative to the pod spec."""
    affinity = spec.get("affinity") or {}
    for kind in _KINDS:
        block = affinity.get(kind) or {}
        for index, term in enumerate(block.get(_REQUIRED) or []):
            yield ("affinity", kind, _REQUIRED, index), term
        for index, weighted in enumerate(block.get(_PREFERRED) or []):
            yield ("affinity", kind, _PREFERRED, index, "podAffinityTerm"), weighted[
                "podAffinityTerm"
            ]


def check(checker: checking.Checker, path: pos.Path, spec: Doc) -> None:
    """Selectors that cannot be parsed, an empty topologyKey, duplicate spread constraints (the
    schema already bounds maxSkew, weight and minDomains)."""
    nodechecks.check(checker, path, spec)
    for tpath, term in _terms(spec):
        _key(checker, (*path, *tpath, "topologyKey"), term["topologyKey"])
        _selector(checker, (*path, *tpath, "labelSelector"), term.get("labelSelector"))
    seen: dict[tuple[str, str], int] = {}
    for index, constraint in enumerate(spec.get("topologySpreadConstraints") or []):
        cpath = (*path, "topologySpreadConstraints", index)
        _key(checker, (*cpath, "topologyKey"), constraint["topologyKey"])
        _selector(checker, (*cpath, "labelSelector"), constraint.get("labelSelector"))
        pair = (constraint["topologyKey"], constraint["whenUnsatisfiable"])
        if pair in seen:
            checker.error(
                cpath,
                dg.Code.INVALID_VALUE,
                f"a second constraint with topologyKey {pair[0]!r} and whenUnsatisfiable "
                f"{pair[1]} (also at index {seen[pair]})",
                "merge them into one constraint",
            )
        seen.setdefault(pair, index)
        if constraint.get("minDomains") is not None and pair[1] != "DoNotSchedule":
            checker.error(
                (*cpath, "minDomains"),
                dg.Code.INVALID_VALUE,
                "minDomains needs whenUnsatisfiable DoNotSchedule",
                "remove minDomains or set whenUnsatisfiable: DoNotSchedule",
            )


def _key(checker: checking.Checker, path: pos.Path, key: str) -> None:
    problem = checking.qualified_name_problem(key) if key else "it is empty"
    if problem:
        checker.error(
            path,
            dg.Code.INVALID_VALUE,
            f"topologyKey {key!r} is not a label key: {problem}",
            f"use a label key of your Hosts, or {podaffinity.HOSTNAME_KEY}",
        )


def _selector(checker: checking.Checker, path: pos.Path, selector: Doc | None) -> None:
    if selector is None:
        return
    checker.label_map((*path, "matchLabels"), selector.get("matchLabels"), annotations=False)
    for index, expression in enumerate(selector.get("matchExpressions") or []):
        epath = (*path, "matchExpressions", index)
        checker.expression_values(epath, expression["operator"], expression.get("values") or [])
        checker.expression_key(epath, expression["key"])


# -- building --------------------------------------------------------------------------------


def build(spec: Doc) -> podaffinity.Placement:
    affinity = spec.get("affinity") or {}
    return podaffinity.Placement(
        spread=tuple(_constraint(c) for c in spec.get("topologySpreadConstraints") or []),
        affinity=_affinity(affinity.get("podAffinity")),
        anti_affinity=_affinity(affinity.get("podAntiAffinity")),
        node=nodechecks.build(spec),
    )


def _affinity(block: Doc | None) -> podaffinity.PodAffinity:
    block = block or {}
    return podaffinity.PodAffinity(
        required=tuple(_term(t) for t in block.get(_REQUIRED) or []),
        preferred=tuple(
            podaffinity.WeightedTerm(w["weight"], _term(w["podAffinityTerm"]))
            for w in block.get(_PREFERRED) or []
        ),
    )


def _term(term: Doc) -> podaffinity.AffinityTerm:
    return podaffinity.AffinityTerm(
        topology_key=term["topologyKey"],
        selector=_label_selector(term.get("labelSelector")),
        namespaces=tuple(term.get("namespaces") or ()),
    )


def _constraint(c: Doc) -> podaffinity.SpreadConstraint:
    return podaffinity.SpreadConstraint(
        max_skew=c["maxSkew"],
        topology_key=c["topologyKey"],
        when_unsatisfiable=podaffinity.WhenUnsatisfiable(c["whenUnsatisfiable"]),
        selector=_label_selector(c.get("labelSelector")),
        min_domains=c.get("minDomains"),
    )


def _label_selector(selector: Doc | None) -> podaffinity.LabelSelector | None:
    if selector is None:
        return None
    return podaffinity.LabelSelector(
        match_labels=base.frozen_map(selector.get("matchLabels")),
        match_expressions=tuple(
            podaffinity.SelectorRequirement(
                e["key"],
                podaffinity.SelectorOperator(e["operator"]),
                tuple(str(v) for v in e.get("values") or ()),
            )
            for e in selector.get("matchExpressions") or []
        ),
    )


# -- across the repository -------------------------------------------------------------------


def _spec_path(obj: objects.Object) -> tuple[workloads.PodSpec, pos.Path] | None:
    if isinstance(obj, workloads.Pod):
        return obj.spec, ("spec",)
    if isinstance(obj, workloads.Deployment):
        return obj.template.spec, ("spec", "template", "spec")
    if isinstance(obj, jobs.Job):
        return obj.template.spec, ("spec", "template", "spec")
    if isinstance(obj, cronjobs.CronJob):
        return obj.job.template.spec, ("spec", "jobTemplate", "spec", "template", "spec")
    return None


def across(placed: Iterable[tuple[objects.Object, yamldocs.Document]]) -> list[dg.Diagnostic]:
    """A topologyKey no Host of the repository carries (other than the hostname key): such a
    constraint could never be met, or would never mean anything. A node affinity key no Host
    carries: a warning (a term may still match through another of its alternatives). Without
    any Host, nothing is known to check against."""
    placed = list(placed)
    hosts = [obj for obj, _ in placed if isinstance(obj, objects.Host)]
    if not hosts:
        return []
    carried = {podaffinity.HOSTNAME_KEY}
    for host in hosts:
        carried.update(host.node_labels)
    found: list[dg.Diagnostic] = []
    for obj, document in placed:
        spec_path = _spec_path(obj)
        if spec_path is None or spec_path[0].placement.empty:
            continue
        spec = _walk(document.value, spec_path[1])
        for path, key in _keys(spec):
            if key in carried:
                continue
            full = (*spec_path[1], *path)
            line, column = document.at(full)
            known = ", ".join(sorted(carried))
            found.append(dg.Diagnostic(
                document.file, line, column, pos.format_path(full),
                f"topologyKey {key!r} is a label no Host carries",
                f"label your Hosts with it, or use one of: {known}", dg.Code.INVALID_VALUE,
            ))  # fmt: skip
        for path, key, operator in nodechecks.keys(spec):
            if key in carried:
                continue
            full = (*spec_path[1], *path)
            line, column = document.at(full)
            message, hint = nodechecks.uncarried(key, operator, ", ".join(sorted(carried)))
            found.append(dg.Diagnostic(
                document.file, line, column, pos.format_path(full), message, hint,
                dg.Code.INVALID_VALUE, dg.Severity.WARNING,
            ))  # fmt: skip
    return found


def _walk(value: object, path: pos.Path) -> Doc:
    for part in path:
        value = value[part] if isinstance(value, dict) and isinstance(part, str) else {}
    return value if isinstance(value, dict) else {}


def _keys(spec: Doc) -> Iterable[tuple[pos.Path, str]]:
    for path, term in _terms(spec):
        yield (*path, "topologyKey"), term["topologyKey"]
    for index, constraint in enumerate(spec.get("topologySpreadConstraints") or []):
        yield ("topologySpreadConstraints", index, "topologyKey"), constraint["topologyKey"]
