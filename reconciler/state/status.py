"""The status document: what `GET /status` serves and `reconciler status -o json` prints, built
from the store alone (so the CLI works while the daemon runs, or after it stopped).

It answers: which revision runs, how the last sync went, what errors it had, which objects are not
Ready (with reasons), which hosts are Ready, and the overall `Ready` condition of the reconciler.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from reconciler.state import conditions as cond
from reconciler.state import store as storemod

HOST_KIND = "Host"
RECENT_EVENTS = 10


def document(store: storemod.Store) -> dict[str, Any]:
    """The status document (JSON-ready: str, int, float, bool, None, lists and dicts)."""
    latest = store.last_sync()
    finished = latest if latest is not None and latest.finished else store.last_finished_sync()
    every = store.conditions()
    hosts = host_conditions(every)
    lb = cond.ConditionType.LOAD_BALANCER
    balancers = [c for c in every if c.kind == HOST_KIND and c.type == lb]
    objects = [c for c in every if c.kind != HOST_KIND]
    unhealthy = [c for c in objects if not c.ok] + [c for c in balancers if not c.ok]
    overall = overall_condition(finished, [h for h in hosts if not h.ok] + unhealthy)
    applied_at = store.applied_at()
    return {
        "ready": overall.ok,
        "condition": condition_json(overall),
        "revision": {
            "applied": store.applied_revision(),
            "appliedAt": iso(applied_at) if applied_at is not None else None,
        },
        "lastSync": sync_json(latest) if latest is not None else None,
        "lastFinishedSync": sync_json(finished) if finished is not None else None,
        "errors": list(finished.errors) if finished is not None else [],
        "objects": objects_by_state(objects),
        "deployments": deployments_json(objects),
        "unhealthy": [condition_json(c) for c in unhealthy],
        "hosts": {
            "ready": sum(1 for h in hosts if h.ok),
            "total": len(hosts),
            "items": [condition_json(h) for h in hosts],
        },
        "loadBalancers": {
            "running": sum(1 for c in balancers if c.ok),
            "total": len(balancers),
            "items": [condition_json(c) for c in balancers],
        },
        "services": [condition_json(c) for c in objects if c.kind == "Service"],
        "events": [event_json(e) for e in store.events(RECENT_EVENTS)],
    }


def host_conditions(conditions: Sequence[cond.Condition]) -> list[cond.Condition]:
    """Each host's Ready condition (a host also has LoadBalancerReady when Services exist)."""
    return [c for c in conditions if c.kind == HOST_KIND and c.type == cond.ConditionType.READY]


def overall_condition(
    finished: cond.SyncRecord | None, not_ready: list[cond.Condition]
) -> cond.Condition:
    """The reconciler's own Ready condition: True only when the last finished sync succeeded
    and every object and host is Ready; otherwise the first reason that explains why not
    (`not_ready` lists hosts first: an unreachable host explains its pods)."""

    def make(status: cond.ConditionStatus, reason: str, message: str) -> cond.Condition:
        ended = finished.started + (finished.duration or 0.0) if finished is not None else 0.0
        return cond.Condition("Reconciler", "", "reconciler", cond.ConditionType.READY,
                              status, reason, message, ended)  # fmt: skip

    if finished is None:
        return make(cond.ConditionStatus.UNKNOWN, cond.Reason.PROGRESSING, "no sync finished yet")
    if finished.result is cond.SyncResult.INVALID:
        first = finished.errors[0] if finished.errors else "the manifests do not validate"
        signature = first.startswith(f"{cond.Reason.SIGNATURE_INVALID}:")  # errors.SignatureInvalid
        return make(
            cond.ConditionStatus.FALSE,
            cond.Reason.SIGNATURE_INVALID if signature else cond.Reason.MANIFEST_INVALID,
            f"revision {finished.revision} refused ({len(finished.errors)} error(s), first: "
            f"{first}); the last good revision keeps running",
        )
    if finished.result is cond.SyncResult.BLOCKED:  # the prune guard held the revision
        first = finished.errors[0] if finished.errors else "a mass prune was held"
        prefix = f"{cond.Reason.PRUNE_BLOCKED}: "
        return make(cond.ConditionStatus.FALSE, cond.Reason.PRUNE_BLOCKED,
                    first.removeprefix(prefix))  # fmt: skip
    if finished.result is cond.SyncResult.FAILED:
        first = finished.errors[0] if finished.errors else "no error recorded"
        return make(cond.ConditionStatus.FALSE, cond.Reason.RECONCILIATION_FAILED, first)
    if not_ready:
        worst = not_ready[0]
        return make(
            cond.ConditionStatus.FALSE,
            worst.reason,
            f"{len(not_ready)} object(s) not ready; {worst.object}: {worst.message}".rstrip(": "),
        )
    if finished.result is cond.SyncResult.PARTIAL:
        first = finished.errors[0] if finished.errors else "some actions did not complete"
        return make(cond.ConditionStatus.FALSE, cond.Reason.APPLY_FAILED, first)
    return make(
        cond.ConditionStatus.TRUE,
        cond.Reason.SYNCED,
        f"revision {finished.revision} applied",
    )


def deployments_json(conditions: Iterable[cond.Condition]) -> list[dict[str, Any]]:
    """Each Deployment's rollout: Progressing (reason, message: what it waits for, or why it
    is stuck or rolled back) and Available (how many of its replicas are available)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for c in conditions:
        if c.kind != "Deployment":
            continue
        item = found.setdefault((c.namespace, c.name), {"namespace": c.namespace, "name": c.name})
        item[c.type[0].lower() + c.type[1:]] = condition_json(c)
    return [found[key] for key in sorted(found)]


def objects_by_state(conditions: Iterable[cond.Condition]) -> dict[str, int]:
    """Objects counted by state: `Ready` for those Ready=True, else their reason
    (`Unschedulable`, `HostUnreachable`, ...). Bounded by the reason vocabulary, so usable as a
    metric label too."""
    counts = Counter(
        "Ready" if c.ok else (c.reason or str(c.status))
        for c in conditions
        if c.type == cond.ConditionType.READY
    )
    return dict(sorted(counts.items()))


def iso(timestamp: float) -> str:
    """Seconds since the epoch as RFC 3339 UTC with milliseconds: 2024-05-01T12:00:00.000Z."""
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sync_json(sync: cond.SyncRecord) -> dict[str, Any]:
    return {
        "id": sync.id,
        "revision": sync.revision,
        "trigger": sync.trigger,
        "started": iso(sync.started),
        "durationSeconds": sync.duration,
        "result": str(sync.result) if sync.result is not None else "Running",
        "counts": dict(sync.counts),
        "errors": list(sync.errors),
    }


def condition_json(condition: cond.Condition) -> dict[str, Any]:
    return {
        "kind": condition.kind,
        "namespace": condition.namespace,
        "name": condition.name,
        "type": condition.type,
        "status": str(condition.status),
        "reason": condition.reason,
        "message": condition.message,
        "lastTransitionTime": iso(condition.since) if condition.since else None,
    }


def event_json(event: cond.Event) -> dict[str, Any]:
    return {
        "time": iso(event.time),
        "type": str(event.kind),
        "object": event.object,
        "reason": event.reason,
        "message": event.message,
    }
