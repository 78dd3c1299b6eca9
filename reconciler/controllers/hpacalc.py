"""The HorizontalPodAutoscaler's replica calculation for one Resource metric, as Kubernetes'
replica calculator makes it: desired = ceil(ready pods x usage / target), nothing within a 10%
tolerance, missing and unready pods filled in toward "no change". Pure: `controllers.hpa` calls
it with the pods and their measured usage.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reconciler.model import autoscaling, hoststate, metrics

TOLERANCE = 0.1
CPU_INITIALIZATION_PERIOD = 300.0
"""Seconds after a pod starts during which its CPU sample counts only once it is ready and the
sample was taken after it became ready (Kubernetes' --horizontal-pod-autoscaler-cpu-
initialization-period)."""
INITIAL_READINESS_DELAY = 30.0
"""After the initialization period, a pod that is not ready counts as unready only if it turned
unready within this long of starting (never ready), as Kubernetes'
--horizontal-pod-autoscaler-initial-readiness-delay."""


@dataclass(frozen=True)
class PodSample:
    """One pod of the target, as the calculation needs it. Requests are the sum over its
    containers; None when a container has no request for that resource."""

    name: str
    phase: hoststate.PodPhase
    ready: bool
    started: float  # epoch seconds
    ready_since: float = 0.0  # epoch seconds it became ready (0: unknown or not ready)
    cpu_request: int | None = None
    memory_request: int | None = None
    usage: metrics.PodUsage | None = None
    sampled_at: float = 0.0  # epoch seconds of the later sample
    window: float = 0.0  # seconds the CPU rate covers
    deleting: bool = False


@dataclass(frozen=True)
class Proposal:
    """One metric's answer: `replicas` (None with an `error`), and the current value for
    status (utilization in percent, or the average in millicores/bytes)."""

    replicas: int | None
    current: int | None = None
    error: str = ""


def _value(pod: PodSample, resource: autoscaling.ResourceName) -> float:
    assert pod.usage is not None
    if resource is autoscaling.ResourceName.CPU:
        return pod.usage.cpu_millis
    return float(pod.usage.memory_bytes)


def _request(pod: PodSample, resource: autoscaling.ResourceName) -> int | None:
    if resource is autoscaling.ResourceName.CPU:
        return pod.cpu_request
    return pod.memory_request


def _cpu_unready(pod: PodSample, now: float) -> bool:
    if pod.started + CPU_INITIALIZATION_PERIOD > now:
        # young pod: count its sample only when ready before the sample's window began
        return not pod.ready or pod.sampled_at - pod.window < pod.ready_since
    return not pod.ready and pod.started + INITIAL_READINESS_DELAY > now


def group(
    pods: Sequence[PodSample], resource: autoscaling.ResourceName, now: float
) -> tuple[dict[str, PodSample], set[str], set[str]]:
    """(pods with a usable sample, unready pods, pods without a sample); deleted and failed
    pods are left out entirely (Kubernetes' groupPods)."""
    measured: dict[str, PodSample] = {}
    unready: set[str] = set()
    missing: set[str] = set()
    for pod in pods:
        if pod.deleting or pod.phase is hoststate.PodPhase.FAILED:
            continue
        if pod.phase is hoststate.PodPhase.PENDING:
            unready.add(pod.name)
            continue
        if pod.usage is None:
            missing.add(pod.name)
            continue
        if resource is autoscaling.ResourceName.CPU and _cpu_unready(pod, now):
            unready.add(pod.name)
            continue
        measured[pod.name] = pod
    return measured, unready, missing


def utilization(
    current: int,
    pods: Sequence[PodSample],
    metric: autoscaling.ResourceMetric,
    now: float,
) -> Proposal:
    """Replicas for a Resource metric with a Utilization target (percent of the requests)."""
    resource, target = metric.resource, metric.average_utilization
    requests: dict[str, int] = {}
    for pod in pods:
        request = _request(pod, resource)
        if request is None or request <= 0:
            if pod.deleting or pod.phase is hoststate.PodPhase.FAILED:
                continue
            return Proposal(None, error=f"missing request for {resource} in pod {pod.name}")
        requests[pod.name] = request
    measured, unready, missing = group(pods, resource, now)
    if not measured:
        return Proposal(None, error=f"no {resource} metrics for any ready pod yet")
    usage = {name: _value(pod, resource) for name, pod in measured.items()}

    def ratio(values: dict[str, float]) -> tuple[float, int]:
        total_request = sum(requests[name] for name in values)
        percent = int(sum(values.values()) * 100 // total_request)  # Kubernetes: int32
        return percent / target, percent

    usage_ratio, percent = ratio(usage)
    replicas = _rebalance(
        current, usage, unready=unready, missing=missing, usage_ratio=usage_ratio,
        full=lambda name: requests[name] * max(100, target) / 100, ratio=ratio,
    )  # fmt: skip
    return Proposal(replicas, percent)


def average_value(
    current: int,
    pods: Sequence[PodSample],
    metric: autoscaling.ResourceMetric,
    now: float,
) -> Proposal:
    """Replicas for a Resource metric with an AverageValue target (millicores or bytes)."""
    resource, target = metric.resource, float(metric.average_value)
    measured, unready, missing = group(pods, resource, now)
    if not measured:
        return Proposal(None, error=f"no {resource} metrics for any ready pod yet")
    usage = {name: _value(pod, resource) for name, pod in measured.items()}

    def ratio(values: dict[str, float]) -> tuple[float, int]:
        average = sum(values.values()) / len(values)
        return average / target, int(average)

    usage_ratio, average = ratio(usage)
    replicas = _rebalance(
        current, usage, unready=unready, missing=missing, usage_ratio=usage_ratio,
        full=lambda name: target, ratio=ratio,
    )  # fmt: skip
    return Proposal(replicas, average)


def _rebalance(
    current: int,
    usage: dict[str, float],
    *,
    unready: set[str],
    missing: set[str],
    usage_ratio: float,
    full: Callable[[str], float],
    ratio: Callable[[dict[str, float]], tuple[float, int]],
) -> int:
    """Kubernetes' rule: no unready/missing pods ▶ ceil(ratio x ready pods) outside the
    tolerance. Otherwise missing pods count as using 100% (`full`) on a scale-down and 0 on a
    scale-up, unready pods 0 on a scale-up; a result that changes direction, or lands within
    the tolerance, keeps the current count."""
    rebalance_unready = bool(unready) and usage_ratio > 1.0
    if not rebalance_unready and not missing:
        if abs(1.0 - usage_ratio) <= TOLERANCE:
            return current
        return math.ceil(usage_ratio * len(usage))
    filled = dict(usage)
    if missing:
        if usage_ratio < 1.0:
            filled.update({name: full(name) for name in missing})
        elif usage_ratio > 1.0:
            filled.update(dict.fromkeys(missing, 0.0))
    if rebalance_unready:
        filled.update(dict.fromkeys(unready, 0.0))
    new_ratio = ratio(filled)[0]
    if (
        abs(1.0 - new_ratio) <= TOLERANCE
        or (usage_ratio < 1.0 < new_ratio)
        or (usage_ratio > 1.0 > new_ratio)
    ):
        return current
    replicas = math.ceil(new_ratio * len(filled))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current
    return replicas


def propose(
    current: int,
    pods: Sequence[PodSample],
    metric: autoscaling.ResourceMetric,
    now: float,
) -> Proposal:
    if metric.target_type is autoscaling.TargetType.UTILIZATION:
        return utilization(current, pods, metric, now)
    return average_value(current, pods, metric, now)
