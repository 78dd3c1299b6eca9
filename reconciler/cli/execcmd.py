"""`reconciler exec POD [-c CONTAINER] [-i] [-t] -- CMD...`: run a command in a running container
through the Podman API of its host (found by observing the repository's hosts), over the SSH
connection the reconciler uses anyway. The argv goes to Podman as a JSON list: no shell on the
host ever sees it. `-i` passes our stdin; `-t` gives the command a terminal (ours in raw mode,
its size followed).
Exit: the command's own exit code; 1 no such pod or container, 2 usage, 4 host unreachable,
126 the container does not run (Podman refused the exec).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import signal
import socket
import sys
import termios
import tty
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from reconciler.cli import common, logs
from reconciler.executor import apistream, containerexec, errors, protocol

EXIT_CANNOT_RUN = 126  # the shell's code for "found but could not run"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "exec", help="run a command in a container of a pod", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="reconciler exec POD [-n NS] [-c CONTAINER] [-i] [-t] [options] -- CMD [ARG...]",
    )  # fmt: skip
    _define(parser)
    # argparse stops at the first positional of a REMAINDER: options after POD are parsed
    # again by `split` (everything after `--` is the command, untouched).
    parser.add_argument("rest", nargs=argparse.REMAINDER, metavar="POD [options] -- CMD ...")
    parser.set_defaults(handler=run_exec)


def _define(parser: argparse.ArgumentParser) -> None:
    logs.add_pod_arguments(parser)
    parser.add_argument("-i", "--stdin", action="store_true", help="pass stdin to the command")
    parser.add_argument("-t", "--tty", action="store_true", help="give the command a terminal")


def split(args: argparse.Namespace) -> list[str]:
    """Fill `args` from the words before `--` (POD and options in any order); the argv after
    it. Raises ValueError for a word that is neither."""
    rest: list[str] = list(args.rest)
    cut = rest.index("--") if "--" in rest else len(rest)
    before, argv = rest[:cut], rest[cut + 1 :]
    again = argparse.ArgumentParser(prog="reconciler exec", add_help=False, exit_on_error=False)
    _define(again)
    again.add_argument("pod", nargs="?", default="")
    try:
        known, unknown = again.parse_known_args(before, namespace=argparse.Namespace())
    except argparse.ArgumentError as exc:
        raise ValueError(str(exc)) from exc
    if unknown:
        raise ValueError(f"unrecognized arguments before --: {' '.join(unknown)}")
    for key, value in vars(known).items():
        if value not in (None, "", False) or not hasattr(args, key):
            setattr(args, key, value)
    return argv


def run_exec(args: argparse.Namespace) -> int:
    try:
        argv = split(args)
    except ValueError as exc:
        return common.fail("exec", str(exc))
    if not args.pod:
        return common.fail("exec", "no pod given: reconciler exec POD -- CMD [ARG...]")
    if not argv:
        return common.fail("exec", "no command given: reconciler exec POD -- CMD [ARG...]")
    if args.tty and not sys.stdin.isatty():
        print("reconciler exec: stdin is not a terminal: running without -t", file=sys.stderr)
        args.tty = False

    def body(executor: protocol.HostExecutor, path: Path) -> int:
        return execute(executor, path, args, argv)

    return common.run_guarded("exec", args, body)


def execute(
    executor: protocol.HostExecutor, path: Path, args: argparse.Namespace, argv: list[str]
) -> int:
    try:
        found = logs.locate(executor, path, args)
    except logs.NotFound as exc:
        return common.fail("exec", str(exc), logs.EXIT_NOT_FOUND)
    except logs.MaybeElsewhere as exc:
        return common.fail("exec", str(exc), common.EXIT_INCOMPLETE)
    except errors.HostError as exc:
        return common.fail("exec", str(exc), common.EXIT_INCOMPLETE)
    where = f"pod {found.pod.namespace}/{found.pod.name} on host {found.target.name}"
    try:
        if args.tty:
            return interactive(found, argv, stdin=args.stdin)
        stdin = sys.stdin.buffer if args.stdin else None
        write = logs.writer(sys.stdout.buffer, sys.stderr.buffer)
        try:
            container = found.container.podman_id
            return containerexec.run(found.socket, found.target.name, container, argv, write,
                                     stdin=stdin)  # fmt: skip
        except logs.OutputClosed:
            logs.quiet_stdout()
            return common.EXIT_OK
    except errors.HostError as exc:
        return common.fail("exec", f"{where}: {exc}", common.EXIT_INCOMPLETE)
    except errors.OperationFailed as exc:
        if exc.status == 404:
            return common.fail("exec", f"{where}: {exc}", logs.EXIT_NOT_FOUND)
        return common.fail("exec", f"{where}: {exc}", EXIT_CANNOT_RUN)


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    """Our terminal in raw mode while the command runs; restored however it ends."""
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def interactive(found: logs.Located, argv: list[str], *, stdin: bool) -> int:
    """Run `argv` on a terminal: our keystrokes to it (with -i), its bytes to our stdout, its
    size kept equal to our window's. Returns its exit code."""
    host, sock_path = found.target.name, found.socket
    exec_id = containerexec.create(sock_path, host, found.container.podman_id, argv,
                                   tty=True, stdin=stdin)  # fmt: skip
    response = containerexec.start(sock_path, host, exec_id, tty=True)
    in_fd, out_fd = sys.stdin.fileno(), sys.stdout.fileno()

    def resize(_signum: int = 0, _frame: FrameType | None = None) -> None:
        size = os.get_terminal_size(out_fd if os.isatty(out_fd) else in_fd)
        with contextlib.suppress(errors.ExecutorError):
            containerexec.resize(sock_path, host, exec_id, size.lines, size.columns)

    previous = signal.signal(signal.SIGWINCH, resize)
    try:
        resize()
        with raw_terminal(in_fd):
            _pump(response, in_fd if stdin else -1, out_fd)
    except OSError as exc:
        raise errors.PodmanFailed(host, "exec", str(exc) or type(exc).__name__) from exc
    finally:
        signal.signal(signal.SIGWINCH, previous)
        response.close()
    code = containerexec.exit_code(sock_path, host, exec_id)
    if code is None:
        raise errors.PodmanFailed(host, "exec", "the terminal closed but the command still runs")
    return code


def _pump(response: apistream.Response, in_fd: int, out_fd: int) -> None:
    """Copy our input to the session and its output to us until the session closes."""
    sock = response.sock
    if response.buffered:
        os.write(out_fd, response.buffered)
        response.buffered = b""
    watched: list[socket.socket | int] = [sock, in_fd] if in_fd >= 0 else [sock]
    while True:
        try:
            ready, _, _ = select.select(watched, [], [])
        except InterruptedError:
            continue  # a SIGWINCH
        if sock in ready:
            data = sock.recv(65536)
            if not data:
                return
            os.write(out_fd, data)
        if in_fd in ready:
            data = os.read(in_fd, 65536)
            if not data:
                watched = [sock]
                continue
            sock.sendall(data)
