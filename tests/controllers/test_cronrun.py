"""The CronJob controller in reconciles (FakeExecutor, fake clock, a real state database): a run
each minute, history limits, Forbid waiting for the active run, Replace, suspend, one run for
the runs missed while the daemon was down (none past startingDeadlineSeconds), one-shot apply
keeping the daemon's Jobs and making none; bad schedules refused by validate."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.controllers import cronrun, jobrun, sync
from reconciler.executor import fake
from reconciler.manifests import cronjobdocs, loader
from reconciler.state import conditions as cond
from reconciler.state import store as storemod

HEAD = """\
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
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: tick, namespace: batch}
spec:
  schedule: "*/1 * * * *"
  timeZone: Etc/UTC
"""
TAIL = """\
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - {name: main, image: busybox, command: ["echo", "tick"]}
"""
T0 = 1_800_000_000.0  # a whole minute (30,000,000 minutes since the epoch)


class Clock:
    def __init__(self) -> None:
        self.now = T0 + 5.0

    def __call__(self) -> float:
        return self.now


class World:
    def __init__(self, tmp_path: Path, spec: str = "") -> None:
        (tmp_path / "repo").mkdir(parents=True)
        (tmp_path / "repo" / "all.yaml").write_text(HEAD + spec + TAIL)
        self.loaded = sync.load(tmp_path / "repo")
        self.executor = fake.FakeExecutor(["h1"])
        self.clock = Clock()
        self.db = storemod.Store(storemod.path_in(tmp_path / "state"))
        self.events: list[tuple[str, str, str]] = []
        self.controllers = self.daemon()

    def daemon(self) -> sync.Controllers:
        def record(kind: cond.EventKind, obj: str, reason: str, message: str) -> None:
            self.events.append((obj, reason, message))

        return sync.Controllers(
            clock=self.clock,
            jobs=jobrun.Jobs(self.db, writable=True, events=record),
            cron=cronrun.Crons(self.db, writable=True, events=record),
        )

    def at(self, now: float) -> sync.Prepared:
        self.clock.now = now
        prepared = sync.prepare_loaded(self.loaded, self.executor, "rev", self.controllers)
        sync.converge(prepared, self.executor)
        return prepared

    def pods(self) -> list[str]:
        return sorted(name for _ns, name in self.executor.pods["h1"])

    def finish(self, name: str, exit_code: int = 0) -> None:
        self.executor.exit_container("h1", "batch", name, "main", exit_code)


def minute(n: int) -> str:
    return f"tick-{30_000_000 + n}"


def test_a_run_each_minute_and_the_history_limit(tmp_path: Path) -> None:
    world = World(tmp_path, "  successfulJobsHistoryLimit: 1\n")
    first = world.at(T0 + 5)
    assert world.pods() == []  # created at :05, next run at the next minute
    assert first.requeue_after is not None and 54 <= first.requeue_after <= 55
    world.at(T0 + 61)
    assert world.pods() == [f"{minute(1)}-0"]
    world.finish(f"{minute(1)}-0")
    world.at(T0 + 62)  # Complete, kept (history 1)
    world.at(T0 + 121)
    assert world.pods() == [f"{minute(1)}-0", f"{minute(2)}-0"]
    world.finish(f"{minute(2)}-0")
    world.at(T0 + 122)  # the second Complete: the first is beyond the history
    world.at(T0 + 123)
    assert world.pods() == [f"{minute(2)}-0"]
    assert ("CronJob/batch/tick", "SuccessfulCreate", f"Created job {minute(2)}") in world.events


def test_forbid_waits_for_the_active_run_and_replace_removes_it(tmp_path: Path) -> None:
    world = World(tmp_path, "  concurrencyPolicy: Forbid\n")
    world.at(T0 + 5)  # first seen
    world.at(T0 + 61)
    world.at(T0 + 121)  # minute 1 still runs: minute 2 waits
    assert world.pods() == [f"{minute(1)}-0"]
    world.finish(f"{minute(1)}-0")
    world.at(T0 + 125)  # it finished: minute 2 ran late (no starting deadline)
    world.at(T0 + 126)
    assert world.pods() == [f"{minute(1)}-0", f"{minute(2)}-0"]
    other = World(tmp_path / "replace", "  concurrencyPolicy: Replace\n")
    other.at(T0 + 5)
    other.at(T0 + 61)
    other.at(T0 + 121)
    assert other.pods() == [f"{minute(2)}-0"]  # minute 1 removed


def test_missed_runs_while_down_one_run_or_none_past_the_deadline(tmp_path: Path) -> None:
    world = World(tmp_path, "  startingDeadlineSeconds: 20\n")
    world.at(T0 + 5)
    world.at(T0 + 61)
    world.finish(f"{minute(1)}-0")
    world.at(T0 + 62)
    world.controllers = world.daemon()  # the daemon was down for minutes 2..5
    world.at(T0 + 5 * 60 + 10)  # 10 s after minute 5: within the deadline, one run
    assert world.pods() == [f"{minute(1)}-0", f"{minute(5)}-0"]
    world.finish(f"{minute(5)}-0")
    world.controllers = world.daemon()
    world.at(T0 + 9 * 60 + 30)  # 30 s after minute 9: past the 20 s deadline, none
    assert world.pods() == [f"{minute(1)}-0", f"{minute(5)}-0"]
    world.at(T0 + 10 * 60 + 1)
    assert f"{minute(10)}-0" in world.pods()


def test_suspend_makes_no_run(tmp_path: Path) -> None:
    world = World(tmp_path, "  suspend: true\n")
    world.at(T0 + 5)
    world.at(T0 + 61)
    world.at(T0 + 181)
    assert world.pods() == []


def test_one_shot_apply_keeps_the_daemons_jobs_and_makes_none(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.at(T0 + 5)
    world.at(T0 + 61)
    world.finish(f"{minute(1)}-0")
    world.at(T0 + 62)
    apply = sync.Controllers(clock=world.clock, jobs=jobrun.Jobs(world.db),
                             cron=cronrun.Crons(world.db))  # fmt: skip
    world.clock.now = T0 + 181
    prepared = sync.prepare_loaded(world.loaded, world.executor, "rev", apply)
    assert prepared.result.plan.empty  # minute 1 kept, minutes 2 and 3 not made


@pytest.mark.parametrize(
    ("schedule", "wanted"),
    [("61 * * * *", "invalid cron expression"), ("* * * * * *", "invalid cron expression"),
     ("TZ=UTC * * * * *", "time zone in the schedule")],
)  # fmt: skip
def test_bad_schedules_are_refused(tmp_path: Path, schedule: str, wanted: str) -> None:
    (tmp_path / "all.yaml").write_text(HEAD.replace('"*/1 * * * *"', f'"{schedule}"') + TAIL)
    result = loader.load_repository(tmp_path)
    assert not result.ok
    assert any(wanted in d.message for d in result.errors), result.errors
    assert cronjobdocs.valid_schedule("@hourly") and not cronjobdocs.valid_schedule("@nope")
