"""The state store: round trips, history order and retention, conditions replaced as a set,
schema versions, read-only opening, and readers (threads, another process) while a writer writes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from reconciler.state import conditions as cond
from reconciler.state import store as storemod

READY = cond.ConditionStatus.TRUE
NOT_READY = cond.ConditionStatus.FALSE


def _pod(name: str, status: cond.ConditionStatus, reason: str, message: str = "") -> cond.Condition:
    return cond.Condition("Pod", "default", name, cond.ConditionType.READY, status, reason, message)


def test_sync_round_trip(store: storemod.Store) -> None:
    before = time.time()
    sync_id = store.begin_sync("abc123", cond.Trigger.PUSH)
    running = store.last_sync()
    assert running is not None and running.id == sync_id
    assert running.result is None and running.duration is None and not running.finished
    assert before <= running.started <= time.time()
    store.finish_sync(sync_id, cond.SyncResult.PARTIAL, {"created": 2, "failed": 1},
                      ["web.yaml:12: port 80 is taken on h1"], 1.25)  # fmt: skip
    done = store.last_sync()
    assert done == cond.SyncRecord(
        id=sync_id, revision="abc123", trigger="push", started=running.started, duration=1.25,
        result=cond.SyncResult.PARTIAL, counts={"created": 2, "failed": 1},
        errors=("web.yaml:12: port 80 is taken on h1",),
    )  # fmt: skip
    assert store.last_finished_sync() == done


def test_history_is_newest_first_and_limited(store: storemod.Store) -> None:
    ids = [store.begin_sync(f"rev{i}", cond.Trigger.RESYNC) for i in range(5)]
    for sync_id in ids[:4]:
        store.finish_sync(sync_id, cond.SyncResult.SUCCEEDED, {}, [], 0.1)
    history = store.history(3)
    assert [s.revision for s in history] == ["rev4", "rev3", "rev2"]
    assert history[0].result is None  # still running
    assert store.last_finished_sync() is not None
    assert store.last_finished_sync().revision == "rev3"  # type: ignore[union-attr]
    assert store.history(0) == []
    assert len(store.history(100)) == 5


def test_history_keeps_the_last_rows(
    store: storemod.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storemod, "KEEP_SYNCS", 3)
    for i in range(6):
        sync_id = store.begin_sync(f"rev{i}", cond.Trigger.POLL)
        store.finish_sync(sync_id, cond.SyncResult.SUCCEEDED, {}, [], 0.1)
    assert [s.revision for s in store.history(10)] == ["rev5", "rev4", "rev3"]


def test_finish_of_an_unknown_sync_is_an_error(store: storemod.Store) -> None:
    with pytest.raises(storemod.StoreError, match="no sync with id 42"):
        store.finish_sync(42, cond.SyncResult.FAILED, {}, [], 0.0)


def test_applied_revision(store: storemod.Store) -> None:
    assert store.applied_revision() is None and store.applied_at() is None
    store.set_applied_revision("aaa")
    store.set_applied_revision("bbb")
    assert store.applied_revision() == "bbb"
    assert store.applied_at() == pytest.approx(time.time(), abs=5)


def test_the_applied_revision_is_written_with_the_sync_that_applied_it(
    store: storemod.Store,
) -> None:
    """A reader never sees the new applied revision beside an older last finished sync (a
    daemon killed mid-sync leaves one marked interrupted: status must not pair the two)."""
    sync_id = store.begin_sync("bbb", cond.Trigger.PUSH)
    assert store.applied_revision() is None
    store.finish_sync(sync_id, cond.SyncResult.SUCCEEDED, {}, [], 0.1, applied="bbb")
    last = store.last_finished_sync()
    assert store.applied_revision() == "bbb" and last is not None and last.id == sync_id
    failed = store.begin_sync("ccc", cond.Trigger.PUSH)
    store.finish_sync(failed, cond.SyncResult.FAILED, {}, ["boom"], 0.1)
    assert store.applied_revision() == "bbb"


def test_conditions_are_replaced_as_a_set(store: storemod.Store) -> None:
    store.set_conditions([_pod("a", READY, cond.Reason.SYNCED), _pod("b", READY, "Synced")])
    store.set_conditions([_pod("b", NOT_READY, cond.Reason.UNSCHEDULABLE, "0/3 hosts: ...")])
    assert [(c.name, c.status, c.reason, c.message) for c in store.conditions()] == [
        ("b", NOT_READY, "Unschedulable", "0/3 hosts: ...")
    ]
    store.set_conditions([])
    assert store.conditions() == []


def test_since_is_the_last_transition(store: storemod.Store) -> None:
    store.set_conditions([cond.Condition("Pod", "default", "a", "Ready", NOT_READY, "Progressing",
                                         since=100.0)])  # fmt: skip
    # same status, newer since and another reason: the transition time stays
    store.set_conditions([cond.Condition("Pod", "default", "a", "Ready", NOT_READY, "ApplyFailed",
                                         "podman said no", since=200.0)])  # fmt: skip
    (kept,) = store.conditions()
    assert (kept.since, kept.reason, kept.message) == (100.0, "ApplyFailed", "podman said no")
    # a status change takes the new time; 0 means now
    store.set_conditions([_pod("a", READY, cond.Reason.SYNCED)])
    (changed,) = store.conditions()
    assert changed.since == pytest.approx(time.time(), abs=5)


def test_conditions_come_back_typed_and_ordered(store: storemod.Store) -> None:
    host = cond.Condition("Host", "", "h2", "Ready", NOT_READY, cond.Reason.HOST_UNREACHABLE,
                          "connection refused", 5.0)  # fmt: skip
    store.set_conditions([_pod("z", READY, "Synced"), host, _pod("a", READY, "Synced")])
    got = store.conditions()
    assert [c.object for c in got] == ["Host/h2", "Pod/default/a", "Pod/default/z"]
    assert got[0] == host
    assert isinstance(got[0].status, cond.ConditionStatus) and not got[0].ok and got[1].ok


def test_events_newest_first_with_retention(
    store: storemod.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storemod, "KEEP_EVENTS", 2)
    for i in range(3):
        store.record_event(cond.EventKind.NORMAL, f"Pod/default/p{i}", cond.Reason.DRIFT_RESTORED,
                           f"container c stopped by hand; started again ({i})")  # fmt: skip
    store.record_event(cond.EventKind.WARNING, "Host/h1", cond.Reason.HOST_UNREACHABLE, "down")
    events = store.events(10)
    assert [(e.kind, e.object) for e in events] == [
        (cond.EventKind.WARNING, "Host/h1"),
        (cond.EventKind.NORMAL, "Pod/default/p2"),
    ]
    assert events[1].reason == "DriftRestored" and events[1].message.endswith("(2)")


def test_schema_version_is_recorded_and_reopening_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with storemod.Store(path) as first:
        first.set_applied_revision("abc")
    with storemod.Store(path) as second:
        assert second.applied_revision() == "abc"
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == storemod.SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    storemod.Store(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {storemod.SCHEMA_VERSION + 1}")
    db.close()
    for create in (True, False):
        with pytest.raises(storemod.StoreError, match="newer reconciler"):
            storemod.Store(path, create=create)


def test_read_only_open(tmp_path: Path) -> None:
    path = tmp_path / "state" / "reconciler.db"
    with pytest.raises(storemod.StoreError, match="no state database"):
        storemod.Store(path, create=False)
    assert not path.parent.exists()  # the reader made nothing
    with storemod.Store(path) as writer:
        writer.set_applied_revision("abc")
    with storemod.Store(path, create=False) as reader:
        assert reader.applied_revision() == "abc"
        with pytest.raises(storemod.StoreError, match="read-only"):
            reader.set_applied_revision("def")


def test_default_state_dir() -> None:
    assert storemod.default_state_dir({}) == Path("/var/lib/reconciler")
    assert storemod.default_state_dir({"STATE_DIRECTORY": "/var/lib/r:/x"}) == Path("/var/lib/r")
    both = {"STATE_DIRECTORY": "/var/lib/r", "RECONCILER_STATE_DIR": "/srv/state"}
    assert storemod.default_state_dir(both) == Path("/srv/state")


def test_readers_in_threads_while_one_writes(store: storemod.Store) -> None:
    total = 300
    failures: list[BaseException] = []
    seen: dict[str, list[int]] = {}
    done = threading.Event()

    def write() -> None:
        try:
            for i in range(total):
                sync_id = store.begin_sync(f"rev{i}", cond.Trigger.RESYNC)
                store.set_conditions([_pod(f"p{j}", READY, "Synced") for j in range(i % 7)])
                store.finish_sync(sync_id, cond.SyncResult.SUCCEEDED, {"unchanged": i}, [], 0.01)
        except BaseException as exc:
            failures.append(exc)
        finally:
            done.set()

    def read() -> None:
        mine = seen.setdefault(threading.current_thread().name, [])
        try:
            while not done.is_set():
                history = store.history(5)
                ids = [s.id for s in history]
                assert ids == sorted(ids, reverse=True)
                assert len(store.conditions()) < 7
                if history:
                    mine.append(history[0].id)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert len(store.history(total + 10)) == total
    for ids in seen.values():  # each reader saw the history only move forward
        assert ids == sorted(ids)


READER = """
import sys, time
from pathlib import Path
from reconciler.state import store
reader = store.Store(Path(sys.argv[1]), create=False)
last = 0
deadline = time.time() + 30
while time.time() < deadline:
    sync = reader.last_sync()
    if sync is not None:
        assert sync.id >= last, (sync.id, last)
        last = sync.id
        if sync.revision == "final" and sync.finished:
            print(last)
            break
"""


def test_a_reader_process_while_the_daemon_writes(store: storemod.Store) -> None:
    reader = subprocess.Popen([sys.executable, "-c", READER, str(store.path)],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        for i in range(200):
            sync_id = store.begin_sync(f"rev{i}", cond.Trigger.RESYNC)
            store.finish_sync(sync_id, cond.SyncResult.SUCCEEDED, {}, [], 0.0)
        final = store.begin_sync("final", cond.Trigger.RESYNC)
        store.finish_sync(final, cond.SyncResult.SUCCEEDED, {}, [], 0.0)
        out, _ = reader.communicate(timeout=60)
    finally:
        reader.kill()
    assert reader.returncode == 0
    assert int(out) == final


def test_a_sync_left_running_by_a_dead_daemon_is_closed_on_the_next_start(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with storemod.Store(path) as first:
        done = first.begin_sync("aaa", cond.Trigger.STARTUP)
        first.finish_sync(done, cond.SyncResult.SUCCEEDED, {}, [], 0.1)
        first.begin_sync("bbb", cond.Trigger.PUSH)  # the daemon dies here
    with storemod.Store(path, create=False) as reader:  # a reader changes nothing
        assert reader.history(1)[0].result is None
    with storemod.Store(path) as second:
        interrupted, finished = second.history(2)
    assert interrupted.result is cond.SyncResult.FAILED and interrupted.duration is None
    assert interrupted.errors == (storemod.INTERRUPTED,)
    assert finished.result is cond.SyncResult.SUCCEEDED and finished.errors == ()


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    first = storemod.Store(path)
    with pytest.raises(storemod.StoreError, match="another reconciler daemon"):
        storemod.Store(path)
    with storemod.Store(path, create=False):  # readers are welcome
        pass
    first.close()
    storemod.Store(path).close()  # the lock went with the first writer
