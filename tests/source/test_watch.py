"""RefWatcher notices pushes into a real bare repository; Poller ticks and stops at once."""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.source import errors, git, watch
from tests.source import repos

GENEROUS = 10.0


class Calls:
    """Records on_change calls (and what the branch pointed at then); waits for conditions."""

    def __init__(self, probe: Callable[[], str] | None = None) -> None:
        self.seen: list[str] = []
        self._probe = probe
        self._changed = threading.Condition()

    def __call__(self) -> None:
        with self._changed:
            self.seen.append(self._probe() if self._probe else "call")
            self._changed.notify_all()

    def wait_for(self, condition: Callable[[list[str]], bool], timeout: float = GENEROUS) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: condition(self.seen), timeout)


@pytest.fixture
def upstream(tmp_path: Path) -> repos.Upstream:
    up = repos.Upstream(tmp_path)
    up.commit({"a.yaml": "0"})
    up.push()
    return up


def test_a_push_is_noticed(upstream: repos.Upstream) -> None:
    calls = Calls()
    with watch.RefWatcher(upstream.bare, "main", calls):
        upstream.commit({"a.yaml": "1"})
        upstream.push()
        assert calls.wait_for(lambda seen: len(seen) >= 1)


def test_the_last_of_a_burst_of_pushes_is_never_lost(
    upstream: repos.Upstream, tmp_path: Path
) -> None:
    source = git.LocalRepoSource(upstream.bare, "main", tmp_path / "state", 10.0)
    calls = Calls(source.resolve)
    with watch.RefWatcher(upstream.bare, "main", calls):
        for n in range(5):
            last = upstream.commit({"a.yaml": f"burst {n}"})
            upstream.push()
        assert calls.wait_for(lambda seen: bool(seen) and seen[-1] == last)
    assert len(calls.seen) <= 5


def test_reads_and_other_branches_do_not_count(upstream: repos.Upstream, tmp_path: Path) -> None:
    source = git.LocalRepoSource(upstream.bare, "main", tmp_path / "state", 10.0)
    calls = Calls()
    with watch.RefWatcher(upstream.bare, "main", calls):
        sha = source.resolve()
        source.checkout(sha)
        source.describe(sha)
        upstream.commit({"b.yaml": "b"})
        upstream.push("feature")
        time.sleep(0.5)  # a call would have come by now; slowness can only hide, not fake, one
        assert calls.seen == []


def test_a_branch_in_a_folder_is_noticed_when_first_pushed(upstream: repos.Upstream) -> None:
    calls = Calls()
    with watch.RefWatcher(upstream.bare, "deploy/prod", calls):
        upstream.push("deploy/prod")
        assert calls.wait_for(lambda seen: len(seen) >= 1)


def test_packing_refs_is_noticed(upstream: repos.Upstream) -> None:
    calls = Calls()
    with watch.RefWatcher(upstream.bare, "main", calls):
        repos.git(upstream.bare, "pack-refs", "--all")
        assert calls.wait_for(lambda seen: len(seen) >= 1)


def test_a_failing_callback_does_not_end_the_watch(upstream: repos.Upstream) -> None:
    calls = Calls()
    failures = []

    def on_change() -> None:
        if not failures:
            failures.append(1)
            raise RuntimeError("bug in the callback")
        calls()

    with watch.RefWatcher(upstream.bare, "main", on_change):
        upstream.commit({"a.yaml": "1"})
        upstream.push()
        deadline = time.monotonic() + GENEROUS
        while not failures and time.monotonic() < deadline:
            time.sleep(0.01)
        upstream.commit({"a.yaml": "2"})
        upstream.push()
        assert calls.wait_for(lambda seen: len(seen) >= 1)


def test_no_calls_after_stop(upstream: repos.Upstream) -> None:
    calls = Calls()
    watcher = watch.RefWatcher(upstream.bare, "main", calls)
    watcher.start()
    watcher.stop()
    upstream.commit({"a.yaml": "1"})
    upstream.push()
    time.sleep(0.2)
    assert calls.seen == []


def test_a_watch_that_cannot_be_set_up(
    upstream: repos.Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr("watchdog.observers.api.BaseObserver.schedule", refuse)
    with pytest.raises(errors.WatchFailed, match="max_user_watches") as caught:
        watch.RefWatcher(upstream.bare, "main", Calls()).start()
    assert caught.value.transient


def test_poller_ticks_until_stopped() -> None:
    calls = Calls()
    with watch.Poller(0.01, calls):
        assert calls.wait_for(lambda seen: len(seen) >= 3)
    count = len(calls.seen)
    time.sleep(0.05)
    assert len(calls.seen) == count


def test_poller_stops_at_once_in_a_long_interval() -> None:
    poller = watch.Poller(3600.0, Calls())
    poller.start()
    started = time.monotonic()
    poller.stop()
    assert time.monotonic() - started < GENEROUS / 2


def test_poller_survives_a_failing_callback() -> None:
    calls = Calls()
    state = {"n": 0}

    def on_change() -> None:
        state["n"] += 1
        if state["n"] == 1:
            raise RuntimeError("transient bug")
        calls()

    with watch.Poller(0.01, on_change):
        assert calls.wait_for(lambda seen: len(seen) >= 1)


def test_poller_interval_must_be_positive() -> None:
    with pytest.raises(errors.SourceConfigError):
        watch.Poller(0, Calls())


def test_trigger_for_each_kind_of_source(upstream: repos.Upstream, tmp_path: Path) -> None:
    state = tmp_path / "state"
    local = git.LocalRepoSource(upstream.bare, "main", state, 5.0)
    remote = git.RemoteSource(f"file://{upstream.bare}", "main", state, 5.0)
    assert isinstance(watch.trigger_for(local, Calls(), 30.0), watch.RefWatcher)
    poller = watch.trigger_for(remote, Calls(), 30.0)
    assert isinstance(poller, watch.Poller) and poller.interval == 30.0
