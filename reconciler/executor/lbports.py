"""Which listening ports of a load-balancer configuration one host lets its rootless HAProxy bind.

A port below 1024 binds only where the host lowered `net.ipv4.ip_unprivileged_port_start`
(scripts/bootstrap-host.sh does, to 80 by default). `haproxy_supervisor.apply` serves what the host
allows and reports the rest in the status' `error`: one Service on port 80 never stops the others.
The host's value is read only when some listener asks for a port below 1024, and at most once
per `REREAD` seconds on one connection (the daemon applies every pass). Likewise a port bound on
a Service's cluster IP only binds where that address is local (the host routes the service CIDR
to lo: scripts/bootstrap-host.sh --service-cidr); the local routes are read only then.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from reconciler.model import loadbalancer

T = TypeVar("T")


class Runner(Protocol):
    async def run_argv(self, argv: Sequence[str], timeout: float) -> tuple[int, str]: ...


PRIVILEGED = 1024
"""Linux's default `ip_unprivileged_port_start`: every port from here on binds without it."""
SYSCTL = "net.ipv4.ip_unprivileged_port_start"
READ = ("sh", "-c", "cat /proc/sys/net/ipv4/ip_unprivileged_port_start >&2")
"""A fixed command (no user data): the value on stderr, the one stream `run_argv` returns."""
REREAD = 30.0
"""Seconds a value read on one connection is used before it is read again (a reconnect reads
it at once): an administrator's change is seen within that."""
_READ: weakref.WeakKeyDictionary[Runner, tuple[float, int]] = weakref.WeakKeyDictionary()
ROUTES = ("sh", "-c", "PATH=$PATH:/usr/sbin:/sbin; "
          "{ ip -o route show table local; ip -o -6 route show table local; } >&2 2>&1; true")
"""A fixed command: the host's local routes (`local 10.96.0.0/12 dev lo ...`), on stderr."""
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_ROUTES: weakref.WeakKeyDictionary[Runner, tuple[float, tuple[Network, ...]]] = (
    weakref.WeakKeyDictionary()
)


def lowest(config: loadbalancer.Config) -> int:
    """The lowest port any listener binds (65536 with none)."""
    return min((p for item in config.listeners for p in item.ports), default=65536)


def parse(status: int, text: str) -> int:
    """The host's first unprivileged port from `READ`'s answer; 1024 when it cannot be read
    (an old kernel has no such setting, and then only root binds below 1024)."""
    value = text.strip()
    if status != 0 or not value.isdigit():
        return PRIVILEGED
    return int(value)


async def first_unprivileged(
    connection: Runner, timeout: float, clock: Callable[[], float] = time.monotonic
) -> int:
    """The host's value, read on `connection` at most once per REREAD seconds."""
    return await _cached(_READ, connection, READ, parse, timeout, clock=clock)


def split(config: loadbalancer.Config, floor: int) -> tuple[loadbalancer.Config, tuple[str, ...]]:
    """`config` without the ports below `floor` (a listener left with none is left out), and
    one sentence per port left out."""
    kept: list[loadbalancer.Listener] = []
    refused: list[str] = []
    for item in config.listeners:
        ports = tuple(p for p in item.ports if p >= floor)
        refused += [refusal(item, p, floor) for p in item.ports if p < floor]
        if ports == item.ports:
            kept.append(item)
        elif ports:
            kept.append(dataclasses.replace(item, ports=ports))
    return loadbalancer.Config(tuple(kept)), tuple(refused)


def refusal(item: loadbalancer.Listener, port: int, floor: int) -> str:
    return (
        f"Service {item.namespace}/{item.service} port {port} is not served on this host: "
        f"its {SYSCTL} is {floor}, so a rootless HAProxy cannot bind it (as root on the host: "
        f"scripts/bootstrap-host.sh --unprivileged-port-start {port}, or sysctl -w "
        f"{SYSCTL}={port})"
    )


def local_networks(status: int, text: str) -> tuple[Network, ...]:
    """The networks of `ROUTES`' answer that are the host's own addresses (none when it fails)."""
    if status != 0:
        return ()
    found: list[Network] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "local":
            try:
                found.append(ipaddress.ip_network(parts[1], strict=False))
            except ValueError:
                continue
    return tuple(found)


async def routed(
    connection: Runner, timeout: float, clock: Callable[[], float] = time.monotonic
) -> tuple[Network, ...]:
    """The host's local networks, read on `connection` at most once per REREAD seconds."""
    return await _cached(_ROUTES, connection, ROUTES, local_networks, timeout, clock=clock)


async def _cached(
    cache: weakref.WeakKeyDictionary[Runner, tuple[float, T]],
    connection: Runner,
    argv: Sequence[str],
    parse_answer: Callable[[int, str], T],
    timeout: float,
    *,
    clock: Callable[[], float],
) -> T:
    """`argv`'s parsed answer on `connection`, run again only after REREAD seconds."""
    now = clock()
    known = cache.get(connection)
    if known is not None and now - known[0] < REREAD:
        return known[1]
    status, text = await connection.run_argv(argv, timeout)
    value = parse_answer(status, text)
    cache[connection] = (now, value)
    return value


def is_local(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)


def split_unrouted(
    config: loadbalancer.Config, networks: tuple[Network, ...]
) -> tuple[loadbalancer.Config, tuple[str, ...]]:
    """`config` without the ports bound on a cluster IP that is not one of `networks` (HAProxy
    could not bind it, and would refuse the whole configuration), and one sentence per port."""
    kept: list[loadbalancer.Listener] = []
    refused: list[str] = []
    for item in config.listeners:
        if not item.address_ports or is_local(item.address, networks):
            kept.append(item)
            continue
        ports = tuple(p for p in item.ports if p not in item.address_ports)
        refused += [unrouted(item, p) for p in item.ports if p in item.address_ports]
        if ports:
            kept.append(dataclasses.replace(item, ports=ports, address_ports=()))
    return loadbalancer.Config(tuple(kept)), tuple(refused)


def unrouted(item: loadbalancer.Listener, port: int) -> str:
    return (
        f"Service {item.namespace}/{item.service} port {port} is not served on this host: it "
        f"is shared with other Services, so it binds on the cluster IP {item.address} only, "
        "which is not a local address here (as root on the host: scripts/bootstrap-host.sh "
        "--service-cidr CIDR with the daemon's service_cidr, or ip route add local CIDR dev lo)"
    )


async def bindable(
    connection: Runner, config: loadbalancer.Config, timeout: float
) -> tuple[loadbalancer.Config, tuple[str, ...]]:
    """What of `config` the host can bind, and what it cannot (see `split`, `split_unrouted`)."""
    refused: tuple[str, ...] = ()
    if lowest(config) < PRIVILEGED:
        config, refused = split(config, await first_unprivileged(connection, timeout))
    if any(item.address_ports for item in config.listeners):
        config, more = split_unrouted(config, await routed(connection, timeout))
        refused += more
    return config, refused
