"""The Job controller's pure core: given a Job, what is recorded about it and its pods seen on the
hosts, one `step` says which pods to create, keep and remove now, and whether the Job finished
(Complete, or Failed with BackoffLimitExceeded / DeadlineExceeded). No I/O and no clock of its
own: the caller passes `now` and keeps the `Record` (a JSON-able dict) between passes and across
daemon restarts, so a finished Job is never run again.

Not wired into `sync.STEPS` yet (see the module's tests for the behaviour it guarantees).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.model import hoststate, jobs, workloads
from reconciler.plan import expand
from reconciler.state import conditions as cond

BACKOFF_FIRST = 10.0  # seconds before the pod after the first failure (Kubernetes' 10 s)
BACKOFF_MAX = 360.0  # Kubernetes' cap: six minutes


class Outcome(enum.StrEnum):
    """How a finished Job ended: its condition type."""

    COMPLETE = "Complete"
    FAILED = "Failed"


class Reason(enum.StrEnum):
    COMPLETED = "Completed"
    BACKOFF_LIMIT = "BackoffLimitExceeded"
    DEADLINE = "DeadlineExceeded"
    SUCCESSFUL_CREATE = "SuccessfulCreate"
    SUCCESSFUL_DELETE = "SuccessfulDelete"


@dataclass(frozen=True)
class Record:
    """What the controller remembers about one Job (kept by the caller between passes)."""

    namespace: str
    name: str
    template_hash: str
    started: float
    next_index: int = 0  # the suffix of the next pod made
    succeeded: tuple[str, ...] = ()  # pods that ran to success
    failed: tuple[str, ...] = ()  # pods that failed (restartPolicy Never)
    last_failure: float = 0.0
    outcome: Outcome | None = None
    reason: str = ""
    message: str = ""
    finished: float = 0.0
    cleaned: bool = False  # ttlSecondsAfterFinished passed: its pods were removed

    def as_dict(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["succeeded"], data["failed"] = list(self.succeeded), list(self.failed)
        data["outcome"] = str(self.outcome) if self.outcome else ""
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Record:
        outcome = str(data.get("outcome") or "")
        return cls(
            namespace=str(data["namespace"]),
            name=str(data["name"]),
            template_hash=str(data.get("template_hash", "")),
            started=float(data.get("started", 0.0)),
            next_index=int(data.get("next_index", 0)),
            succeeded=tuple(str(n) for n in data.get("succeeded") or ()),
            failed=tuple(str(n) for n in data.get("failed") or ()),
            last_failure=float(data.get("last_failure", 0.0)),
            outcome=Outcome(outcome) if outcome else None,
            reason=str(data.get("reason", "")),
            message=str(data.get("message", "")),
            finished=float(data.get("finished", 0.0)),
            cleaned=bool(data.get("cleaned", False)),
        )


@dataclass(frozen=True)
class Step:
    """One pass's decision for one Job."""

    record: Record
    create: tuple[expand.DesiredPod, ...] = ()
    keep: tuple[hoststate.ObservedPod, ...] = ()
    remove: tuple[hoststate.ObservedPod, ...] = ()
    events: tuple[tuple[cond.EventKind, str, str], ...] = ()  # (type, reason, message)
    requeue_after: float | None = None  # seconds until this Job wants another pass
    template_changed: bool = False  # git's template differs from the one this Job ran
    conditions: tuple[cond.Condition, ...] = field(default=())


def backoff(failures: int) -> float:
    """Seconds to wait before the next pod after `failures` failures (doubling, capped)."""
    if failures <= 0:
        return 0.0
    return float(min(BACKOFF_MAX, BACKOFF_FIRST * 2.0 ** (failures - 1)))


def pod_name(job: jobs.Job, index: int) -> str:
    return f"{job.meta.name}-{index}"


def _new_pod(job: jobs.Job, name: str, template_hash: str) -> expand.DesiredPod:
    return expand.DesiredPod(
        namespace=job.meta.namespace,
        name=name,
        spec=job.template.spec,
        labels=job.template.labels,
        template_hash=template_hash,
        owner=job.owner,
        source=job.source,
    )


def _finish(record: Record, outcome: Outcome, reason: Reason, message: str, now: float) -> Record:
    return replace(record, outcome=outcome, reason=str(reason), message=message, finished=now)


def step(
    job: jobs.Job,
    record: Record | None,
    pods: Sequence[hoststate.ObservedPod],
    now: float,
    *,
    restarts: int = 0,
    blind: bool = False,
) -> Step:
    """The next step of `job`. `pods`: its pods seen on reachable hosts; `restarts`: container
    restarts the pod lifecycle controller made in its pods (they count as failures with
    restartPolicy OnFailure, as in Kubernetes); `blind`: a host could not be read, so a pod not
    seen may still run there (no replacement is made for it)."""
    digest = expand.template_hash(job.template)
    if record is None:
        record = Record(job.meta.namespace, job.meta.name, digest, started=now)
    changed = record.template_hash != digest
    if record.outcome is not None:
        return _finished(job, record, pods, now, changed)
    record, active, failures = _tally(job, record, pods, now, restarts)
    finished = [p for p in pods if p not in active]
    ending = _ending(job, record, failures, now)
    if ending is not None:
        outcome, reason, message = ending
        record = _finish(record, outcome, reason, message, now)
        kind = cond.EventKind.NORMAL if outcome is Outcome.COMPLETE else cond.EventKind.WARNING
        done = _finished(job, record, finished, now, changed)
        return replace(done, remove=tuple(active), events=((kind, str(reason), message),))
    remaining = job.completions - len(record.succeeded)
    wanted = max(0, min(job.parallelism, remaining) - len(active))
    waits = []
    due = record.last_failure + backoff(failures) if failures else now
    if wanted and (blind or due > now):
        if due > now:
            waits.append(due - now)
        wanted = 0  # after a failure, the next pod waits its back-off; a blind pass waits
    create: list[expand.DesiredPod] = []
    index = record.next_index
    taken = {p.name for p in pods} | set(record.succeeded) | set(record.failed)
    while len(create) < wanted:
        name = pod_name(job, index)
        index += 1
        if name not in taken:
            create.append(_new_pod(job, name, digest))
    record = replace(record, next_index=index)
    if job.active_deadline_seconds is not None:
        waits.append(max(0.0, record.started + job.active_deadline_seconds - now))
    events = tuple((cond.EventKind.NORMAL, str(Reason.SUCCESSFUL_CREATE), f"Created pod: {p.name}")
                   for p in create)  # fmt: skip
    return Step(
        record=record,
        create=tuple(create),
        keep=tuple(pods),
        events=events,
        requeue_after=min(waits) if waits else None,
        template_changed=changed,
        conditions=conditions(record),
    )


def _tally(
    job: jobs.Job,
    record: Record,
    pods: Sequence[hoststate.ObservedPod],
    now: float,
    restarts: int,
) -> tuple[Record, list[hoststate.ObservedPod], int]:
    """The record with the pods that succeeded or failed since, the pods still active, and the
    failures counted against backoffLimit."""
    never = job.template.spec.restart_policy is workloads.RestartPolicy.NEVER
    succeeded, failed = list(record.succeeded), list(record.failed)
    last_failure = record.last_failure
    active: list[hoststate.ObservedPod] = []
    for pod in pods:
        if pod.phase is hoststate.PodPhase.SUCCEEDED:
            if pod.name not in succeeded:
                succeeded.append(pod.name)
        elif pod.phase is hoststate.PodPhase.FAILED and never:
            if pod.name not in failed:
                failed.append(pod.name)
                last_failure = now
        else:
            active.append(pod)
    record = replace(record, succeeded=tuple(succeeded), failed=tuple(failed),
                     last_failure=last_failure)  # fmt: skip
    return record, active, len(failed) + (0 if never else restarts)


def _ending(
    job: jobs.Job, record: Record, failures: int, now: float
) -> tuple[Outcome, Reason, str] | None:
    """How the Job ends now, if it does: enough successes, too many failures, too long."""
    where = f"job {job.meta.namespace}/{job.meta.name}"
    if len(record.succeeded) >= job.completions:
        return (
            Outcome.COMPLETE,
            Reason.COMPLETED,
            f"{where} completed: {len(record.succeeded)}/{job.completions} succeeded",
        )
    if failures > job.backoff_limit:
        return (
            Outcome.FAILED,
            Reason.BACKOFF_LIMIT,
            f"{where} has reached the specified backoff limit ({job.backoff_limit})",
        )
    deadline = job.active_deadline_seconds
    if deadline is not None and now - record.started >= deadline:
        return (Outcome.FAILED, Reason.DEADLINE, f"{where} was active longer than {deadline}s")
    return None


def _finished(
    job: jobs.Job, record: Record, pods: Sequence[hoststate.ObservedPod], now: float,
    changed: bool,
) -> Step:  # fmt: skip
    """A finished Job: never run again; its pods stay for their logs until the TTL passed."""
    ttl = job.ttl_seconds_after_finished
    if ttl is not None and now >= record.finished + ttl:
        events: tuple[tuple[cond.EventKind, str, str], ...] = ()
        if pods:
            events = (
                (
                    cond.EventKind.NORMAL,
                    str(Reason.SUCCESSFUL_DELETE),
                    f"ttlSecondsAfterFinished ({ttl}s) passed: removed {len(pods)} pod(s)",
                ),
            )
        record = replace(record, cleaned=True)
        return Step(record, remove=tuple(pods), events=events, template_changed=changed,
                    conditions=conditions(record))  # fmt: skip
    wait = None if ttl is None else record.finished + ttl - now
    return Step(record, keep=tuple(pods), requeue_after=wait, template_changed=changed,
                conditions=conditions(record))  # fmt: skip


def conditions(record: Record) -> tuple[cond.Condition, ...]:
    """Kubernetes' Job conditions: Complete or Failed (True) once finished, none before."""
    if record.outcome is None:
        return ()
    return (cond.Condition("Job", record.namespace, record.name, str(record.outcome),
                           cond.ConditionStatus.TRUE, record.reason, record.message,
                           record.finished),)  # fmt: skip


def row(job: jobs.Job, record: Record | None, now: float) -> dict[str, Any]:
    """`get jobs`' columns: COMPLETIONS succeeded/wanted, DURATION (start to finish, or to now
    while it runs), AGE since it started; STATUS Running, Complete or Failed."""
    if record is None:
        return {"namespace": job.meta.namespace, "name": job.meta.name,
                "completions": f"0/{job.completions}", "duration": 0.0, "age": 0.0,
                "status": "Pending"}  # fmt: skip
    end = record.finished if record.outcome is not None else now
    return {
        "namespace": job.meta.namespace,
        "name": job.meta.name,
        "completions": f"{len(record.succeeded)}/{job.completions}",
        "duration": max(0.0, end - record.started),
        "age": max(0.0, now - record.started),
        "status": str(record.outcome) if record.outcome else "Running",
    }
