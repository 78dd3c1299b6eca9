"""A bounded thread pool whose idle workers exit: the executor's per-host pools, its host fan-out,
the prober's and the host health checker's pools. Between reconciles the daemon keeps no worker
threads (each holds its stack and a thread state: about 47 KB of RSS); work starts them again.

Same contract as `concurrent.futures.ThreadPoolExecutor` for `submit`, `map` and `shutdown`.
"""

from __future__ import annotations

import collections
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")
IDLE = 2.0
"""Seconds a worker waits for more work before it exits. Starting a thread costs about 0.1 ms,
so a deploy whose waves leave a host's pool idle for a moment loses nothing worth measuring."""


class _Work:
    __slots__ = ("args", "fn", "future", "kwargs")

    def __init__(
        self,
        future: concurrent.futures.Future[Any],
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self.future = future
        self.fn = fn
        self.args = args
        self.kwargs = kwargs

    def run(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return
        try:
            result = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:  # handed to the caller through the future, as the stdlib
            self.future.set_exception(exc)
        else:
            self.future.set_result(result)


class RetiringPool(concurrent.futures.Executor):
    """At most `max_workers` threads named `name-N`, started as work arrives and ended after
    `idle` seconds without work. Work runs in submission order. Worker threads are daemon
    threads: `shutdown(wait=True)` waits for the work they hold, the interpreter's exit does not."""

    def __init__(self, max_workers: int, name: str, idle: float = IDLE) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers
        self.name = name
        self.idle = idle
        self._queue: collections.deque[_Work] = collections.deque()
        self._cond = threading.Condition(threading.Lock())
        self._threads: set[threading.Thread] = set()
        self._waiting = 0  # workers waiting for work
        self._started = 0  # numbers the threads' names
        self._shutdown = False

    @property
    def workers(self) -> int:
        """Worker threads alive now."""
        with self._cond:
            return len(self._threads)

    @property
    def waiting(self) -> int:
        """Worker threads waiting for work now."""
        with self._cond:
            return self._waiting

    def submit(
        self, fn: Callable[..., R], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[R]:
        """Queue `fn(*args, **kwargs)`; RuntimeError once shut down (as the stdlib pool)."""
        future: concurrent.futures.Future[R] = concurrent.futures.Future()
        with self._cond:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._queue.append(_Work(future, fn, args, kwargs))
            if self._waiting >= len(self._queue):
                self._cond.notify()
            elif len(self._threads) < self.max_workers:
                self._start()
            else:
                self._cond.notify()  # a busy worker takes it when free
        return future

    def _start(self) -> None:
        self._started += 1
        thread = threading.Thread(target=self._work, name=f"{self.name}_{self._started}",
                                  daemon=True)  # fmt: skip
        self._threads.add(thread)
        thread.start()

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            with self._cond:
                while not self._queue and not self._shutdown:
                    self._waiting += 1
                    try:
                        woken = self._cond.wait(self.idle)
                    finally:
                        self._waiting -= 1
                    if not woken and not self._queue:
                        self._threads.discard(me)
                        return
                if not self._queue:  # shut down and nothing left
                    self._threads.discard(me)
                    return
                work = self._queue.popleft()
            work.run()
            del work

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No new work from now on; `cancel_futures` cancels what has not started; `wait` waits
        until the workers have finished what they hold (and, uncancelled, what is queued)."""
        with self._cond:
            self._shutdown = True
            if cancel_futures:
                while self._queue:
                    self._queue.popleft().future.cancel()
            self._cond.notify_all()
            threads = list(self._threads)
        if wait:
            me = threading.current_thread()
            for thread in threads:
                if thread is not me:
                    thread.join()
