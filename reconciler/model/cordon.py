"""Taking a host out of service through git, as `kubectl cordon` and `kubectl drain` do: a Host's
`spec.unschedulable: true` (cordon) or annotation `reconciler.dev/drain: "true"` (drain, which
also cordons) gives it Kubernetes' `node.kubernetes.io/unschedulable:NoSchedule` taint when the
manifests are built, so the scheduler places no new pod there; pods already there stay (a drain
moves them: `controllers.drain`).
"""

from __future__ import annotations

from reconciler.model import base, objects, workloads

UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
DRAIN_ANNOTATION = "reconciler.dev/drain"


def draining(meta: base.ObjectMeta) -> bool:
    return meta.annotations.get(DRAIN_ANNOTATION) == "true"


def cordon_taints(unschedulable: bool, meta: base.ObjectMeta) -> tuple[objects.Taint, ...]:
    """The taint a cordoned or draining host gets (none otherwise)."""
    if unschedulable or draining(meta):
        return (objects.Taint(UNSCHEDULABLE_TAINT, workloads.TaintEffect.NO_SCHEDULE),)
    return ()


def schedulable(host: objects.Host) -> bool:
    return not (host.unschedulable or draining(host.meta))
