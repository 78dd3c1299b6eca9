"""The HorizontalPodAutoscaler controller's decision for one HPA: the metrics' proposals
(`hpacalc`), then Kubernetes' behavior: the largest recommendation of the scale-down window and
the smallest of the scale-up window, and the scaling policies' rate limits per period.

Pure apart from its memory (recommendations and scale events per HPA, with times from the
caller's clock); `controllers.autoscale` feeds it on every metrics period and applies the count.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from reconciler.controllers import hpacalc
from reconciler.model import autoscaling, base

MAX_DECISIONS = 10
"""Decisions kept per HPA for `describe hpa`."""


@dataclass(frozen=True)
class MetricStatus:
    """One metric's current value beside its target, for `get hpa` (`cpu: 73%/50%`)."""

    metric: autoscaling.ResourceMetric
    current: int | None

    def __str__(self) -> str:
        m = self.metric
        if m.target_type is autoscaling.TargetType.UTILIZATION:
            shown = "<unknown>" if self.current is None else f"{self.current}%"
            return f"{m.resource}: {shown}/{m.average_utilization}%"
        target = _quantity(m.resource, m.average_value)
        shown = "<unknown>" if self.current is None else _quantity(m.resource, self.current)
        return f"{m.resource}: {shown}/{target}"


def _quantity(resource: autoscaling.ResourceName, value: int) -> str:
    if resource is autoscaling.ResourceName.CPU:
        return f"{value}m"
    if value >= 1 << 20 and value % (1 << 20) == 0:
        return f"{value >> 20}Mi"
    return str(value)


@dataclass(frozen=True)
class Decision:
    """One evaluation. `desired` is what the Deployment gets; `proposed` what the metrics
    asked for before the behavior (None when no metric could tell)."""

    time: float
    current: int
    desired: int
    proposed: int | None
    reason: str
    limit: str = ""  # ScaleUpLimit, ScaleDownLimit, TooManyReplicas, TooFewReplicas, ...
    metrics: tuple[MetricStatus, ...] = ()
    error: str = ""

    @property
    def rescaled(self) -> bool:
        return self.desired != self.current

    @property
    def targets(self) -> str:
        return ", ".join(str(m) for m in self.metrics) or "<none>"


@dataclass
class _Memory:
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    scale_up: list[tuple[float, int]] = field(default_factory=list)  # (time, pods added)
    scale_down: list[tuple[float, int]] = field(default_factory=list)  # (time, pods removed)
    decisions: list[Decision] = field(default_factory=list)


class Autoscaler:
    """Every HPA's memory, kept by the daemon for its lifetime (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._memory: dict[base.ObjectKey, _Memory] = {}

    def decisions(self, key: base.ObjectKey) -> tuple[Decision, ...]:
        with self._lock:
            memory = self._memory.get(key)
            return tuple(memory.decisions) if memory else ()

    def forget(self, keep: set[base.ObjectKey]) -> None:
        """Drop the memory of HPAs no longer declared."""
        with self._lock:
            for key in set(self._memory) - keep:
                del self._memory[key]

    def decide(
        self,
        hpa: autoscaling.HorizontalPodAutoscaler,
        current: int,
        pods: Sequence[hpacalc.PodSample],
        now: float,
    ) -> Decision:
        with self._lock:
            memory = self._memory.setdefault(hpa.key, _Memory())
            decision = self._decide(hpa, memory, current, pods, now)
            if decision.rescaled:
                change = decision.desired - decision.current
                events = memory.scale_up if change > 0 else memory.scale_down
                events.append((now, abs(change)))
            memory.decisions = [*memory.decisions, decision][-MAX_DECISIONS:]
            return decision

    def _decide(
        self,
        hpa: autoscaling.HorizontalPodAutoscaler,
        memory: _Memory,
        current: int,
        pods: Sequence[hpacalc.PodSample],
        now: float,
    ) -> Decision:
        proposals = [hpacalc.propose(current, pods, metric, now) for metric in hpa.metrics]
        statuses = tuple(MetricStatus(m, p.current) for m, p in zip(hpa.metrics, proposals,
                                                                    strict=True))  # fmt: skip
        errors = "; ".join(p.error for p in proposals if p.error)
        if current == 0 and hpa.min_replicas != 0:
            return Decision(now, 0, 0, None, "scaling is disabled since the replica count of "
                            "the target is zero", metrics=statuses)  # fmt: skip
        if current > hpa.max_replicas:
            return Decision(now, current, hpa.max_replicas, None,
                            "Current number of replicas above Spec.MaxReplicas",
                            metrics=statuses)  # fmt: skip
        if current < hpa.min_replicas:
            return Decision(now, current, hpa.min_replicas, None,
                            "Current number of replicas below Spec.MinReplicas",
                            metrics=statuses)  # fmt: skip
        valid = [(p.replicas, m) for p, m in zip(proposals, hpa.metrics, strict=True)
                 if p.replicas is not None]  # fmt: skip
        if not valid:
            return Decision(now, current, current, None, "no metric could be computed",
                            metrics=statuses, error=errors)  # fmt: skip
        proposed, leading = max(valid, key=lambda item: item[0])
        if errors and proposed < current:  # Kubernetes: invalid metrics prevent a scale-down
            return Decision(now, current, current, proposed, "scale down prevented: some "
                            "metrics are invalid", metrics=statuses, error=errors)  # fmt: skip
        if not memory.recommendations and hpa.behavior.scale_down.stabilization_window_seconds:
            memory.recommendations.append((now, current))  # no scale-down right after a start
        stabilized = self._stabilize(hpa.behavior, memory, current, proposed, now)
        desired, limit = _rate_limit(hpa, memory, current, stabilized, now)
        if desired > current:
            reason = f"{leading.resource} resource {_what(leading)} above target"
        elif desired < current:
            reason = "All metrics below target"
        else:
            reason = "recommended size matches current size"
        return Decision(now, current, desired, proposed, reason, limit, statuses, errors)

    @staticmethod
    def _stabilize(
        behavior: autoscaling.Behavior, memory: _Memory, current: int, proposed: int, now: float
    ) -> int:
        up_cutoff = now - behavior.scale_up.stabilization_window_seconds
        down_cutoff = now - behavior.scale_down.stabilization_window_seconds
        up = down = proposed
        for at, replicas in memory.recommendations:
            if at > up_cutoff:
                up = min(up, replicas)
            if at > down_cutoff:
                down = max(down, replicas)
        oldest = min(up_cutoff, down_cutoff)
        memory.recommendations = [r for r in memory.recommendations if r[0] > oldest]
        memory.recommendations.append((now, proposed))
        return min(max(current, up), down)


def _what(metric: autoscaling.ResourceMetric) -> str:
    if metric.target_type is autoscaling.TargetType.UTILIZATION:
        return "utilization (percentage of request)"
    return "average value"


def _changed(events: list[tuple[float, int]], period: int, now: float) -> int:
    return sum(n for at, n in events if at > now - period)


def _period_start(memory: _Memory, period: int, current: int, now: float) -> int:
    """The replicas at the start of the policy's period: the scalings within it undone."""
    undone = _changed(memory.scale_up, period, now) - _changed(memory.scale_down, period, now)
    return current - undone


def scale_up_limit(rules: autoscaling.ScalingRules, memory: _Memory, current: int,
                   now: float) -> int:  # fmt: skip
    """The most replicas the scale-up policies allow now (Kubernetes'
    calculateScaleUpLimitWithScalingRules)."""
    if rules.select_policy is autoscaling.SelectPolicy.DISABLED:
        return current
    found: list[int] = []
    for policy in rules.policies:
        start = _period_start(memory, policy.period_seconds, current, now)
        if policy.type is autoscaling.PolicyType.PODS:
            found.append(start + policy.value)
        else:
            found.append(math.ceil(start * (1 + policy.value / 100)))
    pick = min if rules.select_policy is autoscaling.SelectPolicy.MIN else max
    return pick(found) if found else current


def scale_down_limit(rules: autoscaling.ScalingRules, memory: _Memory, current: int,
                     now: float) -> int:  # fmt: skip
    """The fewest replicas the scale-down policies allow now (Kubernetes'
    calculateScaleDownLimitWithBehaviors)."""
    if rules.select_policy is autoscaling.SelectPolicy.DISABLED:
        return current
    found: list[int] = []
    for policy in rules.policies:
        start = _period_start(memory, policy.period_seconds, current, now)
        if policy.type is autoscaling.PolicyType.PODS:
            found.append(start - policy.value)
        else:
            found.append(int(start * (1 - policy.value / 100)))
    pick = max if rules.select_policy is autoscaling.SelectPolicy.MIN else min
    return pick(found) if found else current


def _rate_limit(
    hpa: autoscaling.HorizontalPodAutoscaler, memory: _Memory, current: int, desired: int,
    now: float,
) -> tuple[int, str]:  # fmt: skip
    longest = max((p.period_seconds for r in (hpa.behavior.scale_up, hpa.behavior.scale_down)
                   for p in r.policies), default=0)  # fmt: skip
    memory.scale_up = [e for e in memory.scale_up if e[0] > now - longest]
    memory.scale_down = [e for e in memory.scale_down if e[0] > now - longest]
    if desired > current:
        limit = max(current, scale_up_limit(hpa.behavior.scale_up, memory, current, now))
        if hpa.max_replicas > limit:
            return min(desired, limit), "ScaleUpLimit" if desired > limit else ""
        return min(desired, hpa.max_replicas), (
            "TooManyReplicas" if desired > hpa.max_replicas else ""
        )
    if desired < current:
        limit = min(current, scale_down_limit(hpa.behavior.scale_down, memory, current, now))
        if hpa.min_replicas < limit:
            return max(desired, limit), "ScaleDownLimit" if desired < limit else ""
        return max(desired, hpa.min_replicas), (
            "TooFewReplicas" if desired < hpa.min_replicas else ""
        )
    return current, ""
