"""The Job controller in a reconcile: `step` (one of `sync.STEPS`, after the Deployment
controller) runs `jobs.step` for every declared Job and adds what it decided to the pass's
expansion: pods to create, finished pods kept for their logs until ttlSecondsAfterFinished,
pods to remove (a Job that failed or passed its TTL).

`Jobs` keeps each Job's `jobs.Record`. The daemon's is backed by the state database (table
`jobs`), so a finished Job is never run again after a resync or a restart of the daemon;
one-shot `apply` and the dry-run `diff` read those records and write nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from reconciler.controllers import jobs as jobctl
from reconciler.controllers import lifecycle
from reconciler.model import base, hoststate, objects, workloads
from reconciler.model import jobs as jobsmod
from reconciler.plan import expand
from reconciler.state import conditions as cond
from reconciler.state import store as storemod

if TYPE_CHECKING:
    from reconciler.controllers import sync

log = logging.getLogger(__name__)

ACTIVE_REQUEUE = 2.0
"""Seconds until the next reconcile while a Job has pods running: it sees them finish."""
OWNER_PREFIX = f"{base.Kind.JOB}/"

EventSink = Callable[[cond.EventKind, str, str, str], None]  # store.record_event


class RecordStore(Protocol):
    """Where the records live between runs (`state.store.Store`)."""

    def job_records(self) -> list[dict[str, Any]]: ...

    def save_job_records(
        self, records: Sequence[Mapping[str, Any]], forget: Sequence[tuple[str, str]]
    ) -> None: ...


class Jobs:
    """The Job records of one process. With `writable` (the daemon) each change is saved and
    each Job event recorded; otherwise the records read at the start are a starting point."""

    def __init__(
        self,
        store: RecordStore | None = None,
        *,
        writable: bool = False,
        events: EventSink | None = None,
    ) -> None:
        self._store = store
        self._writable = writable and store is not None
        self._events = events
        self._lock = threading.Lock()
        self._records: dict[tuple[str, str], jobctl.Record] = {}
        self._warned: set[tuple[str, str, str]] = set()
        for raw in store.job_records() if store is not None else ():
            try:
                record = jobctl.Record.from_dict(raw)
            except (KeyError, TypeError, ValueError):
                continue
            self._records[(record.namespace, record.name)] = record

    def records(self) -> dict[tuple[str, str], jobctl.Record]:
        with self._lock:
            return dict(self._records)

    def advance(
        self,
        job: jobsmod.Job,
        pods: Sequence[hoststate.ObservedPod],
        now: float,
        *,
        restarts: int = 0,
        blind: bool = False,
    ) -> jobctl.Step:
        """One step of `job` (see `jobs.step`), remembered (and saved, when writable)."""
        key = (job.meta.namespace, job.meta.name)
        with self._lock:
            before = self._records.get(key)
            decided = jobctl.step(job, before, pods, now, restarts=restarts, blind=blind)
            self._records[key] = decided.record
        if decided.record != before:
            self._save([decided.record], [])
        for kind, reason, message in decided.events:
            self._event(kind, job, reason, message)
        if decided.template_changed:
            self._template_changed(job, decided.record)
        return decided

    def forget(self, declared: Iterable[tuple[str, str]]) -> None:
        """Drop the records of Jobs no longer in git (as deleting a Job in Kubernetes)."""
        keep = set(declared)
        with self._lock:
            gone = [key for key in self._records if key not in keep]
            for key in gone:
                del self._records[key]
        if gone:
            self._save([], gone)

    def conditions(self, state: objects.DesiredState) -> list[cond.Condition]:
        """Complete or Failed of each declared Job that finished."""
        records = self.records()
        return [c for job in state.jobs
                if (r := records.get((job.meta.namespace, job.meta.name))) is not None
                for c in jobctl.conditions(r)]  # fmt: skip

    def _save(self, records: Sequence[jobctl.Record], forget: Sequence[tuple[str, str]]) -> None:
        if self._writable and self._store is not None:
            self._store.save_job_records([r.as_dict() for r in records], list(forget))

    def _event(self, kind: cond.EventKind, job: jobsmod.Job, reason: str, message: str) -> None:
        log.info("Job %s/%s: %s: %s", job.meta.namespace, job.meta.name, reason, message)
        if self._writable and self._events is not None:
            self._events(kind, f"Job/{job.meta.namespace}/{job.meta.name}", reason, message)

    def _template_changed(self, job: jobsmod.Job, record: jobctl.Record) -> None:
        """Once per template: git's template differs from the one the Job ran with."""
        key = (job.meta.namespace, job.meta.name, expand.template_hash(job.template))
        if key in self._warned:
            return
        self._warned.add(key)
        message = (f"the template changed in git since this Job started (template "
                   f"{record.template_hash}); a Job's template is immutable: it runs with the "
                   "one it started with; rename the Job to run the new template")  # fmt: skip
        self._event(cond.EventKind.WARNING, job, "TemplateImmutable", message)


def recorded_only(state_dir: Path | None = None) -> Jobs:
    """For one-shot `apply` and `diff`: the records the daemon keeps in its state database
    (read-only). Without a database, none: Jobs are judged from the pods seen."""
    path = storemod.path_in(state_dir or storemod.default_state_dir())
    if not path.exists():
        return Jobs()
    try:
        with storemod.Store(path, create=False) as store:
            return Jobs(store)
    except storemod.StoreError:
        return Jobs()


def _restarts(job: jobsmod.Job, pods: Sequence[hoststate.ObservedPod],
              known: lifecycle.Restarts | None) -> int:  # fmt: skip
    """Container restarts in `pods` (failures with restartPolicy OnFailure)."""
    if known is None or job.template.spec.restart_policy is not workloads.RestartPolicy.ON_FAILURE:
        return 0
    return sum(known.restart_count(p.namespace, p.name, c.name) for p in pods
               for c in p.containers)  # fmt: skip


def step(p: sync.Pass) -> None:
    """Every declared Job's step, added to the pass's expansion (see the module docstring)."""
    state = p.loaded.state
    observed = [pod for seen in p.observations.values() if seen.reachable for pod in seen.pods]
    if not state.jobs and not any(pod.owner.startswith(OWNER_PREFIX) for pod in observed):
        return
    if p.controllers is not None:
        memory = p.controllers.jobs
        restarts = p.controllers.restarts
    else:  # dry run: the daemon's records, nothing saved
        memory, restarts = recorded_only(p.state_dir), None
    if p.expansion is None:  # dry run: every other object's end state
        p.expansion = expand.Expansion(expand.expand(state, observed))
    blind = any(not seen.reachable for seen in p.observations.values())
    create: list[expand.DesiredPod] = []
    kept: list[hoststate.ObservedPod] = []
    reasons: dict[tuple[str, str], str] = {}
    declared = []
    for job in state.jobs:
        declared.append((job.meta.namespace, job.meta.name))
        mine = [pod for pod in observed
                if pod.namespace == job.meta.namespace and pod.owner == job.owner]  # fmt: skip
        decided = memory.advance(job, mine, p.now, restarts=_restarts(job, mine, restarts),
                                 blind=blind)  # fmt: skip
        create.extend(decided.create)
        kept.extend(decided.keep)
        for pod in decided.remove:
            reasons[pod.key] = _why_removed(decided.record)
        if decided.requeue_after is not None:
            p.requeue.append(decided.requeue_after)
        if decided.record.outcome is None and (mine or decided.create):
            p.requeue.append(ACTIVE_REQUEUE)
    if p.controllers is not None:
        memory.forget(declared)
    before = p.expansion
    p.expansion = expand.Expansion(
        tuple(sorted((*before.pods, *create), key=lambda pod: pod.key)),
        (*before.kept, *kept),
        base.FrozenMap({**before.reasons, **reasons}),
    )


def _why_removed(record: jobctl.Record) -> str:
    if record.cleaned:
        return "Job finished: ttlSecondsAfterFinished passed"
    return f"Job {record.outcome or 'finished'}: {record.reason}"


def conditions(controllers: sync.Controllers | None, state: objects.DesiredState) -> list[
        cond.Condition]:  # fmt: skip
    """The Jobs' conditions for `status.conditions` (none without the controllers)."""
    return [] if controllers is None else controllers.jobs.conditions(state)
