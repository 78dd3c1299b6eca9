"""A small HTTP load generator for the Services tests and benchmarks: a fixed request rate (or
as fast as it goes) over fresh connections, every failure kept with its time and kind.

Each request is one `GET` over a new TCP connection (HTTP/1.0, as `ab` without -k does), so a
connection refused or reset, a timeout and a non-2xx status are all counted as failures.
Threads, not asyncio, so a test can run it beside blocking CLI calls.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Reply:
    started: float  # time.monotonic() when the request was sent
    seconds: float
    ok: bool
    body: str = ""
    error: str = ""  # "" when ok; "status 503", "refused", "reset", "timeout", ...


def get(address: str, port: int, path: str = "/", timeout: float = 5.0) -> Reply:
    """One HTTP/1.0 GET over a new connection."""
    started = time.monotonic()
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n".encode())
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except ConnectionRefusedError:
        return Reply(started, time.monotonic() - started, False, error="refused")
    except ConnectionResetError:
        return Reply(started, time.monotonic() - started, False, error="reset")
    except TimeoutError:
        return Reply(started, time.monotonic() - started, False, error="timeout")
    except OSError as exc:
        return Reply(started, time.monotonic() - started, False, error=type(exc).__name__)
    seconds = time.monotonic() - started
    raw = b"".join(chunks).decode("utf-8", "replace")
    head, _, body = raw.partition("\r\n\r\n")
    status = head.split(" ", 2)[1] if head.startswith("HTTP/") and " " in head else ""
    if not status.startswith("2"):
        return Reply(started, seconds, False, body, f"status {status or 'none'}")
    return Reply(started, seconds, True, body)


@dataclass
class Load:
    """Requests to `targets` (round robin over (address, port)) at `rate` per second from
    `workers` threads until `stop()`; `replies` holds every answer."""

    targets: list[tuple[str, int]]
    rate: float = 50.0
    workers: int = 8
    path: str = "/"
    replies: list[Reply] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)
    _sent: int = 0

    def start(self) -> Load:
        self._begin = time.monotonic()
        for _ in range(self.workers):
            thread = threading.Thread(target=self._work, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _next(self) -> tuple[int, float] | None:
        """The number of the next request and when it is due, or None once stopped."""
        with self._lock:
            if self._stop.is_set():
                return None
            n = self._sent
            self._sent += 1
        return n, self._begin + (n / self.rate if self.rate > 0 else 0.0)

    def _work(self) -> None:
        while (item := self._next()) is not None:
            n, due = item
            delay = due - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            address, port = self.targets[n % len(self.targets)]
            reply = get(address, port, self.path)
            with self._lock:
                self.replies.append(reply)

    def stop(self) -> Load:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        return self

    @property
    def failures(self) -> list[Reply]:
        return [r for r in self.replies if not r.ok]

    def summary(self) -> str:
        kinds = Counter(r.error for r in self.failures)
        return f"{len(self.replies)} requests, {len(self.failures)} failed {dict(kinds)}"

    def bodies(self) -> Counter[str]:
        return Counter(r.body.strip() for r in self.replies if r.ok)
