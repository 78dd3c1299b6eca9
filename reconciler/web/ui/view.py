"""What one dashboard page is rendered from, read in one go: the `/status` document, the sync
history (JSON-ready dicts, as `/status` and `reconciler history` give them) and events, the
controllers' records (host health, HPAs, Jobs, CronJobs), the last sync's snapshot and the commit
descriptions. Reading never raises: a store that cannot be read gives a View with `problem` set.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.controllers import autoscale, cronrun, hostconditions, jobs
from reconciler.source import git
from reconciler.state import conditions as cond
from reconciler.state import status as statusmod
from reconciler.state import store as storemod
from reconciler.web.ui import snapshot as snapshotmod

HISTORY = 20  # syncs on the overview
EVENTS = storemod.KEEP_EVENTS  # every event the store keeps

Describe = Callable[[str], git.RevisionInfo | None]
"""A commit's author, subject and date (None when it cannot be read)."""


class Source(Protocol):
    """What the pages read (`state.store.Store`, or a fake in tests)."""

    def history(self, limit: int = 20) -> list[Any]: ...

    def events(self, limit: int = 50) -> list[Any]: ...

    def host_conditions(self) -> list[dict[str, Any]]: ...

    def autoscaler_records(self) -> list[dict[str, Any]]: ...

    def job_records(self) -> list[dict[str, Any]]: ...

    def cron_job_records(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class View:
    now: float
    status: Mapping[str, Any] = field(default_factory=dict)  # the /status document
    history: Sequence[Mapping[str, Any]] = ()  # statusmod.sync_json rows, newest first
    events: Sequence[cond.Event] = ()  # newest first
    host_health: Mapping[str, hostconditions.Condition] = field(default_factory=dict)
    autoscalers: Sequence[autoscale.Record] = ()
    jobs: Sequence[jobs.Record] = ()
    cron_jobs: Sequence[cronrun.Record] = ()
    snapshot: snapshotmod.Snapshot | None = None
    revisions: Mapping[str, git.RevisionInfo] = field(default_factory=dict)
    problem: str = ""  # why there is nothing to show (the store cannot be read yet)

    @property
    def empty(self) -> bool:
        """No sync recorded yet (a new daemon, or a state database being created)."""
        return not self.history and not self.status.get("lastSync")


def gather(
    status: Callable[[], Mapping[str, Any]],
    store: Source | None,
    snapshot: snapshotmod.Snapshot | None,
    describe: Describe,
    *,
    need: frozenset[str] = frozenset({"status", "history", "events", "records"}),
    events: int = EVENTS,
    now: float | None = None,
) -> View:
    """Everything a page needs (`need` names the costly parts it uses; `events`: how many of
    the newest events to read)."""
    now = time.time() if now is None else now
    try:
        document = dict(status()) if "status" in need else {}
        if store is None:
            return View(now, document, snapshot=snapshot, problem="no state database")
        history = (
            [statusmod.sync_json(s) for s in store.history(HISTORY)] if "history" in need else []
        )
        newest = store.events(events) if "events" in need else []
        health: dict[str, hostconditions.Condition] = {}
        hpas: list[autoscale.Record] = []
        job_rows: list[jobs.Record] = []
        crons: list[cronrun.Record] = []
        if "records" in need:
            for raw in store.host_conditions():
                condition = hostconditions.Condition.from_record(raw)
                if condition is not None:
                    health[condition.host] = condition
            hpas = [r for r in (autoscale.Record.of(raw) for raw in store.autoscaler_records())
                    if r is not None]  # fmt: skip
            job_rows = _records(jobs.Record.from_dict, store.job_records())
            crons = _records(cronrun.Record.from_dict, store.cron_job_records())
    except (storemod.StoreError, sqlite3.Error, OSError) as exc:
        return View(now, snapshot=snapshot, problem=f"the state database cannot be read yet: {exc}")
    revisions = {}
    for sha in _shas(document, history, snapshot):
        info = describe(sha)
        if info is not None:
            revisions[sha] = info
    return View(now, document, history, newest, health, hpas, job_rows, crons, snapshot,
                revisions)  # fmt: skip


def _records(
    read: Callable[[Mapping[str, Any]], Any], rows: Sequence[Mapping[str, Any]]
) -> list[Any]:
    found = []
    for raw in rows:
        try:
            found.append(read(raw))
        except (KeyError, TypeError, ValueError):
            continue  # a record of another version: left out
    return found


def _shas(
    document: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    snapshot: snapshotmod.Snapshot | None,
) -> list[str]:
    """The commits the overview names: applied, newest, and the last few syncs'."""
    found: list[str] = []
    revision = document.get("revision") or {}
    for sha in (revision.get("applied"), (document.get("lastSync") or {}).get("revision"),
                snapshot.revision if snapshot is not None else None,
                *(row.get("revision") for row in history[:5])):  # fmt: skip
        if isinstance(sha, str) and sha and sha not in found:
            found.append(sha)
    return found


class Describer:
    """`source.describe` remembered per commit (a commit never changes); errors give None, also
    remembered."""

    def __init__(self, source: Callable[[str], git.RevisionInfo] | None, keep: int = 256) -> None:
        self._source = source
        self._known: dict[str, git.RevisionInfo | None] = {}
        self._keep = keep

    def __call__(self, sha: str) -> git.RevisionInfo | None:
        if sha in self._known:
            return self._known[sha]
        if self._source is None:
            return None
        try:
            info: git.RevisionInfo | None = self._source(sha)
        except Exception:  # source errors or a commit not fetched: shown without details
            info = None
        if len(self._known) >= self._keep:
            self._known.clear()
        self._known[sha] = info  # a failure too: not a `git show` at every refresh
        return info
