"""`PodDisruptionBudget` (`policy/v1`): how many of the pods a selector picks may be down at
once for a voluntary disruption (a drain), as in Kubernetes. Built by the manifest loader; the
drain controller (`controllers.drain`) asks `allowed` before it moves a pod.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from reconciler.model import base


@dataclass(frozen=True)
class PodDisruptionBudget:
    meta: base.ObjectMeta
    selector: base.FrozenMap[str, str]  # matchLabels: every pod carrying all of them
    min_available: int | str | None = None  # an int or a percentage ("50%") of the expected pods
    max_unavailable: int | str | None = None
    source: base.SourceRef | None = field(default=None, compare=False)

    @property
    def key(self) -> base.ObjectKey:
        return base.ObjectKey(base.Kind.POD_DISRUPTION_BUDGET, self.meta.namespace, self.meta.name)

    def selects(self, namespace: str, labels: base.FrozenMap[str, str]) -> bool:
        """Whether pods with `labels` in `namespace` are covered (policy/v1: an empty selector
        covers every pod of the namespace)."""
        return namespace == self.meta.namespace and all(
            labels.get(key) == value for key, value in self.selector.items()
        )

    def allowed(self, expected: int, healthy: int) -> int:
        """Kubernetes' disruptionsAllowed: healthy pods beyond the desired healthy count."""
        return healthy - self.desired_healthy(expected)

    def desired_healthy(self, expected: int) -> int:
        if self.min_available is not None:
            return _scaled(self.min_available, expected)
        if self.max_unavailable is not None:
            return max(0, expected - _scaled(self.max_unavailable, expected))
        return expected  # neither: no voluntary disruption (Kubernetes requires one)


def _scaled(value: int | str, expected: int) -> int:
    """An int, or a percentage of `expected` rounded up (Kubernetes rounds both fields up)."""
    if isinstance(value, int):
        return max(0, value)
    text = value.strip()
    if text.endswith("%"):
        return max(0, math.ceil(expected * float(text[:-1]) / 100))
    return max(0, int(text))
