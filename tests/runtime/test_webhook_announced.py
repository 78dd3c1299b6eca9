"""A push webhook announces a commit; the sync it wakes compares it with the fetched head and
records when they differ (a later push or a force-push won the race), so that a commit that
never deployed can be explained (issue 17)."""

from __future__ import annotations

from pathlib import Path

from reconciler.executor import fake as fake_executor
from reconciler.runtime import reconcile
from reconciler.source import fake as fake_source
from reconciler.state import conditions as cond
from reconciler.state import store as storemod
from reconciler.web import metrics

FILES = {"ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: rw-announced\n"}


def _reconciler(tmp_path: Path) -> tuple[fake_source.FakeSource, reconcile.Reconciler]:
    source = fake_source.FakeSource(tmp_path / "src")
    store = storemod.Store(storemod.path_in(tmp_path / "state"))
    executor = fake_executor.FakeExecutor(["h1"])
    gauges = metrics.ReconcilerMetrics(metrics.Registry())
    rec = reconcile.Reconciler(source, executor, store, gauges)
    return source, rec


def _announced_events(rec: reconcile.Reconciler) -> list[str]:
    return [e.message for e in rec.store.events() if e.reason == cond.Reason.ANNOUNCED_NOT_HEAD]


def test_an_announced_commit_that_is_not_the_head_is_recorded(tmp_path: Path) -> None:
    source, rec = _reconciler(tmp_path)
    announced = source.push(FILES, "first")
    head = source.push({**FILES, "b.yaml": FILES["ns.yaml"].replace("rw-announced", "b")}, "2")
    rec.announced = announced
    assert rec.run(["webhook"]) is cond.SyncResult.SUCCEEDED
    (message,) = _announced_events(rec)
    assert announced[:12] in message and head[:12] in message
    assert rec.announced is None
    rec.run(["resync"])  # compared once: a resync does not repeat it
    assert len(_announced_events(rec)) == 1


def test_an_announced_head_records_nothing(tmp_path: Path) -> None:
    source, rec = _reconciler(tmp_path)
    rec.announced = source.push(FILES, "first")
    assert rec.run(["webhook"]) is cond.SyncResult.SUCCEEDED
    assert _announced_events(rec) == []
