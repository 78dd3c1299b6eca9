"""executor.idlepool.RetiringPool: work runs (in order, bounded), idle workers exit and come back
with new work, shutdown cancels or waits as the stdlib pool does. Waits are on events, never on
elapsed time."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable

import pytest

from reconciler.executor import idlepool

LONG = 30.0  # an upper bound for waits that end by an event


def _until(check: Callable[[], bool]) -> bool:
    """Wait until `check()` (polled; LONG at most)."""
    pause = threading.Event()
    for _ in range(int(LONG / 0.01)):
        if check():
            return True
        pause.wait(0.01)
    return False


def _retired(pool: idlepool.RetiringPool) -> bool:
    """Wait until the pool has no worker left (its workers exit after `idle`)."""
    return _until(lambda: pool.workers == 0)


def test_work_runs_and_returns_its_result_or_error() -> None:
    pool = idlepool.RetiringPool(2, "t")
    assert pool.submit(lambda a, b=0: a + b, 1, b=2).result(LONG) == 3
    failing = pool.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failing.result(LONG)
    assert list(pool.map(lambda x: x * 2, range(10))) == [x * 2 for x in range(10)]
    pool.shutdown()


def test_workers_are_bounded_and_named() -> None:
    pool = idlepool.RetiringPool(3, "podman-h1")
    release = threading.Event()
    running: list[str] = []
    lock = threading.Lock()
    three = threading.Barrier(4)

    def hold() -> None:
        with lock:
            running.append(threading.current_thread().name)
        if len(running) <= 3:
            three.wait(LONG)
        release.wait(LONG)

    futures = [pool.submit(hold) for _ in range(6)]
    three.wait(LONG)  # three run at once
    assert pool.workers == 3
    assert len(running) == 3
    release.set()
    concurrent.futures.wait(futures, LONG)
    assert len(running) == 6
    assert {name.rsplit("_", 1)[0] for name in running} == {"podman-h1"}
    assert len(set(running)) == 3  # the three threads took the queued work
    pool.shutdown()


def test_idle_workers_exit_and_new_work_starts_them_again() -> None:
    pool = idlepool.RetiringPool(4, "t", idle=0.05)
    assert list(pool.map(lambda x: x, range(8))) == list(range(8))
    assert pool.workers >= 1
    assert _retired(pool)
    assert not [t for t in threading.enumerate() if t.name.startswith("t_")]
    assert pool.submit(lambda: "again").result(LONG) == "again"
    assert _retired(pool)
    pool.shutdown()


def test_a_waiting_worker_takes_new_work_without_a_new_thread() -> None:
    pool = idlepool.RetiringPool(4, "t", idle=LONG)
    idents = set()
    for _ in range(5):
        idents.add(pool.submit(threading.get_ident).result(LONG))
        assert _until(lambda: pool.waiting == 1)
    assert pool.workers == 1
    assert len(idents) == 1
    pool.shutdown()
    assert pool.workers == 0


def test_shutdown_cancels_queued_work_and_refuses_new_work() -> None:
    pool = idlepool.RetiringPool(1, "t", idle=0.05)
    started, release = threading.Event(), threading.Event()

    def hold() -> str:
        started.set()
        release.wait(LONG)
        return "held"

    first = pool.submit(hold)
    queued = pool.submit(lambda: "never")
    started.wait(LONG)
    pool.shutdown(wait=False, cancel_futures=True)
    assert queued.cancelled()
    with pytest.raises(RuntimeError):
        pool.submit(lambda: None)
    release.set()
    assert first.result(LONG) == "held"
    assert _retired(pool)


def test_shutdown_with_wait_runs_what_is_queued() -> None:
    pool = idlepool.RetiringPool(1, "t")
    release = threading.Event()
    first = pool.submit(release.wait, LONG)
    second = pool.submit(lambda: "ran")
    release.set()
    pool.shutdown(wait=True)
    assert first.result(0) is True
    assert second.result(0) == "ran"
    assert pool.workers == 0


def test_max_workers_must_be_positive() -> None:
    with pytest.raises(ValueError):
        idlepool.RetiringPool(0, "t")
