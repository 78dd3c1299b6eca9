"""What the warm per-user agent (`cli.agent`) and its thin client (`cli.agentclient`) share:
the private directory and its socket, the frames they exchange, the environment a command
carries over, and the fingerprint of the installed code. Standard library only: the client
imports this and nothing heavier.
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import struct
import sys
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

import reconciler

ENV_DIR = "RECONCILER_AGENT_DIR"  # where the socket, lock and log live (default below)
ENV_AGENT = "RECONCILER_AGENT"  # 1/true/yes/on: run apply, diff and get through the agent
ENV_IDLE = "RECONCILER_AGENT_IDLE"  # seconds an agent waits for a command before it exits
DEFAULT_IDLE = 600.0
SOCKET = "agent.sock"
LOCK = "agent.lock"
LOG = "agent.log"
COMMANDS = frozenset({"apply", "diff", "get"})
"""The commands the agent runs; every other one runs in the client's own process."""
ON = frozenset({"1", "true", "yes", "on"})
FORWARDED = re.compile(
    r"RECONCILER_.*|SOPS_.*|GIT_.*|LC_.*|XDG_.*|HOME|USER|LOGNAME|PATH|LANG|TZ|TMPDIR|TERM"
    r"|NO_COLOR|COLUMNS|SSH_AUTH_SOCK"
)
"""The client's variables a command sees in the agent (the agent's own are hidden): the
reconciler's settings, SOPS, git's, locale, home and paths."""
_HEADER = struct.Struct(">cI")
MAX_FRAME = 64 * 1024 * 1024


class Frame(StrEnum):
    REQUEST = "R"  # client: the command (JSON)
    CANCEL = "C"  # client: Ctrl-C or SIGTERM
    QUEUED = "Q"  # agent: received; waits for the command before it when one runs (JSON)
    REFUSED = "N"  # agent: will not run it (JSON reason): the client runs it itself
    STARTED = "S"  # agent: the command runs from here on
    STDOUT = "O"
    STDERR = "E"
    EXIT = "X"  # agent: the exit code (JSON)


class Refusal(StrEnum):
    STALE = "stale"  # the agent's code differs from the client's: it exits
    UNSUPPORTED = "unsupported"  # not a command the agent runs
    BAD_REQUEST = "bad-request"
    CLOSING = "closing"  # idle time over or stopping


class WireError(Exception):
    """The other side closed the connection, or sent what is not a frame."""


def agent_dir(env: Mapping[str, str] | None = None) -> Path:
    """$RECONCILER_AGENT_DIR, else $XDG_RUNTIME_DIR/reconciler, else ~/.cache/reconciler."""
    env = os.environ if env is None else env
    if env.get(ENV_DIR):
        return Path(env[ENV_DIR])
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "reconciler"
    return Path(env.get("HOME") or Path.home()) / ".cache" / "reconciler"


def private_dir(path: Path, *, create: bool) -> Path | None:
    """`path` when it is a directory of this user's that no one else may enter (made, mode
    0700, when `create`), else None: a socket there is never reached by another user."""
    if create:
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError:
            return None
    try:
        found = path.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid():
        return None
    if found.st_mode & 0o077:
        return None
    return path


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket (SO_PEERCRED)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def fingerprint() -> str:
    """The installed code's identity: version, interpreter, and the newest change time and
    count of the package's files (a few milliseconds): an agent running other code is stale."""
    newest, count = _newest(Path(reconciler.__file__).parent)
    return f"{reconciler.__version__}:{sys.executable}:{newest}:{count}"


def _newest(folder: Path) -> tuple[int, int]:
    newest, count = 0, 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0, 0
    for entry in entries:
        if entry.name == "__pycache__":
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                found, files = _newest(Path(entry.path))
            else:
                found, files = entry.stat(follow_symlinks=False).st_mtime_ns, 1
        except OSError:
            continue
        newest, count = max(newest, found), count + files
    return newest, count


def forwarded(env: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in env.items() if FORWARDED.fullmatch(key)}


def send(sock: socket.socket, kind: Frame, payload: bytes = b"") -> None:
    sock.sendall(_HEADER.pack(kind.value.encode(), len(payload)) + payload)


def send_json(sock: socket.socket, kind: Frame, value: Any) -> None:
    send(sock, kind, json.dumps(value).encode())


def receive(sock: socket.socket) -> tuple[Frame, bytes]:
    """The next frame. Raises WireError at the end of the stream or on a malformed frame."""
    head = _exactly(sock, _HEADER.size)
    code, size = _HEADER.unpack(head)
    try:
        kind = Frame(code.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"unknown frame {code!r}") from exc
    if size > MAX_FRAME:
        raise WireError(f"frame of {size} bytes")
    return kind, _exactly(sock, size)


def decode_json(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError("a frame that is not JSON") from exc


def _exactly(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise WireError("connection closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)

