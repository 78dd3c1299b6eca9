"""The text of one host's `haproxy.cfg`, rendered from a `loadbalancer.Config` (pure, no I/O).

`haproxy_supervisor` writes it to the host and starts or reloads HAProxy with it. Every name and
address goes through `loadbalancer.token()`/`address()` here, so nothing a manifest says can add a
line, a comment or a directive; ports are checked integers. The first line carries a digest of
the listeners (without their servers): a change there needs a reload, a server change does not.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from dataclasses import dataclass

from reconciler.model import loadbalancer

LB_DIR = "lb"  # below the user's reconciler state dir (~/.local/share/reconciler)
CONFIG_FILE = f"{LB_DIR}/haproxy.cfg"
PID_FILE = f"{LB_DIR}/haproxy.pid"
ADMIN_SOCKET = f"{LB_DIR}/admin.sock"
HEADER = "# reconciler: per-host load balancer; listeners sha256="
SAFE_PATH = re.compile(r"/[A-Za-z0-9._/+-]{1,200}")
SOCKET_PATH_MAX = 107  # sun_path is 108 bytes with its NUL
CHECK = "check inter 1s fall 2 rise 1"
HARD_STOP_AFTER = "5m"  # an old process (after a reload) ends its last connections by then

GLOBAL = """\
global
    stats socket {socket} mode 600 level admin expose-fd listeners
    stats timeout 10s
    hard-stop-after {hard_stop}

defaults
    mode tcp
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    timeout check 1s
    option redispatch 1
    retries 3
"""


@dataclass(frozen=True)
class Paths:
    """Absolute paths of the load balancer's files on one host (all in the user's state dir)."""

    config: str
    pidfile: str
    socket: str

    @classmethod
    def below(cls, state_dir: str) -> Paths:
        """The paths below `state_dir` (the host's answer: checked, never trusted blindly)."""
        paths = cls(
            config=_safe_path(posixpath.join(state_dir, CONFIG_FILE)),
            pidfile=_safe_path(posixpath.join(state_dir, PID_FILE)),
            socket=_safe_path(posixpath.join(state_dir, ADMIN_SOCKET)),
        )
        if len(paths.socket.encode()) > SOCKET_PATH_MAX:
            raise loadbalancer.UnsafeTokenError(
                f"the admin socket path {paths.socket!r} is longer than a Unix socket path "
                f"may be ({SOCKET_PATH_MAX} bytes): give the host user a shorter home"
            )
        return paths


def _safe_path(path: str) -> str:
    if not SAFE_PATH.fullmatch(path) or "/../" in path or path.endswith("/.."):
        raise loadbalancer.UnsafeTokenError(f"not a safe load-balancer file path: {path!r}")
    return path


def port(value: int) -> int:
    """`value` when it is a TCP port number (bool and other types refused); raises otherwise."""
    if type(value) is not int or not 1 <= value <= 65535:
        raise loadbalancer.UnsafeTokenError(f"not a TCP port: {value!r}")
    return value


def server_line(server: loadbalancer.Server) -> str:
    """`NAME ADDR:PORT check ...`: the arguments of a `server` line, also those of the runtime
    API's `add server` (after the `<listener>/` prefix)."""
    name = loadbalancer.token(server.name)
    where = f"{loadbalancer.address(server.address)}:{port(server.port)}"
    return f"{name} {where} {CHECK}"


def listeners_digest(config: loadbalancer.Config) -> str:
    """A digest of what needs a reload to change: listener names, ports and modes."""
    shape = [
        [loadbalancer.token(item.name), [port(p) for p in item.ports], str(item.mode)]
        + (["source"] if item.affinity else [])  # the balance algorithm: a reload changes it
        + ([[_bind(item, p) for p in item.ports]] if item.address_ports else [])
        for item in config.listeners
    ]
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()


def digest_of(text: str) -> str | None:
    """The listeners digest recorded in a rendered configuration's first line, if any."""
    first = text.split("\n", 1)[0]
    return first[len(HEADER) :] if first.startswith(HEADER) else None


def render(config: loadbalancer.Config, paths: Paths) -> str:
    """The whole `haproxy.cfg` for `config`. Drained servers are rendered `disabled` (no new
    connection ever reaches them after a reload); the supervisor then sets them to drain.

    Raises `loadbalancer.UnsafeTokenError` for any value that is not a plain token."""
    lines = [HEADER + listeners_digest(config), ""]
    lines.append(GLOBAL.format(socket=_safe_path(paths.socket), hard_stop=HARD_STOP_AFTER))
    seen: set[str] = set()
    for item in config.listeners:
        name = loadbalancer.token(item.name)
        if name in seen:
            raise loadbalancer.UnsafeTokenError(f"listener {name!r} appears twice")
        seen.add(name)
        lines.extend(_listener(item))
    return "\n".join(lines) + "\n"


def _bind(item: loadbalancer.Listener, number: int) -> str:
    """`:PORT` (every address of the host), or `ADDRESS:PORT` for a port bound on the
    Service's cluster IP only."""
    where = item.bind(number)
    if not where:
        return f":{port(number)}"
    checked = loadbalancer.address(where)
    return f"[{checked}]:{port(number)}" if ":" in checked else f"{checked}:{port(number)}"


def _listener(item: loadbalancer.Listener) -> list[str]:
    mode = loadbalancer.Mode(item.mode)
    if not item.ports:
        raise loadbalancer.UnsafeTokenError(f"listener {item.name!r} has no port")
    out = [f"listen {loadbalancer.token(item.name)}"]
    out += [f"    bind {_bind(item, p)}" for p in item.ports]
    # sessionAffinity ClientIP: a consistent hash of the client address (dynamic servers need a
    # consistent hash); otherwise round robin.
    balance = ["    balance source", "    hash-type consistent"] if item.affinity else [
        "    balance roundrobin"]  # fmt: skip
    out += [f"    mode {mode}", *balance]
    if mode is loadbalancer.Mode.HTTP:
        out += [
            "    option http-server-close",
            # on a reload, an idle kept-alive client gets its next answer with
            # `Connection: close` instead of a closed connection it may be writing to
            "    option idle-close-on-response",
            "    retry-on conn-failure empty-response response-timeout",
        ]
    names: set[str] = set()
    for server in item.servers:
        if server.name in names:
            raise loadbalancer.UnsafeTokenError(
                f"server {server.name!r} appears twice in listener {item.name!r}"
            )
        names.add(server.name)
        ready = loadbalancer.ServerState(server.state) is loadbalancer.ServerState.READY
        out.append(f"    server {server_line(server)}" + ("" if ready else " disabled"))
    out.append("")
    return out
