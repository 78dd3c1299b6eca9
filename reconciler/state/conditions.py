"""The status vocabulary (Flux style): sync results, `Ready=True|False` conditions with reasons,
and events. Values only, no I/O: the daemon builds them, the store keeps them, and the CLI,
`/status`, metrics and logs print the same words.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class SyncResult(enum.StrEnum):
    """How one reconcile ended."""

    SUCCEEDED = "Succeeded"  # every action done; every object where it should be
    FAILED = "Failed"  # nothing could be done (e.g. the source could not be fetched)
    INVALID = "Invalid"  # the revision did not validate: nothing applied, nothing pruned
    PARTIAL = "Partial"  # some actions done, some failed or some hosts unreachable
    BLOCKED = "Blocked"  # the prune guard held the revision: the last good one keeps running


class Trigger(enum.StrEnum):
    """Why a reconcile started. The store accepts any string; these are the usual ones."""

    STARTUP = "startup"
    PUSH = "push"  # the repository changed on disk (filesystem watch)
    WEBHOOK = "webhook"
    POLL = "poll"  # a poll of the remote found a new revision
    RESYNC = "resync"  # the resync interval elapsed (drift repair)
    HOST_EVENT = "host-event"


class ConditionType(enum.StrEnum):
    READY = "Ready"
    PROGRESSING = "Progressing"  # Deployments: a rollout moves, is complete, or is stuck
    AVAILABLE = "Available"  # Deployments: at least replicas - maxUnavailable available
    LOAD_BALANCER = "LoadBalancerReady"  # Hosts: the host's HAProxy runs (when Services exist)


class ConditionStatus(enum.StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Reason(enum.StrEnum):
    """Why a condition has its status. Conditions accept any string as a reason, so a newer
    daemon may add words; use these members so that the CLI, /status and logs agree."""

    SYNCED = "Synced"  # Ready=True: runs as declared at the applied revision
    HOST_READY = "HostReady"  # Ready=True for a Host: reachable, podman answers
    PROGRESSING = "Progressing"  # Ready=False/Unknown: an action is under way
    MANIFEST_INVALID = "ManifestInvalid"  # the revision was refused; the last good one runs
    SIGNATURE_INVALID = "SignatureInvalid"  # refused: head commit unsigned or not by an allowed key
    PRUNE_BLOCKED = "PruneBlocked"  # held: the revision would delete too many pods (counts)
    HOST_UNREACHABLE = "HostUnreachable"  # SSH or podman on the host did not answer
    UNSCHEDULABLE = "Unschedulable"  # no host fits: message says why, Kubernetes style
    APPLY_FAILED = "ApplyFailed"  # podman refused an action
    RECONCILIATION_FAILED = "ReconciliationFailed"  # the sync itself failed (e.g. git fetch)
    DRIFT_RESTORED = "DriftRestored"  # an event: something changed by hand was put back
    PRUNED = "Pruned"  # an event: an object no longer declared was removed
    ANNOUNCED_NOT_HEAD = "AnnouncedNotHead"  # an event: a webhook's commit is not the fetched head
    # Deployments (Kubernetes' words)
    NEW_REPLICA_SET_AVAILABLE = "NewReplicaSetAvailable"  # Progressing=True: rollout complete
    REPLICA_SET_UPDATED = "ReplicaSetUpdated"  # Progressing=True: a rollout is under way
    PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"  # Progressing=False: stuck
    ROLLED_BACK = "RolledBack"  # Progressing=False: back on the last good template
    MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"  # Available=True
    MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"  # Available=False
    # Pods and containers (Kubernetes' event reasons)
    CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"  # Ready=False: a container waits to restart
    NOT_READY = "ContainersNotReady"  # Ready=False: a readiness probe has not passed
    STARTED = "Started"  # an event: a container was (re)started
    # Services and the per-host load balancer
    ENDPOINTS_READY = "EndpointsReady"  # Ready=True for a Service: at least one Ready pod serves
    NO_ENDPOINTS = "NoEndpoints"  # Ready=False: no Ready pod matches the selector
    LB_RUNNING = "LoadBalancerRunning"  # LoadBalancerReady=True
    LB_DOWN = "LoadBalancerDown"  # LoadBalancerReady=False: message says why
    LB_RESTARTED = "LoadBalancerRestarted"  # an event: the host's HAProxy had died, started again
    BACK_OFF = "BackOff"  # an event: a restart is delayed
    KILLING = "Killing"  # an event: a container is stopped (liveness failed)
    UNHEALTHY = "Unhealthy"  # an event: a probe failed
    SCALING = "ScalingReplicaSet"  # an event: a rollout step created or removed pods
    SUCCESSFUL_RESCALE = "SuccessfulRescale"  # an event: an HPA changed a Deployment's replicas


class EventKind(enum.StrEnum):
    """Kubernetes event types: Normal for what went as planned, Warning for what did not."""

    NORMAL = "Normal"
    WARNING = "Warning"


@dataclass(frozen=True)
class Condition:
    """One condition of one object. `kind` is the object's kind (`Pod`, `Deployment`, `Host`,
    ...); `namespace` is "" for cluster-scoped kinds and hosts. `since` is the last transition
    time (seconds since the epoch); 0 means "now" when the store records it, and the store keeps
    the earlier time when an object's status has not changed."""

    kind: str
    namespace: str
    name: str
    type: str
    status: ConditionStatus
    reason: str
    message: str = ""
    since: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is ConditionStatus.TRUE

    @property
    def object(self) -> str:
        """The object as `Kind/namespace/name` (or `Kind/name`), as in logs and events."""
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.kind, self.namespace, self.name, self.type)


@dataclass(frozen=True)
class SyncRecord:
    """One reconcile as recorded. `result` and `duration` are None while it runs (or when the
    daemon died during it). `errors` are one-line messages that already carry file:line."""

    id: int
    revision: str
    trigger: str
    started: float
    duration: float | None = None
    result: SyncResult | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    errors: tuple[str, ...] = ()

    @property
    def finished(self) -> bool:
        return self.result is not None


@dataclass(frozen=True)
class RolloutRecord:
    """A template a Deployment ran: the commit that introduced it, when it started, and when it
    became fully available or missed its deadline (None: not (yet))."""

    namespace: str
    name: str
    template_hash: str
    revision: str
    started: float
    completed: float | None = None
    failed: float | None = None


@dataclass(frozen=True)
class Rollback:
    """A Deployment runs `target_hash` (from `target_revision`) instead of git's failing
    template `failing_hash`, until git changes that Deployment's template."""

    failing_hash: str
    target_hash: str
    target_revision: str
    since: float


@dataclass(frozen=True)
class Event:
    """Something worth telling an operator that is not a state: drift restored, pod pruned."""

    id: int
    time: float
    kind: EventKind
    object: str
    reason: str
    message: str
