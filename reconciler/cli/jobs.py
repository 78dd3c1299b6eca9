"""`reconciler get jobs` and `get cronjobs`: the Jobs of the repository with kubectl's columns
(STATUS, COMPLETIONS, DURATION, AGE), from the records the daemon keeps in its state database (a
Job it has no record of, started by one-shot `apply`, is judged from its pods seen on the
hosts), and its CronJobs (SCHEDULE, SUSPEND, ACTIVE, LAST SCHEDULE, AGE) with the Jobs the daemon
made for them, which `get jobs` lists too.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Mapping
from typing import Any

from reconciler.controllers import cronrun, jobrun
from reconciler.controllers import jobs as jobctl
from reconciler.model import hoststate, objects

NAMES = {"jobs": "jobs", "job": "jobs", "cronjobs": "cronjobs", "cronjob": "cronjobs",
         "cj": "cronjobs"}  # fmt: skip
"""`get` resource names for Jobs and CronJobs."""
CRON_COLUMNS = {"NAMESPACE": "namespace", "NAME": "name", "SCHEDULE": "schedule",
                "SUSPEND": "suspend", "ACTIVE": "active", "LAST SCHEDULE": "lastSchedule",
                "AGE": "age"}  # fmt: skip
COLUMNS = {"NAMESPACE": "namespace", "NAME": "name", "STATUS": "status",
           "COMPLETIONS": "completions", "DURATION": "duration", "AGE": "age"}  # fmt: skip
Records = Mapping[tuple[str, str], jobctl.Record]


def records() -> dict[tuple[str, str], jobctl.Record]:
    """The daemon's Job records, when its state database is readable here ({} else)."""
    return jobrun.recorded_only().records()


def with_cron_jobs(state: objects.DesiredState) -> objects.DesiredState:
    """`state` with the Jobs the daemon made for its CronJobs (as the daemon's passes see it)."""
    made: list[objects.Object] = []
    records = cronrun.recorded_only().records() if state.cron_jobs else {}
    for cron in state.cron_jobs:
        record = records.get((cron.meta.namespace, cron.meta.name))
        made.extend(cronrun.step(cron, record, {}, time.time(), schedule=False).jobs if record
                    else ())  # fmt: skip
    return objects.DesiredState.of([*state, *made]) if made else state


def cron_rows(
    state: objects.DesiredState, namespace: str, known: Records, now: float | None = None
) -> list[dict[str, Any]]:
    """One row per declared CronJob; ACTIVE counts its Jobs not finished."""
    now = time.time() if now is None else now
    crons = cronrun.recorded_only().records()
    out = []
    for cron in state.cron_jobs:
        if namespace and cron.meta.namespace != namespace:
            continue
        record = crons.get((cron.meta.namespace, cron.meta.name))
        runs = record.runs if record is not None else ()
        active = [n for n, _t in runs if (found := known.get((cron.meta.namespace, n))) is None
                  or found.outcome is None]  # fmt: skip
        last = record.last_schedule if record is not None else 0.0
        out.append({
            "namespace": cron.meta.namespace,
            "name": cron.meta.name,
            "schedule": cron.schedule + (f" ({cron.time_zone})" if cron.time_zone else ""),
            "suspend": "True" if cron.suspend else "False",
            "active": len(active),
            "lastSchedule": f"{span(now - last)} ago" if last else "<none>",
            "age": span(now - record.created) if record is not None else "",
        })  # fmt: skip
    return out


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
