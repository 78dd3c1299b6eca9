"""One host's SSH connection (asyncssh, on the executor's loop thread): strict host-key checking
against a known_hosts file, connect/command timeouts and keepalives; the host's Podman API socket
forwarded to a private local socket; SFTP for the pod's files (`sftpfiles`: no shell ever sees
user data).

`hostsession` opens one per host and keeps it; asyncssh and OS errors become executor errors here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import posixpath
import shlex
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from reconciler.executor import errors, podmanspec, sftpfiles, subpathdirs
from reconciler.model import hoststate

log = logging.getLogger(__name__)

PROBE_MARKER = "--reconciler-probe--"
SOCKET_MARKER = "--reconciler-socket--"
PROBE = (
    f"printf '%s\\n%s\\n%s\\n' {PROBE_MARKER} "
    '"${XDG_RUNTIME_DIR:-/run/user/$(id -u)}" "$HOME"; command -v podman; '
    'test -S "${XDG_RUNTIME_DIR:-/run/user/$(id -u)}/podman/podman.sock" && '
    f"echo {SOCKET_MARKER}; true"
)
"""The one command the executor runs through the remote (POSIX) shell: fixed text, no user data.
The marker skips anything a chatty shell start-up file prints first; SOCKET_MARKER says that
Podman's socket is at the default place (so no SFTP session is needed to look for it)."""
DEFAULT_PODMAN_SOCKET = "{runtime_dir}/podman/podman.sock"
PROC_MARKER = "--reconciler-proc--"
PROC_STATS = (
    f"printf '%s\\n' {PROC_MARKER}; getconf CLK_TCK; getconf PAGESIZE; cat /proc/uptime; "
    "cat /proc/[0-9]*/stat 2>/dev/null; true"
)
"""The fixed command (no user data) that `hostmetrics` reads container CPU time and memory
with on hosts where Podman has no stats (cgroup v1)."""


@dataclass(frozen=True)
class SSHSettings:
    """How the executor reaches hosts; the same for every host (per-host data is the target)."""

    known_hosts: Path
    key_file: Path
    connect_timeout: float = 10.0
    command_timeout: float = 60.0
    keepalive_interval: float = 10.0
    keepalive_count_max: int = 3
    podman_socket: str = DEFAULT_PODMAN_SOCKET  # {runtime_dir} and {home} are filled in

    def check(self) -> None:
        for what, path in (("known_hosts file", self.known_hosts), ("SSH key", self.key_file)):
            if not path.is_file():
                raise errors.ExecutorConfigError(
                    f"{what} {path} does not exist: create it (ssh-keyscan for known_hosts, "
                    "ssh-keygen for the key) or point the executor at the right file"
                )


def _address(target: hoststate.HostTarget) -> str:
    return f"{target.user}@{target.address}:{target.port}"


def parse_probe(stdout: str) -> tuple[str, str, bool]:
    """(runtime dir, home, podman found) from the output of `PROBE`."""
    lines = [line for line in stdout.splitlines() if line.strip() != SOCKET_MARKER]
    if PROBE_MARKER in lines:
        lines = lines[lines.index(PROBE_MARKER) + 1 :]
    runtime_dir, home = [*lines, "", ""][:2]
    return runtime_dir.strip(), home.strip(), len(lines) >= 3 and bool(lines[2].strip())


def default_socket_found(stdout: str) -> bool:
    """Whether the output of `PROBE` says Podman's socket is at DEFAULT_PODMAN_SOCKET."""
    return SOCKET_MARKER in (line.strip() for line in stdout.splitlines())


class _OfferedKey(asyncssh.SSHClient):
    """Remembers the host key a server offered that the known_hosts file does not trust (asyncssh
    asks only then; returning False keeps the refusal), for the error to show its fingerprint."""

    def __init__(self) -> None:
        self.key: asyncssh.SSHKey | None = None

    def validate_host_public_key(self, host: str, addr: str, port: int,
                                 key: asyncssh.SSHKey) -> bool:  # fmt: skip
        self.key = key
        return False


def _fingerprint(key: asyncssh.SSHKey) -> str:
    """`ssh-ed25519 SHA256:...`, as `ssh-keygen -lf` and OpenSSH's warnings show a key."""
    return f"{key.get_algorithm()} {key.get_fingerprint('sha256')}"


def _expected(target: hoststate.HostTarget, known_hosts: Path) -> tuple[str, ...]:
    """The fingerprints the known_hosts file pins for `target` (read again, on failure only)."""
    try:
        pinned = asyncssh.read_known_hosts(str(known_hosts))
        keys = pinned.match(target.address, "", target.port)[0]  # "": asyncssh parses an IP
    except (OSError, ValueError, asyncssh.Error):
        return ()
    return tuple(_fingerprint(key) for key in keys)


def translate(
    target: hoststate.HostTarget,
    settings: SSHSettings,
    exc: BaseException,
    timeout: float | None = None,
    offered: asyncssh.SSHKey | None = None,
) -> errors.HostError:
    """The executor error for an asyncssh/OS/timeout failure while talking to `target`;
    `offered` is the host key the server offered, when the known_hosts file refused it."""
    where = _address(target)
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return errors.HostKeyMismatch(
            target.name, where, settings.known_hosts, str(exc.reason),
            offered=_fingerprint(offered) if offered is not None else "",
            expected=_expected(target, settings.known_hosts),
        )  # fmt: skip
    if isinstance(exc, asyncssh.PermissionDenied):
        return errors.HostAuthFailed(target.name, target.user, settings.key_file)
    if isinstance(exc, TimeoutError):
        return errors.HostUnreachable(
            target.name,
            where,
            f"no answer within {timeout or settings.connect_timeout:g}s",
            timed_out=True,
        )
    if isinstance(exc, asyncssh.Error):
        return errors.HostUnreachable(target.name, where, f"SSH: {exc.reason}")
    if isinstance(exc, OSError):
        detail = exc.strerror or str(exc) or type(exc).__name__
        return errors.HostUnreachable(target.name, where, detail)
    return errors.HostUnreachable(target.name, where, f"{type(exc).__name__}: {exc}")


class HostConnection:
    """An open, verified SSH connection to one host with its forwarded Podman socket."""

    def __init__(
        self,
        target: hoststate.HostTarget,
        settings: SSHSettings,
        conn: asyncssh.SSHClientConnection,
        *,
        sftp: asyncssh.SFTPClient | None,
        home: str,
        remote_socket: str,
        local_socket: str,
    ) -> None:
        self.target = target
        self.settings = settings
        self._conn = conn
        self._sftp = sftp
        self.home = home
        self.state_dir = posixpath.join(home, podmanspec.STATE_DIR)
        self.remote_socket = remote_socket
        self.local_socket = local_socket
        self._fs_lock = asyncio.Lock()
        self._sftp_lock = asyncio.Lock()
        self._state_dir_ready = False

    async def _sftp_client(self) -> asyncssh.SFTPClient:
        """The connection's SFTP session, started on first use: a pass that changes no file
        (a no-op) opens none."""
        async with self._sftp_lock:
            if self._sftp is None:
                self._sftp = await self._conn.start_sftp_client()
            return self._sftp

    @classmethod
    async def open(
        cls, target: hoststate.HostTarget, settings: SSHSettings, local_socket: str
    ) -> HostConnection:
        """Connect, verify the host key, find Podman's API socket and forward it locally."""
        offered = _OfferedKey()
        try:
            conn = await asyncssh.connect(
                target.address,
                target.port,
                username=target.user,
                known_hosts=str(settings.known_hosts),
                client_keys=[str(settings.key_file)],
                connect_timeout=settings.connect_timeout,
                keepalive_interval=settings.keepalive_interval,
                keepalive_count_max=settings.keepalive_count_max,
                config=None,
                agent_path=None,
                password_auth=False,
                kbdint_auth=False,
                client_factory=lambda: offered,
            )
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            raise translate(target, settings, exc, offered=offered.key) from exc
        try:
            return await cls._prepare(target, settings, conn, local_socket)
        except BaseException:
            conn.abort()
            raise

    @classmethod
    async def _prepare(
        cls,
        target: hoststate.HostTarget,
        settings: SSHSettings,
        conn: asyncssh.SSHClientConnection,
        local_socket: str,
    ) -> HostConnection:
        try:
            async with asyncio.timeout(settings.command_timeout):
                probe = await conn.run(PROBE, check=False, stdin=asyncssh.DEVNULL)
                output = str(probe.stdout or "")
                runtime_dir, home, has_podman = parse_probe(output)
                if not has_podman:
                    raise errors.PodmanMissing(target.name, target.user)
                sftp: asyncssh.SFTPClient | None = None
                if not home.startswith("/"):
                    sftp = await conn.start_sftp_client()
                    home = await sftp.realpath(".")
                remote_socket = settings.podman_socket.format(runtime_dir=runtime_dir, home=home)
                found = (settings.podman_socket == DEFAULT_PODMAN_SOCKET
                         and default_socket_found(output))  # fmt: skip
                if not found:  # another place: looked for over SFTP
                    sftp = sftp or await conn.start_sftp_client()
                    if not await sftp.exists(remote_socket):
                        raise errors.PodmanUnavailable(
                            target.name, target.user, remote_socket, "no such socket"
                        )
                await conn.forward_local_path(local_socket, remote_socket)
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            raise translate(target, settings, exc, settings.command_timeout) from exc
        log.debug("host %s: connected; podman socket %s", target.name, remote_socket)
        return cls(
            target,
            settings,
            conn,
            sftp=sftp,
            home=home,
            remote_socket=remote_socket,
            local_socket=local_socket,
        )

    @property
    def closed(self) -> bool:
        return bool(self._conn.is_closed())

    async def close(self, *, graceful: bool = True) -> None:
        """Close the connection; `graceful=False` drops it at once (a host that stopped
        answering would make a polite goodbye wait for the timeout)."""
        if not graceful:
            self._conn.abort()
            return
        self._conn.close()  # the goodbye is sent; its answer is not waited for

    async def open_loopback(
        self, port: int
    ) -> tuple[asyncssh.SSHReader[bytes], asyncssh.SSHWriter[bytes]]:
        """A TCP connection to 127.0.0.1:`port` on the host, through this SSH connection (a
        direct-tcpip channel: sshd must allow TCP forwarding). The caller bounds the time.

        Raises `errors.OperationFailed` when the host refuses (e.g. "connection refused"), a
        `HostError` when the SSH connection itself fails."""
        try:
            return await self._conn.open_connection("127.0.0.1", port, encoding=None)
        except asyncssh.ChannelOpenError as exc:
            reason = str(exc.reason or "channel refused").strip().rstrip(".")
            raise errors.OperationFailed(f"connect to 127.0.0.1:{port}", reason) from exc
        except (OSError, asyncssh.Error) as exc:
            raise translate(self.target, self.settings, exc) from exc

    async def open_unix(
        self, path: str
    ) -> tuple[asyncssh.SSHReader[bytes], asyncssh.SSHWriter[bytes]]:
        """A connection to the host's Unix socket `path` (a direct-streamlocal channel), as
        `open_loopback`: `errors.OperationFailed` when the host refuses, `HostError` below."""
        try:
            return await self._conn.open_unix_connection(path, encoding=None)
        except asyncssh.ChannelOpenError as exc:
            reason = str(exc.reason or "channel refused").strip().rstrip(".")
            raise errors.OperationFailed(f"connect to {path}", reason) from exc
        except (OSError, asyncssh.Error) as exc:
            raise translate(self.target, self.settings, exc) from exc

    async def run_argv(self, argv: Sequence[str], timeout: float) -> tuple[int, str]:
        """Run a fixed program (every argument shell-quoted; callers pass no user data) and
        return its exit status and its stderr (stdout is discarded)."""
        command = shlex.join(argv)
        try:
            async with asyncio.timeout(timeout):
                done = await self._conn.run(command, check=False, stdin=asyncssh.DEVNULL)
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            raise translate(self.target, self.settings, exc, timeout) from exc
        status = done.exit_status if done.exit_status is not None else 255
        return status, str(done.stderr or "")

    async def read_file(self, relative: str) -> bytes | None:
        """A file below the state dir (None when it does not exist)."""
        async with self._files(f"reading {relative}") as sftp:
            return await sftpfiles.read(sftp, self._abs(relative))

    @contextlib.asynccontextmanager
    async def _files(self, operation: str) -> AsyncIterator[asyncssh.SFTPClient]:
        """Serialize file-tree changes on this host, bound their time, translate errors; the
        connection's SFTP session (started on first use) for them."""
        try:
            async with self._fs_lock, asyncio.timeout(self.settings.command_timeout):
                yield await self._sftp_client()
        except asyncssh.SFTPError as exc:
            raise errors.OperationFailed(operation, str(exc.reason)) from exc
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            raise translate(self.target, self.settings, exc, self.settings.command_timeout) from exc

    def _abs(self, relative: str) -> str:
        return posixpath.join(self.state_dir, relative)

    async def write_files(self, files: Sequence[hoststate.HostFile]) -> int:
        """Write each file below the state dir (`sftpfiles.write`: atomic, each with its own
        mode; the state dir itself made private first). Returns the number written."""
        async with self._files("writing the pod's files") as sftp:
            if files and not self._state_dir_ready:
                await sftpfiles.make_state_dir(sftp, self.state_dir)
                self._state_dir_ready = True
            await sftpfiles.write(sftp, self.state_dir, files)
        return len(files)

    async def overwrite_file(self, relative: str, content: bytes) -> bool:
        """`sftpfiles.overwrite` below the state dir: in place, False when it does not exist."""
        async with self._files(f"rewriting {relative}") as sftp:
            return await sftpfiles.overwrite(sftp, self._abs(posixpath.normpath(relative)), content)

    async def make_subpath(self, base: str, relative: str, mode: int | None) -> str:
        """`subpathdirs.make` on this host: a volume's subPath made below its mount point."""
        async with self._files(f"making subPath {relative}") as sftp:
            return await subpathdirs.make(sftp, base, relative, mode)

    async def read_proc_stats(self) -> str:
        """The output of `PROC_STATS` (see `hostmetrics.parse_proc`)."""
        try:
            async with asyncio.timeout(self.settings.command_timeout):
                done = await self._conn.run(PROC_STATS, check=False, stdin=asyncssh.DEVNULL)
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            raise translate(self.target, self.settings, exc, self.settings.command_timeout) from exc
        return str(done.stdout or "")

    async def realpath(self, path: str) -> str | None:
        """The host's canonical path for `path` (symlinks resolved); None if it does not exist."""
        try:
            async with asyncio.timeout(self.settings.command_timeout):
                sftp = await self._sftp_client()
                if not await sftp.exists(path):
                    return None
                return str(await sftp.realpath(path))
        except asyncssh.SFTPError as exc:
            raise errors.OperationFailed(f"resolving {path}", str(exc.reason)) from exc
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            raise translate(self.target, self.settings, exc, self.settings.command_timeout) from exc

    async def remove_dirs(self, dirs: Sequence[str]) -> int:
        """Remove each directory tree below the state dir, then its empty parents. Returns the
        number of trees that existed."""
        async with self._files("removing the pod's files") as sftp:
            return await sftpfiles.remove_trees(sftp, self.state_dir, dirs)
