"""`reconciler get jobs`: the Jobs of the repository with kubectl's columns (STATUS, COMPLETIONS,
DURATION, AGE), from the records the daemon keeps in its state database; a Job it has no record
of (no daemon here, or one-shot `apply` started it) is judged from its pods seen on the hosts.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Mapping
from typing import Any

from reconciler.controllers import jobrun
from reconciler.controllers import jobs as jobctl
from reconciler.model import hoststate, objects

NAMES = {"jobs": "jobs", "job": "jobs"}
"""`get` resource names for Jobs."""
COLUMNS = {"NAMESPACE": "namespace", "NAME": "name", "STATUS": "status",
           "COMPLETIONS": "completions", "DURATION": "duration", "AGE": "age"}  # fmt: skip
Records = Mapping[tuple[str, str], jobctl.Record]


def records() -> dict[tuple[str, str], jobctl.Record]:
    """The daemon's Job records, when its state database is readable here ({} else)."""
    return jobrun.recorded_only().records()


def missing(state: objects.DesiredState, known: Records) -> bool:
    """Whether some Job has no record (its pods must be read from the hosts)."""
    return any((j.meta.namespace, j.meta.name) not in known for j in state.jobs)


def span(seconds: float) -> str:
    """kubectl's short durations: 45s, 3m12s, 5h4m, 2d3h."""
    whole = max(0, int(seconds))
    if whole < 120:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60}s" if whole % 60 else f"{whole // 60}m"
    if whole < 48 * 3600:
        return f"{whole // 3600}h{(whole % 3600) // 60}m"
    return f"{whole // 86400}d{(whole % 86400) // 3600}h"


def _started(pods: list[hoststate.ObservedPod], now: float) -> float:
    """The earliest pod creation time (the Job's start when no record says it)."""
    times = []
    for pod in pods:
        try:
            times.append(datetime.datetime.fromisoformat(pod.created_at).timestamp())
        except ValueError:
            continue
    return min(times, default=now)


def rows(
    state: objects.DesiredState,
    namespace: str,
    known: Records,
    observations: Mapping[str, hoststate.HostObservation],
    now: float | None = None,
) -> list[dict[str, Any]]:
    """One row per declared Job (durations formatted; `-o json` gets them in seconds too)."""
    now = time.time() if now is None else now
    seen = [p for o in observations.values() if o.reachable for p in o.pods]
    out = []
    for job in state.jobs:
        if namespace and job.meta.namespace != namespace:
            continue
        record = known.get((job.meta.namespace, job.meta.name))
        if record is None:
            mine = [p for p in seen if p.namespace == job.meta.namespace and p.owner == job.owner]
            if mine:  # judged from its pods: what the controller would record
                record = jobctl.step(job, None, mine, _started(mine, now)).record
                record = jobctl.step(job, record, mine, now).record
        raw = jobctl.row(job, record, now)
        running = record is not None and record.outcome is None
        out.append({
            **raw,
            "durationSeconds": raw["duration"],
            "ageSeconds": raw["age"],
            "duration": span(raw["duration"]) if record is not None else "",
            "age": span(raw["age"]) if record is not None else "",
            "status": raw["status"] if not running else "Running",
        })  # fmt: skip
    return out
