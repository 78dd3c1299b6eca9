"""`HorizontalPodAutoscaler` (autoscaling/v2), typed, with Kubernetes' defaults filled in by the
loader: resource metrics (cpu, memory) and the scale-up/scale-down behavior. The autoscaler
controllers (`controllers.hpacalc`, `controllers.hpa`) read it; `controllers.autoscale` runs it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from reconciler.model import base

DEFAULT_CPU_UTILIZATION = 80
"""Kubernetes' metric when `metrics` is empty: 80% of the cpu requests."""


class ResourceName(enum.StrEnum):
    CPU = "cpu"
    MEMORY = "memory"


class TargetType(enum.StrEnum):
    UTILIZATION = "Utilization"
    AVERAGE_VALUE = "AverageValue"


class PolicyType(enum.StrEnum):
    PODS = "Pods"
    PERCENT = "Percent"


class SelectPolicy(enum.StrEnum):
    MAX = "Max"
    MIN = "Min"
    DISABLED = "Disabled"


@dataclass(frozen=True)
class ResourceMetric:
    """A `type: Resource` metric. `average_value` is in millicores (cpu) or bytes (memory)."""

    resource: ResourceName
    target_type: TargetType
    average_utilization: int = 0  # percent of the requests, with Utilization
    average_value: int = 0  # with AverageValue


@dataclass(frozen=True)
class ScalingPolicy:
    type: PolicyType
    value: int
    period_seconds: int


@dataclass(frozen=True)
class ScalingRules:
    stabilization_window_seconds: int
    select_policy: SelectPolicy
    policies: tuple[ScalingPolicy, ...]


SCALE_UP_DEFAULT = ScalingRules(0, SelectPolicy.MAX, (
    ScalingPolicy(PolicyType.PODS, 4, 15), ScalingPolicy(PolicyType.PERCENT, 100, 15)))  # fmt: skip
SCALE_DOWN_DEFAULT = ScalingRules(300, SelectPolicy.MAX, (
    ScalingPolicy(PolicyType.PERCENT, 100, 15),))  # fmt: skip


@dataclass(frozen=True)
class Behavior:
    scale_up: ScalingRules = SCALE_UP_DEFAULT
    scale_down: ScalingRules = SCALE_DOWN_DEFAULT


@dataclass(frozen=True)
class HorizontalPodAutoscaler:
    meta: base.ObjectMeta
    target_kind: str
    target_name: str
    max_replicas: int
    min_replicas: int = 1
    metrics: tuple[ResourceMetric, ...] = (
        ResourceMetric(ResourceName.CPU, TargetType.UTILIZATION, DEFAULT_CPU_UTILIZATION),
    )
    behavior: Behavior = field(default_factory=Behavior)
    source: base.SourceRef | None = field(default=None, compare=False)

    @property
    def key(self) -> base.ObjectKey:
        return base.ObjectKey(base.Kind.HORIZONTAL_POD_AUTOSCALER, self.meta.namespace,
                              self.meta.name)  # fmt: skip

    @property
    def target_key(self) -> base.ObjectKey:
        """The Deployment it scales (the loader refuses any other kind)."""
        return base.ObjectKey(base.Kind.DEPLOYMENT, self.meta.namespace, self.target_name)

    @property
    def reference(self) -> str:
        """`Deployment/web`, as `get hpa` shows it."""
        return f"{self.target_kind}/{self.target_name}"
