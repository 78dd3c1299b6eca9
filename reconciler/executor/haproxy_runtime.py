"""HAProxy's runtime API (its admin socket), reached over the host's SSH connection: one
command per connection, answers parsed here (`show stat` CSV, `show servers state`, `show info`).

`haproxy_supervisor` uses it to find the running process and to converge a listener's servers
(`commands_for`) without a reload. Commands are built only from `loadbalancer.token()` values
and checked integers; `command()` refuses any line with a newline or a `;` (a command separator).
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncssh

from reconciler.executor import errors, haproxy_config
from reconciler.model import loadbalancer

Streams = tuple[asyncssh.SSHReader[bytes], asyncssh.SSHWriter[bytes]]
Opener = Callable[[], Awaitable[Streams]]
REPLY_MAX = 4 * 1024 * 1024

# srv_admin_state bits (HAProxy's server.h): forced, inherited and resolver maintenance; drain.
ADMIN_MAINT = 0x01 | 0x02 | 0x20
ADMIN_DRAIN = 0x08 | 0x10
OK_REPLIES = ("", "New server registered.", "Server deleted.")


class RuntimeCommandError(errors.ExecutorError):
    """HAProxy answered a runtime API command with an error (its text is in the message)."""

    def __init__(self, command: str, reply: str) -> None:
        super().__init__(f"haproxy runtime API: {command!r}: {reply}")
        self.command = command
        self.reply = reply


class NotRunning(errors.ExecutorError):
    """Nothing answers on the admin socket: HAProxy is not running."""


def check_command(line: str) -> str:
    """`line` when it is one plain command; raises UnsafeTokenError for a newline or `;`."""
    if any(c in line for c in "\n\r;\0") or not line.isprintable():
        raise loadbalancer.UnsafeTokenError(f"not a single runtime API command: {line!r}")
    return line


def _server_ref(listener: str, server: str) -> str:
    return f"{loadbalancer.token(listener)}/{loadbalancer.token(server)}"


def add_server(listener: str, server: loadbalancer.Server) -> list[str]:
    """A new dynamic server: HAProxy adds it in maintenance with checks off; both enabled here
    (drained at once when it is to be draining)."""
    ref = _server_ref(listener, server.name)
    state = loadbalancer.ServerState(server.state)
    return [
        f"add server {loadbalancer.token(listener)}/{haproxy_config.server_line(server)}",
        f"enable health {ref}",
        f"set server {ref} state {state}",
    ]


def set_state(listener: str, server: str, state: str) -> str:
    if state not in ("ready", "drain", "maint"):
        raise loadbalancer.UnsafeTokenError(f"not a server state: {state!r}")
    return f"set server {_server_ref(listener, server)} state {state}"


def set_address(listener: str, server: loadbalancer.Server) -> str:
    address = loadbalancer.address(server.address)
    ref = _server_ref(listener, server.name)
    return f"set server {ref} addr {address} port {haproxy_config.port(server.port)}"


def remove_server(listener: str, server: str) -> list[str]:
    """Out of rotation at once, its remaining connections closed (the pod is gone), deleted."""
    ref = _server_ref(listener, server)
    return [f"set server {ref} state maint", f"shutdown sessions server {ref}", f"del server {ref}"]


def commands_for(
    listener: loadbalancer.Listener, running: Sequence[loadbalancer.ServerStatus]
) -> list[str]:
    """The runtime API commands that turn the `running` servers of `listener` into its desired
    ones (empty when they already match)."""
    name = listener.name
    have = {s.server: s for s in running if s.listener == name}
    out: list[str] = []
    for server in listener.servers:
        current = have.pop(server.name, None)
        if current is None:
            out += add_server(name, server)
            continue
        if (current.address, current.port) != (server.address, server.port):
            out.append(set_address(name, server))
        if current.admin_state != str(server.state):
            out.append(set_state(name, server.name, str(server.state)))
    for gone in sorted(have):
        out += remove_server(name, gone)
    return out


# ----- parsing ---------------------------------------------------------------------------------


def parse_info(text: str) -> dict[str, str]:
    """`show info` as a dict (`Pid`, `Uptime_sec`, ...)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def parse_stat(text: str) -> list[dict[str, str]]:
    """`show stat` (CSV with a `# ` header line) as rows keyed by column name."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("# "):
        return []
    lines[0] = lines[0][2:]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


def parse_admin_states(text: str) -> dict[tuple[str, str], str]:
    """`show servers state`: (listener, server) -> "ready" | "drain" | "maint"."""
    out: dict[tuple[str, str], str] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 7 or line.startswith("#") or not fields[6].isdigit():
            continue
        bits = int(fields[6])
        state = "maint" if bits & ADMIN_MAINT else "drain" if bits & ADMIN_DRAIN else "ready"
        out[(fields[1], fields[3])] = state
    return out


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def servers(stat_text: str, state_text: str) -> tuple[loadbalancer.ServerStatus, ...]:
    """Every server of every listener, from `show stat` and `show servers state` together."""
    admin = parse_admin_states(state_text)
    out: list[loadbalancer.ServerStatus] = []
    for row in parse_stat(stat_text):
        listener, server = row.get("pxname", ""), row.get("svname", "")
        if server in ("FRONTEND", "BACKEND", ""):
            continue
        host, _, port_text = (row.get("addr") or "").rpartition(":")
        item = loadbalancer.ServerStatus(
            listener=listener,
            server=server,
            address=host,
            port=_int(port_text),
            admin_state=admin.get((listener, server), "ready"),
            check=row.get("status", ""),
            sessions=_int(row.get("scur")),
        )
        out.append(item)
    return tuple(sorted(out, key=lambda s: (s.listener, s.server)))


# ----- the client ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuntimeAPI:
    """Commands to one HAProxy's admin socket; `open_socket` opens a fresh stream each time."""

    open_socket: Opener
    timeout: float = 10.0

    async def command(self, line: str) -> str:
        """The reply to one command. Raises NotRunning when the socket does not answer, a
        `HostError` when the SSH connection fails, TimeoutError past `timeout`."""
        check_command(line)
        async with asyncio.timeout(self.timeout):
            try:
                reader, writer = await self.open_socket()
            except errors.OperationFailed as exc:
                raise NotRunning(f"haproxy's admin socket does not answer ({exc.detail})") from exc
            try:
                writer.write(line.encode() + b"\n")
                writer.write_eof()
                reply = await reader.read(REPLY_MAX)
                chunks = [reply]
                while reply:
                    reply = await reader.read(REPLY_MAX)
                    chunks.append(reply)
            finally:
                writer.close()
        return b"".join(chunks).decode(errors="replace")

    async def run(self, line: str) -> None:
        """Run a changing command; raises RuntimeCommandError unless HAProxy says it is done."""
        reply = (await self.command(line)).strip()
        if reply not in OK_REPLIES:
            raise RuntimeCommandError(line, reply.splitlines()[0] if reply else reply)

    async def pid(self) -> int | None:
        """The running HAProxy's pid, or None when nothing answers on the socket."""
        try:
            info = parse_info(await self.command("show info"))
        except NotRunning:
            return None
        return _int(info.get("Pid")) or None

    async def servers(self) -> tuple[loadbalancer.ServerStatus, ...]:
        stat, state = await asyncio.gather(
            self.command("show stat"), self.command("show servers state")
        )
        return servers(stat, state)
