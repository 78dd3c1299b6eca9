"""The CronJob controller in a reconcile: `step` (one of `sync.STEPS`, right after observe, so
the prune guard and the Job controller see its Jobs) adds each CronJob's Jobs to the pass's
desired state as if they were in git; `jobrun` then runs them like any Job.

By the daemon's clock (`Crons` with `writable`), a CronJob makes a Job named
`<cronjob>-<minutes since the epoch>` for the most recent scheduled time not yet run, as
Kubernetes does: one run however many were missed while the daemon was down, none when
`startingDeadlineSeconds` passed since that time; `concurrencyPolicy` Forbid waits while a Job
of it is active, Replace removes the active ones; `suspend` makes none; finished Jobs beyond the
history limits are removed (pods and records). Each CronJob's record (its last schedule, its
Jobs) is kept in the state database. One-shot `apply` and `diff` read the records and make no
new run: they keep the daemon's Jobs, nothing more.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from reconciler.controllers import jobs as jobctl
from reconciler.model import base, cronjobs, objects
from reconciler.model import jobs as jobsmod
from reconciler.state import conditions as cond
from reconciler.state import store as storemod

if TYPE_CHECKING:
    from reconciler.controllers import sync

log = logging.getLogger(__name__)

EventSink = Callable[[cond.EventKind, str, str, str], None]  # store.record_event
FORBID_REQUEUE = 2.0  # seconds: a Forbid run waits for the active Job to finish


@dataclasses.dataclass(frozen=True)
class Record:
    """What the controller remembers about one CronJob: when it was first seen, the last time
    it ran (epoch seconds, 0: never) and its Jobs (name, scheduled time), oldest first."""

    namespace: str
    name: str
    created: float
    last_schedule: float = 0.0
    runs: tuple[tuple[str, float], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "name": self.name, "created": self.created,
                "last_schedule": self.last_schedule,
                "runs": [list(r) for r in self.runs]}  # fmt: skip

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Record:
        return cls(str(raw["namespace"]), str(raw["name"]), float(raw["created"]),
                   float(raw.get("last_schedule") or 0.0),
                   tuple((str(n), float(t)) for n, t in raw.get("runs") or ()))  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Step:
    record: Record
    jobs: tuple[jobsmod.Job, ...]  # its Jobs to run or keep this pass
    events: tuple[tuple[cond.EventKind, str, str], ...] = ()
    requeue_after: float | None = None


def _zone(cron: cronjobs.CronJob) -> datetime.tzinfo:
    if cron.time_zone:
        import zoneinfo  # noqa: PLC0415 (a daemon without CronJobs never loads it)

        return zoneinfo.ZoneInfo(cron.time_zone)
    local = datetime.datetime.now().astimezone().tzinfo
    return local if local is not None else datetime.UTC


def most_recent(cron: cronjobs.CronJob, earliest: float, now: float) -> float | None:
    """The latest scheduled time in (earliest, now], or None."""
    import croniter  # type: ignore[import-untyped]  # noqa: PLC0415 (see `next_time`)

    start = datetime.datetime.fromtimestamp(now, _zone(cron)) + datetime.timedelta(seconds=1)
    scheduled = float(croniter.croniter(cron.schedule, start).get_prev(float))
    return scheduled if earliest < scheduled <= now else None


def next_time(cron: cronjobs.CronJob, now: float) -> float:
    import croniter  # noqa: PLC0415 (with dateutil 0.7 MB: a daemon without CronJobs never loads it)

    start = datetime.datetime.fromtimestamp(now, _zone(cron))
    return float(croniter.croniter(cron.schedule, start).get_next(float))


def _job(cron: cronjobs.CronJob, name: str) -> jobsmod.Job:
    meta = dataclasses.replace(cron.meta, name=name)
    return dataclasses.replace(cron.job, meta=meta, source=cron.source)


def step(
    cron: cronjobs.CronJob,
    record: Record | None,
    outcomes: Mapping[tuple[str, str], jobctl.Record],
    now: float,
    *,
    schedule: bool,
) -> Step:
    """The next step of `cron`. `outcomes`: the Job controller's records; `schedule`: this
    process may make new runs (the daemon)."""
    ns = cron.meta.namespace
    if record is None:
        record = Record(ns, cron.meta.name, created=now)
    ended = {name: outcomes[(ns, name)].outcome for name, _t in record.runs
             if (ns, name) in outcomes and outcomes[(ns, name)].outcome is not None}  # fmt: skip
    runs = _within_history(cron, record.runs, ended)
    active = [r for r in runs if r[0] not in ended]
    events: list[tuple[cond.EventKind, str, str]] = []
    waits: list[float] = []
    if schedule and not cron.suspend:
        earliest = record.last_schedule or record.created
        if cron.starting_deadline_seconds is not None:
            earliest = max(earliest, now - cron.starting_deadline_seconds)
        due = most_recent(cron, earliest, now)
        policy = cron.concurrency_policy
        if due is not None and active and policy is cronjobs.ConcurrencyPolicy.FORBID:
            waits.append(FORBID_REQUEUE)  # waits for the active Job (or its deadline)
        elif due is not None:
            if active and policy is cronjobs.ConcurrencyPolicy.REPLACE:
                runs = [r for r in runs if r not in active]
                events.extend((cond.EventKind.NORMAL, "SuccessfulDelete", f"Deleted job {n}")
                              for n, _t in active)  # fmt: skip
            name = cron.run_name(due)
            if name not in {n for n, _t in runs}:
                runs.append((name, due))
                events.append((cond.EventKind.NORMAL, "SuccessfulCreate", f"Created job {name}"))
            record = dataclasses.replace(record, last_schedule=due)
        waits.append(max(0.0, next_time(cron, now) - now))
    record = dataclasses.replace(record, runs=tuple(runs))
    return Step(record, tuple(_job(cron, n) for n, _t in runs), tuple(events),
                min(waits) if waits else None)  # fmt: skip


def _within_history(
    cron: cronjobs.CronJob,
    runs: Sequence[tuple[str, float]],
    ended: Mapping[str, jobctl.Outcome | None],
) -> list[tuple[str, float]]:
    """`runs` without the oldest finished ones beyond the history limits."""
    kept = list(runs)
    for outcome, limit in ((jobctl.Outcome.COMPLETE, cron.successful_jobs_history_limit),
                           (jobctl.Outcome.FAILED, cron.failed_jobs_history_limit)):  # fmt: skip
        done = [r for r in kept if ended.get(r[0]) is outcome]
        drop = done[: max(0, len(done) - limit)]
        kept = [r for r in kept if r not in drop]
    return kept


class RecordStore(Protocol):
    def cron_job_records(self) -> list[dict[str, Any]]: ...

    def save_cron_job_records(
        self, records: Sequence[Mapping[str, Any]], forget: Sequence[tuple[str, str]]
    ) -> None: ...


class Crons:
    """The CronJob records of one process; `writable` (the daemon): runs are made and saved."""

    def __init__(self, store: RecordStore | None = None, *, writable: bool = False,
                 events: EventSink | None = None) -> None:  # fmt: skip
        self._store = store
        self.writable = writable and store is not None
        self._events = events
        self._lock = threading.Lock()
        self._records: dict[tuple[str, str], Record] = {}
        for raw in store.cron_job_records() if store is not None else ():
            try:
                found = Record.from_dict(raw)
            except (KeyError, TypeError, ValueError):
                continue
            self._records[(found.namespace, found.name)] = found

    def records(self) -> dict[tuple[str, str], Record]:
        with self._lock:
            return dict(self._records)

    def advance(self, state: objects.DesiredState, outcomes: Mapping[tuple[str, str],
                jobctl.Record], now: float) -> tuple[list[jobsmod.Job], list[float]]:  # fmt: skip
        """Every CronJob's step: the Jobs to add to the desired state, the requeue delays."""
        made: list[jobsmod.Job] = []
        waits: list[float] = []
        changed: list[Record] = []
        with self._lock:
            declared = {c.key: c for c in state.cron_jobs}
            gone = [k for k in self._records
                    if base.ObjectKey(base.Kind.CRON_JOB, *k) not in declared]  # fmt: skip
            for key in gone:
                del self._records[key]
            for cron in declared.values():
                key = (cron.meta.namespace, cron.meta.name)
                before = self._records.get(key)
                decided = step(cron, before, outcomes, now, schedule=self.writable)
                self._records[key] = decided.record
                if decided.record != before:
                    changed.append(decided.record)
                made.extend(decided.jobs)
                if decided.requeue_after is not None:
                    waits.append(decided.requeue_after)
                for kind, reason, message in decided.events:
                    self._event(kind, cron, reason, message)
        if self.writable and self._store is not None and (changed or gone):
            self._store.save_cron_job_records([r.as_dict() for r in changed], gone)
        return made, waits

    def _event(
        self, kind: cond.EventKind, cron: cronjobs.CronJob, reason: str, message: str
    ) -> None:
        log.info("CronJob %s/%s: %s: %s", cron.meta.namespace, cron.meta.name, reason, message)
        if self.writable and self._events is not None:
            self._events(kind, f"CronJob/{cron.meta.namespace}/{cron.meta.name}", reason, message)


def recorded_only(state_dir: Path | None = None) -> Crons:
    """For one-shot `apply`, `diff` and `get cronjobs`: the daemon's records (read-only)."""
    path = storemod.path_in(state_dir or storemod.default_state_dir())
    if not path.exists():
        return Crons()
    try:
        with storemod.Store(path, create=False) as store:
            return Crons(store)
    except storemod.StoreError:
        return Crons()


def run_step(p: sync.Pass) -> None:
    """The CronJobs' Jobs added to `p.loaded.state` (see the module docstring)."""
    state = p.loaded.state
    if not state.cron_jobs:
        return
    crons = p.controllers.cron if p.controllers is not None else recorded_only(p.state_dir)
    outcomes = p.controllers.jobs.records() if p.controllers is not None else {}
    made, waits = crons.advance(state, outcomes, p.now)
    p.requeue.extend(waits)
    if made:
        objs: list[objects.Object] = [*state, *made]
        p.loaded = dataclasses.replace(p.loaded, state=objects.DesiredState.of(objs))
