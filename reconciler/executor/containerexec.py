"""A command run in a container through the Podman API of its host (libpod exec: create, start
on a hijacked connection, inspect for the exit code), over the host's forwarded socket.

`reconciler exec` (cli/execcmd.py) calls these; the argv travels as a JSON list and never meets
a shell on the host. Without a terminal the output comes in the multiplexed format (`Demux`);
with one (`tty`) it is the terminal's raw byte stream, and `resize` follows the window size.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import BinaryIO

from reconciler.executor import apistream, errors

EXIT_WAIT = 5.0
"""Seconds to wait, after the stream ended, for Podman to record the command's exit code."""

Write = Callable[[apistream.Stream, bytes], None]


def _broken(host: str, operation: str, exc: BaseException) -> errors.PodmanFailed:
    return errors.PodmanFailed(host, operation, str(exc) or type(exc).__name__)


def create(
    socket_path: str,
    host: str,
    container_id: str,
    argv: list[str],
    *,
    tty: bool = False,
    stdin: bool = False,
    timeout: float = 30.0,
) -> str:
    """A new exec session for `argv` in the container; its id. Raises `OperationFailed` (e.g.
    409: the container is not running) or `PodmanFailed`."""
    body = {
        "Cmd": list(argv),
        "AttachStdout": True,
        "AttachStderr": True,
        "AttachStdin": stdin,
        "Tty": tty,
    }
    target = apistream.path(f"/containers/{apistream.quote(container_id)}/exec")
    try:
        response = apistream.request(socket_path, "POST", target, body=body, timeout=timeout)
        try:
            if response.status >= 400:
                raise response.error("create exec")
            return str(response.json()["Id"])
        finally:
            response.close()
    except (OSError, ValueError, KeyError) as exc:
        raise _broken(host, "create exec", exc) from exc


def start(
    socket_path: str, host: str, exec_id: str, *, tty: bool, timeout: float = 30.0
) -> apistream.Response:
    """Start the session attached; the response's socket is the hijacked connection (read the
    output with `raw()`, write stdin to `sock`). The caller closes it."""
    target = apistream.path(f"/exec/{apistream.quote(exec_id)}/start")
    try:
        response = apistream.request(
            socket_path, "POST", target, body={"Detach": False, "Tty": tty}, timeout=timeout
        )
    except OSError as exc:
        raise _broken(host, "start exec", exc) from exc
    if response.status >= 400:
        try:
            raise response.error("start exec")
        finally:
            response.close()
    response.sock.settimeout(None)  # the command takes the time it takes
    return response


def resize(socket_path: str, host: str, exec_id: str, rows: int, columns: int) -> None:
    """Tell the session's terminal its new size (best effort: a session that ended is fine)."""
    params = {"h": rows, "w": columns}
    target = apistream.path(f"/exec/{apistream.quote(exec_id)}/resize", params)
    try:
        apistream.request(socket_path, "POST", target, timeout=10.0).close()
    except OSError as exc:
        raise _broken(host, "resize exec", exc) from exc


def exit_code(socket_path: str, host: str, exec_id: str, wait: float = EXIT_WAIT) -> int | None:
    """The command's exit code once Podman has recorded its end; None if it still runs after
    `wait` seconds."""
    target = apistream.path(f"/exec/{apistream.quote(exec_id)}/json")
    deadline = time.monotonic() + wait
    while True:
        try:
            response = apistream.request(socket_path, "GET", target, timeout=10.0)
            try:
                if response.status >= 400:
                    raise response.error("inspect exec")
                state = response.json()
            finally:
                response.close()
        except (OSError, ValueError) as exc:
            raise _broken(host, "inspect exec", exc) from exc
        if not state.get("Running") and state.get("ExitCode") is not None:
            return int(state["ExitCode"])
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def pump_stdin(source: BinaryIO, sock: socket.socket) -> threading.Thread:
    """Copy `source` to the session's stdin in a thread, then half-close the connection so the
    command sees end of input."""

    def copy() -> None:
        try:
            while True:
                data = source.read1(65536) if hasattr(source, "read1") else source.read(65536)
                if not data:
                    break
                sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (OSError, ValueError):
            pass  # the command ended first: its output and exit code say the rest

    thread = threading.Thread(target=copy, name="exec-stdin", daemon=True)
    thread.start()
    return thread


def run(
    socket_path: str,
    host: str,
    container_id: str,
    argv: list[str],
    write: Write,
    *,
    stdin: BinaryIO | None = None,
) -> int:
    """Run `argv` without a terminal, hand its output to `write` frame by frame, and return its
    exit code (`stdin`: copied to the command, which sees end of input after it)."""
    exec_id = create(socket_path, host, container_id, argv, stdin=stdin is not None)
    response = start(socket_path, host, exec_id, tty=False)
    try:
        if stdin is not None:
            pump_stdin(stdin, response.sock)
        demux = apistream.Demux()
        for data in response.raw():
            for kind, payload in demux.feed(data):
                write(kind, payload)
    except OSError as exc:
        raise _broken(host, "exec", exc) from exc
    finally:
        response.close()
    code = exit_code(socket_path, host, exec_id)
    if code is None:
        raise errors.PodmanFailed(host, "exec", "the command's output ended but it still runs")
    return code
