"""The per-host load balancer (HAProxy, one per host, as kube-proxy is one per node) as data.

`plan.endpoints` computes one `Config` per host from the Services and the Ready pods; the
executor (`HostExecutor.lb_apply`) makes the host's HAProxy serve it and reads back a `Status`
per host. Every name here is a `token` (letters, digits, `.`, `_`, `-`): nothing that reaches
HAProxy's configuration or its runtime API can carry a space, a quote, `#` or a newline.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
ADDRESS = re.compile(r"[0-9A-Za-z][0-9A-Za-z.:-]{0,252}")


class UnsafeTokenError(ValueError):
    """A value that would reach HAProxy is not a plain token (a bug upstream: names are
    validated by the manifests layer long before this)."""


def token(value: str) -> str:
    """`value` itself when it is a safe HAProxy name; raises UnsafeTokenError otherwise."""
    if not TOKEN.fullmatch(value):
        raise UnsafeTokenError(f"not a safe load-balancer name: {value!r}")
    return value


def address(value: str) -> str:
    """`value` itself when it is a plain IPv4/IPv6 address or DNS name; raises otherwise."""
    if not ADDRESS.fullmatch(value):
        raise UnsafeTokenError(f"not a safe load-balancer address: {value!r}")
    return value


class Mode(enum.StrEnum):
    TCP = "tcp"  # L4, as kube-proxy: a connection stays on one backend
    HTTP = "http"  # L7: each request is balanced (appProtocol http, or port name http/http-*)


class ServerState(enum.StrEnum):
    READY = "ready"  # in rotation
    DRAIN = "drain"  # no new requests; in-flight ones finish (the pod is about to stop)


@dataclass(frozen=True)
class Server:
    """One endpoint: a Ready pod's published port, on whichever host the pod runs."""

    name: str  # token, unique in its listener: "<pod>" (namespace is the listener's)
    address: str  # the pod's host address (Host spec.address)
    port: int  # the host port publishing the pod's target port
    state: ServerState = ServerState.READY
    host: str = ""  # the Host name the pod runs on
    pod: str = ""  # the pod name


@dataclass(frozen=True)
class Listener:
    """One Service port: HAProxy binds `ports` (the Service port, and the nodePort for a
    NodePort Service) on every address of the host, those in `address_ports` on `address` (the
    Service's cluster IP) only, and balances over `servers`."""

    name: str  # token, unique per host: "<namespace>.<service>.<port>"
    namespace: str
    service: str
    port_name: str
    ports: tuple[int, ...]
    mode: Mode = Mode.TCP
    servers: tuple[Server, ...] = ()
    affinity: bool = False  # sessionAffinity ClientIP: balance by a hash of the client address
    address: str = ""  # the Service's cluster IP (model.clusterips)
    address_ports: tuple[int, ...] = ()  # the ports bound on `address` only (shared ports)

    def bind(self, port: int) -> str:
        """Where `port` is bound: "ADDRESS" for a port of `address_ports`, else "" (every
        address of the host)."""
        return self.address if self.address and port in self.address_ports else ""


@dataclass(frozen=True)
class HostsSection:
    """The names of the headless Services for one pod's /etc/hosts (`plan.headless`): `text`
    replaces what follows the marker line in the file at `path` (below the state dir)."""

    path: str
    text: str
    pod_id: str = ""  # the podman pod's id: a pod made again under its name has a new file


@dataclass(frozen=True)
class Config:
    """Everything one host's HAProxy serves. Listeners are sorted by name, servers by name;
    `hosts_files`: the /etc/hosts sections of the pods on the host (not HAProxy's)."""

    listeners: tuple[Listener, ...] = ()
    hosts_files: tuple[HostsSection, ...] = ()

    def listener(self, name: str) -> Listener | None:
        for item in self.listeners:
            if item.name == name:
                return item
        return None


@dataclass(frozen=True)
class ServerStatus:
    """One server as the host's HAProxy reports it (runtime API `show stat`)."""

    listener: str
    server: str
    address: str
    port: int
    admin_state: str  # "ready" | "drain" | "maint"
    check: str  # "UP" | "DOWN" | "no check" | ... (HAProxy's status column)
    sessions: int  # current sessions (in-flight connections)


@dataclass(frozen=True)
class Status:
    """One host's load balancer: running or why not, and its servers."""

    host: str
    running: bool
    error: str = ""  # why it does not run, or (running) which Service ports the host cannot bind
    servers: tuple[ServerStatus, ...] = ()
    started: bool = False  # it was not running and the executor started it in this call
    reloaded: bool = False  # its listeners changed and it was reloaded in this call
    pid: int = 0

    def sessions(self, listener: str, server: str) -> int:
        return sum(
            s.sessions for s in self.servers if s.listener == listener and s.server == server
        )
