"""Running `git` for the source: no shell, a clean environment, a timeout on every command.

The one place where git's processes and errors meet the project: a command that overruns its
timeout is killed with its whole process group (ssh, remote helpers) and becomes `GitTimeout`;
a failing one becomes `GitFailed` with git's own message. Also: finding a repository's git dir.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from reconciler.source import errors

ALLOWED_PROTOCOLS = "file:git:http:https:ssh"
"""Transports git may use (GIT_ALLOW_PROTOCOL): never `ext::`, which runs arbitrary commands."""

SHA_RE = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_BAD_BRANCH_RE = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|/\.|\.lock(?:/|$)")
STDERR_LIMIT = 2000


def check_branch(branch: str) -> str:
    """Return `branch` if git would accept `refs/heads/<branch>`; else raise SourceConfigError."""
    if (
        not branch
        or branch.startswith(("-", "/", "."))
        or branch.endswith(("/", "."))
        or branch == "@"
        or _BAD_BRANCH_RE.search(branch)
    ):
        raise errors.SourceConfigError(
            f"branch {branch!r} is not a valid git branch name; use a name like 'main' or "
            "'deploy/production' (no spaces, '..', '~', '^', ':', '?', '*', '[' or '\\')."
        )
    return branch


def check_sha(sha: str) -> str:
    """Return `sha` if it is a full lower-case hex object name; else raise SourceError."""
    if not SHA_RE.match(sha):
        raise errors.SourceError(
            f"{sha!r} is not a full commit id (40 or 64 lower-case hex digits); pass a value "
            "returned by resolve()"
        )
    return sha


def locate_git_dir(path: Path) -> Path:
    """The directory holding HEAD, objects/ and refs/ for a bare or non-bare repository.

    For a linked worktree this is the common git dir (where the branches live). No discovery
    upwards: the configured path itself must be the repository, so a state directory inside some
    other checkout is never mistaken for one.
    """
    path = path.absolute()
    candidate = path
    dotgit = path / ".git"
    if dotgit.is_dir():
        candidate = dotgit
    elif dotgit.is_file():  # a linked worktree or submodule: "gitdir: <path>"
        text = dotgit.read_text(encoding="utf-8", errors="replace").strip()
        if text.startswith("gitdir:"):
            candidate = (path / text.removeprefix("gitdir:").strip()).resolve()
    common = candidate / "commondir"
    if common.is_file():
        candidate = (candidate / common.read_text(encoding="utf-8").strip()).resolve()
    if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
        return candidate
    raise errors.RepositoryNotFound(path)


def environment(ssh_command: str | None = None) -> dict[str, str]:
    """The environment git runs in: inherited, minus every GIT_* variable (a daemon started from
    a git hook inherits GIT_DIR), plus settings that keep it from ever waiting for a human."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(
        LC_ALL="C",
        LANGUAGE="C",
        GIT_TERMINAL_PROMPT="0",
        GIT_ALLOW_PROTOCOL=ALLOWED_PROTOCOLS,
        GIT_SSH_COMMAND=ssh_command or "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes",
    )
    env.pop("SSH_ASKPASS", None)
    return env


MUX_PERSIST = 60
"""Seconds an idle shared SSH connection to the git server stays open (OpenSSH's ControlPersist)."""
MUX_PATH_MAX = 90  # a Unix socket path has room for about 104 bytes; %C expands to 40


def ssh_command(
    ssh_key: Path | None, known_hosts: Path | None, control_dir: Path | None = None
) -> str:
    """GIT_SSH_COMMAND for fetches: batch mode, host keys always verified, optional key/pin file.

    With `control_dir` (a private directory), fetches share one SSH connection to the server
    (OpenSSH's ControlMaster): the first one opens it, verifying the host key, and later ones
    within `MUX_PERSIST` seconds of the last reuse it instead of a new handshake (0.5 s a fetch
    on the test hosts). The shared connection closes itself when idle, or when the server stops
    answering keep-alives.

    git runs this string through `sh`, so every path in it is quoted. No ConnectTimeout: the
    command's own timeout bounds the whole fetch and kills ssh with it.
    """
    parts = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
    if ssh_key is not None:
        parts += ["-i", str(ssh_key), "-o", "IdentitiesOnly=yes"]
    if known_hosts is not None:
        # ssh splits this option's value at blanks (it takes a list): quote it for ssh, too
        pins = f'"{known_hosts}"' if any(c.isspace() for c in str(known_hosts)) else known_hosts
        parts += ["-o", f"UserKnownHostsFile={pins}", "-o", "GlobalKnownHostsFile=/dev/null"]
    socket = f"{control_dir}/%C"
    if control_dir is not None and len(socket) + 40 <= MUX_PATH_MAX and socket.isprintable() \
            and not any(c.isspace() for c in socket):  # fmt: skip
        parts += ["-o", "ControlMaster=auto", "-o", f"ControlPath={socket}",
                  "-o", f"ControlPersist={MUX_PERSIST}", "-o", "ServerAliveInterval=10",
                  "-o", "ServerAliveCountMax=3"]  # fmt: skip
    return " ".join(shlex.quote(part) for part in parts)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _start(
    git_dir: Path | None, args: Sequence[str], env: Mapping[str, str] | None, stdin: bool
) -> subprocess.Popen[bytes]:
    cmd = ["git"]
    if git_dir is not None:
        cmd.append(f"--git-dir={git_dir}")
    cmd += args
    try:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else environment(),
            start_new_session=True,  # its own process group, so a timeout kills ssh too
        )
    except OSError as exc:
        raise errors.GitFailed(
            args[0], f"cannot run git ({exc.strerror}); install git (apt-get install git)"
        ) from exc


def run(
    git_dir: Path | None,
    args: Sequence[str],
    timeout: float,
    env: Mapping[str, str] | None = None,
) -> bytes:
    """Run `git [--git-dir=D] ARGS` and return its stdout; GitTimeout or GitFailed otherwise."""
    returncode, out, err = _run(git_dir, args, timeout, env)
    if returncode != 0:
        raise errors.GitFailed(args[0], stderr_text(err) or f"exit status {returncode}")
    return out


def try_run(git_dir: Path | None, args: Sequence[str], timeout: float) -> bytes | None:
    """Like `run`, but a non-zero exit (a `--verify --quiet` lookup finding nothing) is None."""
    returncode, out, _err = _run(git_dir, args, timeout, None)
    return out if returncode == 0 else None


def _run(
    git_dir: Path | None, args: Sequence[str], timeout: float, env: Mapping[str, str] | None
) -> tuple[int, bytes, bytes]:
    proc = _start(git_dir, args, env, stdin=False)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        _kill_group(proc)
        proc.communicate()
        raise errors.GitTimeout(args[0], timeout) from exc
    finally:
        if proc.poll() is None:  # interrupted by something else: leave no process behind
            _kill_group(proc)
            proc.wait()
    return proc.returncode, out, err


def stderr_text(err: bytes) -> str:
    """git's message, decoded and shortened to something a log line can carry."""
    text = err.decode("utf-8", errors="replace").strip()
    return text if len(text) <= STDERR_LIMIT else text[:STDERR_LIMIT] + " [...]"


class CatFile:
    """A `git cat-file --batch` process reading blobs one by one, killed at a deadline.

    Used as a context manager; `read_into(sha, out)` streams one object's content to `out`.
    """

    def __init__(self, git_dir: Path, timeout: float) -> None:
        self._timeout = timeout
        self._proc = _start(git_dir, ["cat-file", "--batch"], None, stdin=True)
        self._timed_out = threading.Event()
        self._timer = threading.Timer(timeout, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        self._timed_out.set()
        _kill_group(self._proc)

    def __enter__(self) -> CatFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        _kill_group(self._proc)
        self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()

    def _broken(self, sha: str) -> errors.SourceError:
        if self._timed_out.is_set():
            return errors.GitTimeout("cat-file", self._timeout)
        return errors.GitFailed("cat-file", f"the object reader stopped while reading {sha}")

    def read_into(self, sha: str, out: IO[bytes] | None) -> bytes:
        """Write blob `sha` to `out`, or return its content when `out` is None."""
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(sha.encode("ascii") + b"\n")
            stdin.flush()
            header = stdout.readline().split()
        except (OSError, ValueError) as exc:
            raise self._broken(sha) from exc
        if len(header) != 3 or header[1] != b"blob":
            if header[-1:] == [b"missing"]:
                raise errors.GitFailed("cat-file", f"object {sha} is missing from the repository")
            raise self._broken(sha)
        remaining = int(header[2])
        chunks: list[bytes] = []
        while remaining > 0:
            chunk = stdout.read(min(remaining, 1 << 20))
            if not chunk:
                raise self._broken(sha)
            remaining -= len(chunk)
            if out is None:
                chunks.append(chunk)
            else:
                out.write(chunk)
        if stdout.read(1) != b"\n":
            raise self._broken(sha)
        return b"".join(chunks)
