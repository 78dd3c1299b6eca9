"""Fakes for the dashboard's unit tests: a status document as the daemon builds it (with a
refused revision and a hostile message), a snapshot, a store of history and events, and a commit
description. Hostile strings are everywhere a user-controlled value can reach a page."""

from __future__ import annotations

import datetime
from typing import Any

from reconciler.source import git
from reconciler.state import conditions as cond
from reconciler.web.ui import snapshot

NOW = 1_800_000_000.0
GOOD = "a" * 40
BAD = "b" * 40
HOSTILE = "<script>alert(\"x\")</script><img src=x onerror=alert('y')>"


def iso(seconds_ago: float) -> str:
    moment = datetime.datetime.fromtimestamp(NOW - seconds_ago, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def condition(kind: str, ns: str, name: str, status: str = "True", reason: str = "Synced",
              message: str = "", ctype: str = "Ready") -> dict[str, Any]:  # fmt: skip
    return {"kind": kind, "namespace": ns, "name": name, "type": ctype, "status": status,
            "reason": reason, "message": message, "lastTransitionTime": iso(600)}  # fmt: skip


def status_document(*, refused: bool = True) -> dict[str, Any]:
    errors = [f"shop/web.yaml:12: spec.replicas: {HOSTILE} is not of type 'integer'"]
    finished = {"id": 7, "revision": BAD if refused else GOOD, "trigger": "push",
                "started": iso(30), "durationSeconds": 0.42,
                "result": "Invalid" if refused else "Succeeded", "counts": {},
                "errors": errors if refused else []}  # fmt: skip
    return {
        "ready": not refused,
        "condition": condition(
            "Reconciler",
            "",
            "reconciler",
            "False" if refused else "True",
            "ManifestInvalid" if refused else "Synced",
            f"revision {BAD} refused" if refused else "applied",
        ),
        "revision": {"applied": GOOD, "appliedAt": iso(300)},
        "lastSync": finished,
        "lastFinishedSync": finished,
        "errors": finished["errors"],
        "objects": {"Ready": 3},
        "deployments": [
            {
                "namespace": "shop",
                "name": "web",
                "progressing": condition(
                    "Deployment",
                    "shop",
                    "web",
                    "True",
                    "NewReplicaSetAvailable",
                    HOSTILE,
                    "Progressing",
                ),
            }
        ],
        "unhealthy": [condition("Pod", "shop", "web-2", "False", "CrashLoopBackOff", HOSTILE)],
        "hosts": {
            "ready": 1,
            "total": 2,
            "items": [
                condition("Host", "", "h1", reason="HostReady"),
                condition("Host", "", "h2", "False", "HostUnreachable", "ssh: connection refused"),
            ],
        },
        "loadBalancers": {
            "running": 1,
            "total": 1,
            "items": [
                condition("Host", "", "h1", reason="LoadBalancerRunning", ctype="LoadBalancerReady")
            ],
        },
        "services": [condition("Service", "shop", "web", reason="EndpointsReady")],
        "events": [],
    }


def snap() -> snapshot.Snapshot:
    return snapshot.Snapshot(
        taken=NOW - 5,
        revision=GOOD,
        pods=(
            snapshot.PodRow(
                "shop", "web-0", "h1", "Running", "1/1", 0, NOW - 3600, "Deployment/web"
            ),
            snapshot.PodRow(
                "shop", "web-1", "h1", "Running", "1/1", 2, NOW - 120, "Deployment/web"
            ),
            snapshot.PodRow(
                "shop",
                "web-2",
                "h2",
                "CrashLoopBackOff",
                "0/1",
                5,
                NOW - 60,
                "Deployment/web",
                HOSTILE,
            ),
        ),
        deployments=(snapshot.DeploymentRow("shop", "web", 3, 3, 2, 2, False, False, HOSTILE),),
        hosts=(
            snapshot.HostRow("h1", "198.18.0.11", True, "", 2, 500, 2000, 256 << 20, 2 << 30),
            snapshot.HostRow("h2", "198.18.0.12", False, HOSTILE, 0, 0, 0, 0, 0),
        ),
        services=(
            snapshot.ServiceRow(
                "shop", "web", "NodePort", ("8000:30080/TCP",), ("198.18.0.11:42001 (web-0)",), ()
            ),
        ),
    )


class FakeStore:
    """The store's reading side, as `view.Source` asks."""

    def __init__(self, events: int = 3, fail: Exception | None = None, syncs: bool = True) -> None:
        self.fail = fail
        self.syncs = syncs
        kinds = (cond.EventKind.NORMAL, cond.EventKind.WARNING)
        objects = ("Deployment/shop/web", "Pod/shop/web-0", f"Pod/shop/{HOSTILE}")
        self._events = [cond.Event(i, NOW - i, kinds[i % 2], objects[i % 3], "Created",
                                   f"event {i} {HOSTILE}") for i in range(events)]  # fmt: skip

    def _check(self) -> None:
        if self.fail is not None:
            raise self.fail

    def history(self, limit: int = 20) -> list[cond.SyncRecord]:
        self._check()
        if not self.syncs:
            return []
        return [
            cond.SyncRecord(7, BAD, "push", NOW - 30, 0.42, cond.SyncResult.INVALID, {},
                            (f"shop/web.yaml:12: {HOSTILE}",)),
            cond.SyncRecord(6, GOOD, "startup", NOW - 300, 3.5, cond.SyncResult.SUCCEEDED,
                            {"create": 3, "unchanged": 0}),
        ][:limit]  # fmt: skip

    def events(self, limit: int = 50) -> list[cond.Event]:
        self._check()
        return self._events[:limit]

    def host_conditions(self) -> list[dict[str, Any]]:
        self._check()
        return [{"host": "h2", "status": "NotReady", "reason": "HostLost", "message": HOSTILE,
                 "since": NOW - 90, "lastHeartbeat": NOW - 100}]  # fmt: skip

    def autoscaler_records(self) -> list[dict[str, Any]]:
        self._check()
        return [{"namespace": "shop", "name": "web", "target": "web", "replicas": 3,
                 "last_scale": NOW - 50, "targets": "cpu: 40%/50%", "running": 3}]  # fmt: skip

    def job_records(self) -> list[dict[str, Any]]:
        self._check()
        return []

    def cron_job_records(self) -> list[dict[str, Any]]:
        self._check()
        return []


def describe(sha: str) -> git.RevisionInfo | None:
    when = datetime.datetime.fromtimestamp(NOW - 400, tz=datetime.UTC)
    if sha == GOOD:
        return git.RevisionInfo(GOOD, GOOD[:7], "Ann <ann@example.com>", "scale web to 3", when)
    return git.RevisionInfo(sha, sha[:7], f"Mallory <{HOSTILE}>", HOSTILE, when)
