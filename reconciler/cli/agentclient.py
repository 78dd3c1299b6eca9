"""The thin client of the warm per-user agent (`cli.agent`): with the agent asked for
(`--agent`, $RECONCILER_AGENT=1), `reconciler apply|diff|get` sends its arguments, directory,
environment and terminal facts to the agent's socket (starting the agent when none answers) and
prints what the command prints there, exiting with its code. It imports only the standard
library: the planner, SSH and YAML stacks stay in the agent.

`run()` gives None whenever the agent cannot run the command (not asked for, not reachable,
refused): `cli.main` then runs it in this process, as without an agent.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import FrameType

from reconciler.cli import agentwire

AGENT_MODULE = "reconciler.cli.agent"  # run as `python -m AGENT_MODULE --dir DIR`
START_TIMEOUT = 60.0  # seconds for a new agent to import everything and listen
ANSWER_TIMEOUT = 30.0  # seconds for an agent to acknowledge a request
EXIT_INTERRUPTED = 130
EXIT_LOST = 4  # the agent went away while the command ran (as a command left incomplete)


class UnavailableError(Exception):
    """The agent cannot run this command; the message says why (for --agent's note)."""


class _StaleError(Exception):
    """The agent runs other code than this client's: it is exiting; start a new one."""


def wanted(argv: Sequence[str], env: Mapping[str, str]) -> tuple[bool, bool]:
    """(run it through the agent, asked for by --agent on the command line)."""
    words = list(argv[: argv.index("--")] if "--" in argv else argv)
    command = next((word for word in words if not word.startswith("-")), None)
    if command not in agentwire.COMMANDS or {"-h", "--help"} & set(words):
        return False, False
    if "--no-agent" in words:
        return False, False
    if "--agent" in words:
        return True, True
    return env.get(agentwire.ENV_AGENT, "").strip().lower() in agentwire.ON, False


def run(argv: Sequence[str], env: Mapping[str, str] | None = None) -> int | None:
    """The command's exit code, run by the agent; None: run it here."""
    env = os.environ if env is None else env
    use, explicit = wanted(argv, env)
    if not use:
        return None
    try:
        return _through_agent(list(argv), env)
    except UnavailableError as exc:
        if explicit:
            print(f"reconciler: the agent did not run it ({exc}); running it here",
                  file=sys.stderr)  # fmt: skip
        return None


def _through_agent(argv: list[str], env: Mapping[str, str]) -> int:
    folder = agentwire.private_dir(agentwire.agent_dir(env), create=True)
    if folder is None:
        raise UnavailableError(f"{agentwire.agent_dir(env)} is not a private directory")
    request = {
        "argv": argv,
        "cwd": os.getcwd(),
        "env": agentwire.forwarded(env),
        "tty": {"stdout": _is_tty(sys.stdout), "stderr": _is_tty(sys.stderr)},
        "columns": _columns(env),
        "fingerprint": agentwire.fingerprint(),
    }
    for _attempt in range(3):
        with _connected(folder, env) as sock:
            try:
                return _exchange(sock, request, folder)
            except _StaleError:
                _wait_gone(folder)
    raise UnavailableError("the agent kept answering that it runs other code")


def control(folder: Path, what: str) -> tuple[int, str] | None:
    """Ask a running agent for `status` or to `stop`: (exit code, its answer); None when
    no agent answers."""
    try:
        sock = _connect(folder / agentwire.SOCKET)
    except OSError:
        return None
    with sock:
        try:
            sock.settimeout(ANSWER_TIMEOUT)
            agentwire.send_json(sock, agentwire.Frame.REQUEST, {"control": what})
            text, code = [], 1
            while True:
                kind, payload = agentwire.receive(sock)
                if kind in (agentwire.Frame.STDOUT, agentwire.Frame.STDERR):
                    text.append(payload.decode("utf-8", "replace"))
                elif kind is agentwire.Frame.EXIT:
                    code = int(agentwire.decode_json(payload))
                    return code, "".join(text)
        except (OSError, agentwire.WireError, ValueError, TypeError):
            return None


def _columns(env: Mapping[str, str]) -> int:
    """The terminal's width as `shutil.get_terminal_size` gives it (without importing it)."""
    if env.get("COLUMNS", "").isdigit() and int(env["COLUMNS"]) > 0:
        return int(env["COLUMNS"])
    try:
        return os.get_terminal_size(sys.__stdout__.fileno() if sys.__stdout__ else 1).columns
    except (AttributeError, ValueError, OSError):
        return 80


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _connect(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        raise
    return sock


@contextlib.contextmanager
def _connected(folder: Path, env: Mapping[str, str]) -> Iterator[socket.socket]:
    """A connection to the agent, started (detached, its own session) when none listens."""
    path = folder / agentwire.SOCKET
    try:
        sock = _connect(path)
    except OSError:
        sock = _start(folder, env)
    with sock:
        yield sock


def _start(folder: Path, env: Mapping[str, str]) -> socket.socket:
    import subprocess  # noqa: PLC0415 (only when an agent is started)

    log = folder / agentwire.LOG
    try:
        with open(log, "ab") as output:
            os.chmod(log, 0o600)
            started = subprocess.Popen(  # this interpreter, fixed arguments
                [sys.executable, "-m", AGENT_MODULE, "--dir", str(folder)],
                stdin=subprocess.DEVNULL, stdout=output, stderr=output, cwd="/",
                env=dict(env), start_new_session=True, close_fds=True,
            )  # fmt: skip
    except OSError as exc:
        raise UnavailableError(f"cannot start the agent: {exc}") from exc
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            return _connect(folder / agentwire.SOCKET)
        except OSError:
            pass
        if started.poll() is not None:  # gone: another agent holds the lock, or it failed
            with contextlib.suppress(OSError):
                return _connect(folder / agentwire.SOCKET)
            raise UnavailableError(f"the agent exited at start (see {log})")
        time.sleep(0.02)
    raise UnavailableError(f"the agent did not listen within {START_TIMEOUT:.0f}s (see {log})")


def _wait_gone(folder: Path) -> None:
    """Until the stale agent no longer accepts (it removes its socket first)."""
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        try:
            _connect(folder / agentwire.SOCKET).close()
        except OSError:
            return
        time.sleep(0.02)


def _exchange(sock: socket.socket, request: dict[str, Any], folder: Path) -> int:
    """Send the command; print its output as it comes; its exit code."""
    started = False
    cancels: list[int] = []

    def cancel(signum: int, _frame: FrameType | None) -> None:
        cancels.append(signum)
        if len(cancels) > 1:  # a second Ctrl-C: leave at once
            print("reconciler: interrupted", file=sys.stderr)
            raise SystemExit(EXIT_INTERRUPTED)
        with contextlib.suppress(OSError):
            agentwire.send(sock, agentwire.Frame.CANCEL)

    sock.settimeout(ANSWER_TIMEOUT)
    try:
        agentwire.send_json(sock, agentwire.Frame.REQUEST, request)
        kind, payload = agentwire.receive(sock)
    except (OSError, agentwire.WireError) as exc:
        raise UnavailableError(f"no answer from the agent: {exc}") from exc
    if kind is agentwire.Frame.REFUSED:
        reason = agentwire.decode_json(payload)
        if reason == agentwire.Refusal.STALE:
            raise _StaleError
        raise UnavailableError(f"the agent refused: {reason}")
    if kind is not agentwire.Frame.QUEUED:
        raise UnavailableError(f"unexpected answer {kind!r}")
    waiting = agentwire.decode_json(payload)
    if waiting:
        print(f"reconciler: waiting for the agent to finish `{waiting}`", file=sys.stderr,
              flush=True)  # fmt: skip
    sock.settimeout(None)
    previous = {}
    with contextlib.suppress(ValueError):  # not the main thread: signals are left alone
        previous = {sig: signal.signal(sig, cancel) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                kind, payload = agentwire.receive(sock)
            except (OSError, agentwire.WireError) as exc:
                if not started and not cancels:
                    raise UnavailableError(f"the agent closed the connection: {exc}") from exc
                print(f"reconciler: the agent stopped before the command finished (see "
                      f"{folder / agentwire.LOG})", file=sys.stderr)  # fmt: skip
                return EXIT_INTERRUPTED if cancels else EXIT_LOST
            if kind is agentwire.Frame.STARTED:
                started = True
            elif kind is agentwire.Frame.STDOUT:
                _write(sys.stdout, payload)
            elif kind is agentwire.Frame.STDERR:
                _write(sys.stderr, payload)
            elif kind is agentwire.Frame.EXIT:
                return int(agentwire.decode_json(payload))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _write(stream: Any, payload: bytes) -> None:
    stream.flush()
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        stream.write(payload.decode("utf-8", "replace"))
        stream.flush()
        return
    buffer.write(payload)
    buffer.flush()
