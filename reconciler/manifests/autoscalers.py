"""HorizontalPodAutoscaler documents in the loader: the per-document checks (target kind,
min/max, each metric's target), the build with Kubernetes' defaults, and the checks across the
repository (a CPU Utilization target needs CPU requests on every container of the Deployment;
one HPA per Deployment), which `loader` runs once every document is built.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from reconciler.manifests import checking
from reconciler.model import autoscaling, base, objects, quantity, workloads
from reconciler.model import diagnostics as dg

Doc = dict[str, Any]
_PARSE = {"cpu": quantity.cpu_millicores, "memory": quantity.memory_bytes}


def check(checker: checking.Checker) -> None:
    spec = checker.doc["spec"]
    ref = spec["scaleTargetRef"]
    if ref["kind"] != "Deployment" or ref.get("apiVersion", "apps/v1") != "apps/v1":
        checker.error(
            ("spec", "scaleTargetRef", "kind"),
            dg.Code.INVALID_VALUE,
            f"scaleTargetRef is {ref.get('apiVersion', '')} {ref['kind']}: reconciler scales "
            "only Deployments (apps/v1)",
            "point scaleTargetRef at a Deployment (apiVersion: apps/v1, kind: Deployment)",
        )
    else:
        checker.refer(("spec", "scaleTargetRef", "name"), base.Kind.DEPLOYMENT, ref["name"])
    low, high = spec.get("minReplicas", 1), spec["maxReplicas"]
    if low > high:
        checker.error(
            ("spec", "minReplicas"),
            dg.Code.INVALID_VALUE,
            f"minReplicas ({low}) is more than maxReplicas ({high})",
            "make minReplicas at most maxReplicas",
        )
    for index, metric in enumerate(spec.get("metrics") or []):
        _metric(checker, ("spec", "metrics", index), metric)
    for direction in ("scaleUp", "scaleDown"):
        rules = (spec.get("behavior") or {}).get(direction) or {}
        if "policies" in rules and not rules["policies"]:
            checker.error(
                ("spec", "behavior", direction, "policies"),
                dg.Code.INVALID_VALUE,
                "policies is empty: at least one policy is needed when it is given",
                "leave policies out for Kubernetes' defaults, or add one",
            )


def _metric(checker: checking.Checker, path: tuple[str | int, ...], metric: Doc) -> None:
    resource = metric["resource"]
    target = resource["target"]
    where = (*path, "resource", "target")
    if target["type"] == "Utilization":
        if "averageUtilization" not in target:
            checker.error(where, dg.Code.REQUIRED_FIELD, "a Utilization target needs "
                          "averageUtilization", "add averageUtilization: a percent of the "
                          "requests, e.g. 50")  # fmt: skip
        if "averageValue" in target:
            checker.error((*where, "averageValue"), dg.Code.INVALID_VALUE, "averageValue "
                          "does not go with type Utilization", "remove it, or write type: "
                          "AverageValue")  # fmt: skip
        return
    if "averageValue" not in target:
        checker.error(where, dg.Code.REQUIRED_FIELD, "an AverageValue target needs "
                      "averageValue", "add averageValue, e.g. 500m or 256Mi")  # fmt: skip
        return
    if "averageUtilization" in target:
        checker.error((*where, "averageUtilization"), dg.Code.INVALID_VALUE,
                      "averageUtilization does not go with type AverageValue",
                      "remove it, or write type: Utilization")  # fmt: skip
    value = checker.quantity((*where, "averageValue"), target["averageValue"],
                             _PARSE[resource["name"]])  # fmt: skip
    if value == 0:
        checker.error((*where, "averageValue"), dg.Code.INVALID_VALUE,
                      "averageValue must be more than 0", "write a positive quantity")  # fmt: skip


def build(doc: Doc, meta: base.ObjectMeta, source: base.SourceRef) -> objects.Object:
    spec = doc["spec"]
    behavior = spec.get("behavior") or {}
    built = autoscaling.HorizontalPodAutoscaler(
        meta,
        target_kind=spec["scaleTargetRef"]["kind"],
        target_name=spec["scaleTargetRef"]["name"],
        max_replicas=spec["maxReplicas"],
        min_replicas=spec.get("minReplicas", 1),
        behavior=autoscaling.Behavior(
            _rules(behavior.get("scaleUp"), autoscaling.SCALE_UP_DEFAULT),
            _rules(behavior.get("scaleDown"), autoscaling.SCALE_DOWN_DEFAULT),
        ),
        source=source,
    )
    metrics = tuple(_built_metric(m) for m in spec.get("metrics") or [])
    return dataclasses.replace(built, metrics=metrics) if metrics else built


def _built_metric(metric: Doc) -> autoscaling.ResourceMetric:
    resource = metric["resource"]
    target = resource["target"]
    name = autoscaling.ResourceName(resource["name"])
    kind = autoscaling.TargetType(target["type"])
    if kind is autoscaling.TargetType.UTILIZATION:
        utilization = target["averageUtilization"]
        return autoscaling.ResourceMetric(name, kind, average_utilization=utilization)
    return autoscaling.ResourceMetric(
        name, kind, average_value=_PARSE[str(name)](target["averageValue"])
    )


def _rules(given: Doc | None, default: autoscaling.ScalingRules) -> autoscaling.ScalingRules:
    if not given:
        return default
    policies = given.get("policies")
    return autoscaling.ScalingRules(
        given.get("stabilizationWindowSeconds", default.stabilization_window_seconds),
        autoscaling.SelectPolicy(given.get("selectPolicy", "Max")),
        default.policies if policies is None else tuple(
            autoscaling.ScalingPolicy(autoscaling.PolicyType(p["type"]), p["value"],
                                      p["periodSeconds"]) for p in policies),
    )  # fmt: skip


def across(built: Iterable[objects.Object]) -> list[dg.Diagnostic]:
    """Checks that need the whole repository (run after every document is built)."""
    everything = list(built)
    deployments = {o.key: o for o in everything if isinstance(o, workloads.Deployment)}
    found: list[dg.Diagnostic] = []
    claimed: dict[base.ObjectKey, autoscaling.HorizontalPodAutoscaler] = {}
    for hpa in (o for o in everything if isinstance(o, autoscaling.HorizontalPodAutoscaler)):
        file, line = (hpa.source.file, hpa.source.line) if hpa.source else ("", 0)

        def error(path: str, message: str, hint: str, f: str = file, n: int = line) -> None:
            found.append(dg.Diagnostic(f, n, 1, path, message, hint, dg.Code.INVALID_VALUE))

        earlier = claimed.setdefault(hpa.target_key, hpa)
        if earlier is not hpa:
            where = f"{earlier.source}" if earlier.source else "another file"
            error("spec.scaleTargetRef.name", f"Deployment {hpa.target_name} is already "
                  f"scaled by HorizontalPodAutoscaler {earlier.meta.name} ({where})",
                  "keep one HorizontalPodAutoscaler per Deployment")  # fmt: skip
        target = deployments.get(hpa.target_key)
        if target is None:
            continue  # a missing target is reported by the references check
        for metric in hpa.metrics:
            if metric.target_type is not autoscaling.TargetType.UTILIZATION:
                continue
            lacking = [c.name for c in target.template.spec.containers
                       if _request(c.resources, metric.resource) is None]  # fmt: skip
            if lacking:
                error("spec.metrics", f"a {metric.resource} Utilization target needs "
                      f"{metric.resource} requests, and container(s) {', '.join(lacking)} of "
                      f"Deployment {target.meta.name} have none",
                      f"set resources.requests.{metric.resource} on every container, or use "
                      "an AverageValue target")  # fmt: skip
    return found


def _request(resources: workloads.Resources, name: autoscaling.ResourceName) -> int | None:
    """The request Kubernetes would default: the request, else the limit."""
    if name is autoscaling.ResourceName.CPU:
        return resources.cpu_request if resources.cpu_request is not None else resources.cpu_limit
    if resources.memory_request is not None:
        return resources.memory_request
    return resources.memory_limit
