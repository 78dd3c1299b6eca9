"""The Job controller in reconciles (FakeExecutor, fake clock, a real state database): pods made
one at a time to completion, never re-run by a new process that reads the database, a failing
Job ending Failed with BackoffLimitExceeded, finished pods kept until their TTL, conditions and
events, one-shot apply reading the daemon's records, the dry run."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.controllers import jobrun, status, sync
from reconciler.executor import fake
from reconciler.model import hoststate
from reconciler.plan import pruneguard
from reconciler.state import conditions as cond
from reconciler.state import store as storemod

HOST = """\
apiVersion: reconciler.dev/v1alpha1
kind: Host
metadata: {name: h1}
spec:
  address: 10.0.0.1
  ssh: {user: rc}
  capacity: {cpu: "8", memory: 8Gi}
---
apiVersion: v1
kind: Namespace
metadata: {name: batch}
"""
JOB = """\
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: batch}
spec:
  completions: 2
  parallelism: 1
  backoffLimit: 1
  ttlSecondsAfterFinished: 100
  template:
    metadata: {labels: {app: migrate}}
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "echo migrated"]
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class World:
    def __init__(self, tmp_path: Path, manifests: str = HOST + JOB) -> None:
        (tmp_path / "repo").mkdir()
        (tmp_path / "repo" / "all.yaml").write_text(manifests)
        self.loaded = sync.load(tmp_path / "repo")
        self.executor = fake.FakeExecutor(["h1"])
        self.clock = Clock()
        self.db = storemod.Store(storemod.path_in(tmp_path / "state"))
        self.events: list[tuple[str, str, str]] = []
        self.controllers = self.daemon()
        self.last: sync.Prepared | None = None

    def daemon(self) -> sync.Controllers:
        """The daemon's controllers (a new process: no memory but the database)."""

        def record(kind: cond.EventKind, obj: str, reason: str, message: str) -> None:
            self.events.append((obj, reason, message))

        jobs = jobrun.Jobs(self.db, writable=True, events=record)
        return sync.Controllers(clock=self.clock, jobs=jobs)

    def sync(self, seconds: float = 1.0) -> list[hoststate.Action]:
        prepared = sync.prepare_loaded(self.loaded, self.executor, "rev", self.controllers)
        sync.converge(prepared, self.executor)
        self.last = prepared
        self.clock.now += seconds
        return list(prepared.result.plan.actions)

    def pods(self) -> list[str]:
        return sorted(name for _ns, name in self.executor.pods["h1"])

    def finish(self, name: str, exit_code: int) -> None:
        self.executor.exit_container("h1", "batch", name, "main", exit_code)


def _kinds(actions: list[hoststate.Action]) -> list[tuple[str, str]]:
    return [(str(a.kind), a.name) for a in actions]


def test_runs_to_completion_one_at_a_time_and_a_new_process_never_reruns(tmp_path: Path) -> None:
    world = World(tmp_path)
    assert _kinds(world.sync()) == [("create", "migrate-0")]
    assert world.last is not None and world.last.requeue_after == jobrun.ACTIVE_REQUEUE
    assert world.sync() == []  # running: parallelism 1, nothing more
    world.finish("migrate-0", 0)
    assert _kinds(world.sync()) == [("create", "migrate-1")]
    world.finish("migrate-1", 0)
    assert world.sync() == []  # Complete: both pods kept (for their logs)
    assert world.pods() == ["migrate-0", "migrate-1"]
    assert ("Job/batch/migrate", "Completed") in [e[:2] for e in world.events]
    assert world.last is not None
    done = sync.Converged(world.last)
    (complete,) = [c for c in status.conditions(world.last, done) if c.kind == "Job"]
    assert (complete.type, complete.status, complete.reason) == ("Complete", "True", "Completed")
    # a daemon restart: the database says Complete; the pods removed by hand stay removed
    world.controllers = world.daemon()
    world.executor.pods["h1"].clear()
    assert world.sync() == []
    (record,) = world.db.job_records()
    assert record["outcome"] == "Complete" and record["succeeded"] == ["migrate-0", "migrate-1"]


def test_ttl_removes_the_finished_pods_and_they_are_not_recreated(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.sync()
    world.finish("migrate-0", 0)
    world.sync()
    world.finish("migrate-1", 0)
    world.sync(seconds=50.0)  # finished now; TTL 100 s
    assert world.sync(seconds=60.0) == []  # 50 s after: kept, not pruned as drift
    assert sorted(_kinds(world.sync())) == [("delete", "migrate-0"), ("delete", "migrate-1")]
    assert world.pods() == [] and world.sync() == []


def test_a_failing_job_ends_failed_with_backoff_limit_exceeded(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.sync()
    world.finish("migrate-0", 3)
    assert world.sync() == []  # the next pod waits its back-off (10 s)
    world.clock.now += 10.0
    assert _kinds(world.sync()) == [("create", "migrate-1")]
    world.finish("migrate-1", 3)
    assert world.sync() == []  # 2 failures > backoffLimit 1: Failed, no new pod
    (record,) = world.db.job_records()
    assert (record["outcome"], record["reason"]) == ("Failed", "BackoffLimitExceeded")
    assert ("Job/batch/migrate", "BackoffLimitExceeded") in [e[:2] for e in world.events]
    world.clock.now += 1000.0
    world.controllers = world.daemon()
    actions = world.sync()
    assert all(a.kind is hoststate.ActionKind.DELETE for a in actions)  # TTL passed: cleaned


def test_one_shot_apply_and_dry_run_read_the_daemons_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_STATE_DIR", str(tmp_path / "state"))
    world = World(tmp_path)
    world.sync()
    world.finish("migrate-0", 0)
    world.sync()
    world.finish("migrate-1", 0)
    world.sync()
    world.executor.pods["h1"].clear()  # the pods went (a TTL, by hand): the record stays
    apply = sync.Controllers(clock=world.clock, jobs=jobrun.Jobs(world.db))
    prepared = sync.prepare_loaded(world.loaded, world.executor, "rev", apply)
    assert prepared.result.plan.empty
    dry = sync.prepare_loaded(world.loaded, world.executor, "rev")
    assert dry.result.plan.empty  # the dry run reads the daemon's records too
    fresh = sync.prepare_loaded(world.loaded, world.executor, "rev", sync.Controllers())
    assert _kinds(list(fresh.result.plan.actions)) == [("create", "migrate-0")]


def test_removed_job_prunes_its_pods_and_forgets_its_record(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.sync()
    world.loaded = sync.load(_write(tmp_path / "next", HOST))
    assert _kinds(world.sync()) == [("delete", "migrate-0")]
    assert world.db.job_records() == []


def test_prune_guard_counts_a_declared_job_as_kept(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.sync()
    verdict = pruneguard.judge(world.loaded.state, world.executor.observe(
        sync.targets_of(world.loaded.state)), pruneguard.Policy(50.0, False))  # fmt: skip
    assert verdict.pruned == 0


def _write(path: Path, text: str) -> Path:
    path.mkdir()
    (path / "all.yaml").write_text(text)
    return path
