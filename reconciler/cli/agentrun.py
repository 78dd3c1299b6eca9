"""One command run inside the warm agent (`cli.agent`) as the client would run it: its
stdout and stderr sent to the client as frames, its environment, working directory and
terminal width applied for the duration, and the agent's executors (one per set of connection
settings, their SSH connections kept open) handed to `common.executor_for`.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.cli import agentwire, settings
from reconciler.executor import protocol

Key = tuple[str, str, float, float]


class ExecutorPool:
    """The agent's executors, one per (known_hosts, key, connect and command timeouts), each
    kept open across commands (`common.ExecutorSource`)."""

    def __init__(self, make: Callable[[settings.Settings], protocol.HostExecutor] | None = None):
        self._make = make or _podman_ssh
        self._executors: dict[Key, protocol.HostExecutor] = {}
        self._lock = threading.Lock()
        self.made = 0

    def executor(self, resolved: settings.Settings) -> protocol.HostExecutor:
        key = (str(resolved.known_hosts), str(resolved.ssh_key), resolved.connect_timeout,
               resolved.command_timeout)  # fmt: skip
        with self._lock:
            found = self._executors.get(key)
            if found is None:
                found = self._executors[key] = self._make(resolved)
                self.made += 1
            return found

    def __len__(self) -> int:
        with self._lock:
            return len(self._executors)

    def settle(self) -> None:
        """After a command: no exit streams left open for a callback of a finished command."""
        with self._lock:
            executors = list(self._executors.values())
        for executor in executors:
            with contextlib.suppress(Exception):
                executor.watch_exits((), _ignore_exit)

    def close(self) -> None:
        with self._lock:
            executors = list(self._executors.values())
            self._executors.clear()
        for executor in executors:
            close = getattr(executor, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()


def _ignore_exit(_found: Any) -> None:
    return None


def _podman_ssh(resolved: settings.Settings) -> protocol.HostExecutor:
    from reconciler.executor import podman_ssh  # noqa: PLC0415 (asyncssh: only when dialling)

    return podman_ssh.PodmanSSHExecutor(
        known_hosts=resolved.known_hosts,
        key_file=resolved.ssh_key,
        connect_timeout=resolved.connect_timeout,
        command_timeout=resolved.command_timeout,
    )


class ClientStream(io.TextIOBase):
    """A text stream whose writes reach the client as STDOUT or STDERR frames; once the client
    is gone, writes are dropped (the command is cancelled by then)."""

    def __init__(self, sock: socket.socket, kind: agentwire.Frame, tty: bool,
                 lock: threading.Lock) -> None:  # fmt: skip
        super().__init__()
        self._sock = sock
        self._kind = kind
        self._tty = tty
        self._lock = lock
        self.lost = False

    def isatty(self) -> bool:
        return self._tty

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if text and not self.lost:
            data = text.encode("utf-8", "backslashreplace")
            with self._lock:
                try:
                    agentwire.send(self._sock, self._kind, data)
                except OSError:
                    self.lost = True
        return len(text)


@dataclass(frozen=True)
class Request:
    """A command as the client sent it (`agentwire.Frame.REQUEST`)."""

    argv: tuple[str, ...]
    cwd: str
    env: Mapping[str, str]
    stdout_tty: bool
    stderr_tty: bool
    columns: int
    fingerprint: str

    @classmethod
    def parse(cls, value: Any) -> Request:
        """Raises ValueError for anything that is not a well-formed request."""
        if not isinstance(value, dict):
            raise ValueError("not an object")
        argv, env, tty = value.get("argv"), value.get("env"), value.get("tty")
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise ValueError("argv")
        if not isinstance(env, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()
        ):
            raise ValueError("env")
        if not isinstance(tty, dict) or not isinstance(value.get("cwd"), str):
            raise ValueError("tty or cwd")
        columns = value.get("columns")
        return cls(tuple(argv), value["cwd"], agentwire.forwarded(env),
                   bool(tty.get("stdout")), bool(tty.get("stderr")),
                   columns if isinstance(columns, int) and 0 < columns < 10_000 else 80,
                   str(value.get("fingerprint", "")))  # fmt: skip

    @property
    def command(self) -> str | None:
        words = self.argv[: self.argv.index("--")] if "--" in self.argv else self.argv
        return next((word for word in words if not word.startswith("-")), None)

    def summary(self) -> str:
        """`reconciler apply` (its command only: no paths or values, for the log and others)."""
        return f"reconciler {self.command or ''}".strip()


@contextlib.contextmanager
def as_client(request: Request, sock: socket.socket) -> Iterator[tuple[ClientStream, ...]]:
    """The process as the client's for the duration: stdout and stderr to the client, its
    forwarded environment (the agent's own variables of those kinds hidden), cwd and width."""
    lock = threading.Lock()
    out = ClientStream(sock, agentwire.Frame.STDOUT, request.stdout_tty, lock)
    err = ClientStream(sock, agentwire.Frame.STDERR, request.stderr_tty, lock)
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_streams = sys.stdout, sys.stderr
    try:
        os.environ.clear()
        os.environ.update({k: v for k, v in saved_env.items()
                           if not agentwire.FORWARDED.fullmatch(k)})  # fmt: skip
        os.environ.update(request.env)
        os.environ["COLUMNS"] = str(request.columns)
        os.chdir(request.cwd)
        sys.stdout, sys.stderr = out, err
        yield out, err
    finally:
        for stream in (out, err):
            with contextlib.suppress(Exception):
                stream.flush()
        sys.stdout, sys.stderr = saved_streams
        os.environ.clear()
        os.environ.update(saved_env)
        with contextlib.suppress(OSError):
            os.chdir(saved_cwd)


def run_command(
    request: Request, sock: socket.socket, pool: ExecutorPool,
    main: Callable[..., int],
) -> int:  # fmt: skip
    """Run `main(argv, executors=pool)` as the client; its exit code (130 when interrupted,
    as a direct run; argparse's exit code for bad usage)."""
    try:
        with as_client(request, sock) as (_out, err):
            try:
                return _exit_code(main, request, pool, err)
            except KeyboardInterrupt:
                print("reconciler: interrupted", file=err)
                return 130
    except OSError as exc:  # the client's directory is gone
        with contextlib.suppress(OSError):
            agentwire.send(sock, agentwire.Frame.STDERR,
                           f"reconciler: {exc.strerror}: {request.cwd}\n".encode())  # fmt: skip
        return 2
    finally:
        pool.settle()


def _exit_code(main: Callable[..., int], request: Request, pool: ExecutorPool,
               err: ClientStream) -> int:  # fmt: skip
    try:
        return main(list(request.argv), executors=pool)
    except SystemExit as exc:  # argparse: usage errors, --help
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=err)
        return 1
    except KeyboardInterrupt:
        raise
    except Exception:  # a bug: shown as a direct run shows it
        traceback.print_exc(file=err)
        return 1
