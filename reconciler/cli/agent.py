"""The warm per-user agent (like ssh's ControlPersist or dmypy): one long-lived process with
the command modules imported and its SSH connections open, running the `apply`, `diff` and `get`
commands its thin clients (`cli.agentclient`) send over a Unix socket in a private directory,
one at a time, with the same code as a direct run. It exits after an idle time, when a client
runs other code (it is then replaced), or on `reconciler agent stop`.

`python -m reconciler.cli.agent --dir DIR` serves (the client starts it); `reconciler agent
status|stop` asks a running one.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib
import logging
import os
import queue
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from reconciler.cli import agentclient, agentrun, agentwire

log = logging.getLogger("reconciler.agent")
LOCK_WAIT = 30.0  # seconds a new agent waits for the one it replaces to exit
REQUEST_TIMEOUT = 10.0  # seconds for a connected client to send its request
POLL = 0.5  # seconds between looks at `closing` while idle


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "agent", help="show or stop the warm per-user agent", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("action", choices=("status", "stop"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    folder = agentwire.private_dir(agentwire.agent_dir(), create=False)
    answer = None if folder is None else agentclient.control(folder, args.action)
    if answer is None:
        print("reconciler agent: no agent is running")
        return 0 if args.action == "stop" else 1
    code, text = answer
    sys.stdout.write(text)
    return code


@dataclass
class _Job:
    request: agentrun.Request
    sock: socket.socket
    cancelled: threading.Event = field(default_factory=threading.Event)


class Agent:
    """See the module docstring. `main` is `cli.main.main` (its `executors=` runs a command
    with the agent's executors)."""

    def __init__(self, folder: Path, idle: float, main: Callable[..., int],
                 pool: agentrun.ExecutorPool | None = None) -> None:  # fmt: skip
        self.folder = folder
        self.idle = idle
        self.main = main
        self.pool = pool if pool is not None else agentrun.ExecutorPool()
        self.fingerprint = agentwire.fingerprint()
        self.jobs: queue.Queue[_Job] = queue.Queue()
        self.closing = threading.Event()
        self.started = time.monotonic()
        self.commands = 0
        self._lock = threading.Lock()
        self._current: _Job | None = None
        self._running = False  # the main thread is inside a command (SIGINT raises there)
        self._listener: socket.socket | None = None

    # ----- the main thread: one command at a time -----------------------------------------

    def serve(self, listener: socket.socket) -> None:
        """Accept clients on `listener` (a thread) and run their commands here until idle or
        closing; removes the socket on the way out."""
        self._listener = listener
        threading.Thread(target=self._accept, name="agent-accept", daemon=True).start()
        last = time.monotonic()
        try:
            while True:
                try:
                    job = self.jobs.get(timeout=POLL)
                except queue.Empty:
                    if self.closing.is_set() or time.monotonic() - last > self.idle:
                        break
                    continue
                with contextlib.suppress(KeyboardInterrupt):  # a cancel as the command ended
                    self._run(job)
                last = time.monotonic()
        finally:
            self._stop_listening()
            self._refuse_queued()
            self.pool.close()

    def _run(self, job: _Job) -> None:
        with self._lock:
            self._current = job
        try:
            if job.cancelled.is_set():
                code = 130
                with contextlib.suppress(OSError):
                    agentwire.send(job.sock, agentwire.Frame.STDERR, b"reconciler: interrupted\n")
            else:
                log.info("running %s", job.request.summary())
                with contextlib.suppress(OSError):
                    agentwire.send(job.sock, agentwire.Frame.STARTED)
                code = agentrun.run_command(job.request, job.sock, self.pool, self._main)
                self.commands += 1
            with contextlib.suppress(OSError):
                agentwire.send_json(job.sock, agentwire.Frame.EXIT, code)
            log.info("%s exited %d", job.request.summary(), code)
        finally:
            with self._lock:
                self._current = None
            with contextlib.suppress(OSError):
                job.sock.close()

    def _main(self, argv: list[str], *, executors: object) -> int:
        """`main` with SIGINT raising inside it only (not while the client's environment and
        streams are put back)."""
        self._running = True
        try:
            return self.main(argv, executors=executors)
        finally:
            self._running = False

    def on_sigint(self, _signum: int, _frame: FrameType | None) -> None:
        """A cancel (`_cancel`) or a SIGINT: interrupts the running command, as Ctrl-C would."""
        if self._running:
            raise KeyboardInterrupt

    def on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self.closing.set()
        self.on_sigint(signum, frame)

    # ----- the accepting thread and one thread per client ---------------------------------

    def _accept(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self.closing.is_set():
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._client, args=(sock,), name="agent-client",
                             daemon=True).start()  # fmt: skip

    def _client(self, sock: socket.socket) -> None:
        try:
            if agentwire.peer_uid(sock) != os.getuid():
                sock.close()
                return
            sock.settimeout(REQUEST_TIMEOUT)
            kind, payload = agentwire.receive(sock)
            sock.settimeout(None)
            value = agentwire.decode_json(payload) if kind is agentwire.Frame.REQUEST else None
            if isinstance(value, dict) and "control" in value:
                self._control(sock, value["control"])
                return
            job = _Job(agentrun.Request.parse(value), sock)
        except (OSError, agentwire.WireError, ValueError):
            self._refuse(sock, agentwire.Refusal.BAD_REQUEST)
            return
        if job.request.fingerprint != self.fingerprint:
            log.info("a client runs other code: exiting to be replaced")
            self.closing.set()
            self._stop_listening()  # before answering: the client starts the next agent
            self._refuse(sock, agentwire.Refusal.STALE)
            return
        if job.request.command not in agentwire.COMMANDS:
            self._refuse(sock, agentwire.Refusal.UNSUPPORTED)
            return
        if self.closing.is_set():
            self._refuse(sock, agentwire.Refusal.CLOSING)
            return
        with self._lock:
            busy = self._current.request.summary() if self._current is not None else None
            try:
                agentwire.send_json(sock, agentwire.Frame.QUEUED, busy)
            except OSError:
                sock.close()
                return
            self.jobs.put(job)
        self._watch(job)

    def _watch(self, job: _Job) -> None:
        """Until the client hangs up: a CANCEL frame or the end of the connection cancels."""
        try:
            while True:
                kind, _ = agentwire.receive(job.sock)
                if kind is agentwire.Frame.CANCEL:
                    self._cancel(job)
        except (OSError, agentwire.WireError):
            self._cancel(job)

    def _cancel(self, job: _Job) -> None:
        with self._lock:
            if job.cancelled.is_set():
                return
            job.cancelled.set()
            if self._current is job and self._running:
                signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    def _control(self, sock: socket.socket, what: object) -> None:
        with sock:
            if what == "status":
                text = (f"agent pid {os.getpid()}, up {time.monotonic() - self.started:.0f}s, "
                        f"{self.commands} command(s) run, {self.jobs.qsize()} waiting, "
                        f"{len(self.pool)} executor(s), exits "
                        f"after {self.idle:.0f}s idle; socket {self.folder / agentwire.SOCKET}\n")
            elif what == "stop":
                self.closing.set()
                text = f"agent pid {os.getpid()} stopping\n"
            else:
                self._refuse(sock, agentwire.Refusal.BAD_REQUEST)
                return
            with contextlib.suppress(OSError):
                agentwire.send(sock, agentwire.Frame.STDOUT, text.encode())
                agentwire.send_json(sock, agentwire.Frame.EXIT, 0)

    @staticmethod
    def _refuse(sock: socket.socket, reason: agentwire.Refusal) -> None:
        with contextlib.suppress(OSError):
            agentwire.send_json(sock, agentwire.Frame.REFUSED, reason.value)
        with contextlib.suppress(OSError):
            sock.close()

    def _refuse_queued(self) -> None:
        while True:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                return
            self._refuse(job.sock, agentwire.Refusal.CLOSING)

    def _stop_listening(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.folder / agentwire.SOCKET)
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()


def listen(folder: Path) -> socket.socket:
    """The agent's socket in `folder` (a stale one replaced), mode 0600."""
    path = folder / agentwire.SOCKET
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    os.chmod(path, 0o600)
    listener.listen(16)
    return listener


def _take_lock(folder: Path) -> int | None:
    """The agent's lock file, held for its life (one agent per directory); None when another
    agent still holds it after LOCK_WAIT seconds."""
    fd = os.open(folder / agentwire.LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                return None
            time.sleep(0.05)


def main(argv: Sequence[str] | None = None, *, pool: agentrun.ExecutorPool | None = None,
         fingerprint: str | None = None) -> int:  # fmt: skip
    """Serve the directory --dir (`pool` and `fingerprint`: the tests' fake executors and a
    stale agent)."""
    parser = argparse.ArgumentParser(prog="python -m reconciler.cli.agent")
    parser.add_argument("--dir", required=True, type=Path)
    args = parser.parse_args(argv)
    folder = agentwire.private_dir(args.dir, create=True)
    if folder is None:
        print(f"reconciler agent: {args.dir} is not a private directory", file=sys.stderr)
        return 2
    handler = logging.StreamHandler(sys.stderr)  # the log file; commands' logs go elsewhere
    handler.setFormatter(logging.Formatter("%(asctime)s agent %(process)d: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    lock = _take_lock(folder)
    if lock is None:
        return 0  # another agent serves this directory
    idle = float(os.environ.get(agentwire.ENV_IDLE) or agentwire.DEFAULT_IDLE)
    from reconciler.cli import main as climain  # noqa: PLC0415

    agent = Agent(folder, idle, climain.main, pool)  # the fingerprint before the imports below
    agent.fingerprint = fingerprint or agent.fingerprint
    for name in sorted(agentwire.COMMANDS):
        importlib.import_module(f"reconciler.cli.{name}")
    importlib.import_module("reconciler.executor.podman_ssh")
    signal.signal(signal.SIGINT, agent.on_sigint)
    signal.signal(signal.SIGTERM, agent.on_sigterm)
    log.info("listening at %s (idle exit after %.0fs)", folder / agentwire.SOCKET, idle)
    agent.serve(listen(folder))
    log.info("exiting after %d command(s)", agent.commands)
    os.close(lock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
