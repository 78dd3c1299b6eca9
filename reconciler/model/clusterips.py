"""Per-Service virtual IPs (cluster IPs) and which Service ports bind on them alone.

Every host routes the service CIDR to its loopback (`ip route add local CIDR dev lo`,
scripts/bootstrap-host.sh), so its rootless HAProxy can bind any address in it. The loader gives
each Service its address here (`allocate`); `plan.endpoints` binds a port that two or more
Services share on each one's cluster IP only (`cluster_only`), and `plan.discovery` points such a
Service's variables and names at its cluster IP. Pure, no I/O.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from reconciler.model import objects

DEFAULT_CIDR = "10.96.0.0/12"  # Kubernetes' default service range
HEADLESS = "None"  # spec.clusterIP of a headless Service (model.podips)
HOST_WIDE_TYPES = frozenset({"NodePort", "LoadBalancer"})
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class CidrError(ValueError):
    """A service CIDR that is not a network with room for Services."""


def network(text: str) -> Network:
    """The service CIDR `text` as a network (host bits must be zero, at least 4 addresses);
    raises CidrError with the reason."""
    try:
        parsed = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise CidrError(f"service_cidr {text!r} is not a network such as 10.96.0.0/12: {exc}") \
            from exc  # fmt: skip
    if parsed.num_addresses < 4:
        raise CidrError(f"service_cidr {text!r} is too small: give it at least 4 addresses")
    return parsed


def is_address(value: str) -> bool:
    """Whether `value` is an IPv4 or IPv6 address (not a DNS name)."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def contains(cidr: Network, address: str) -> bool:
    """`address` is a usable address of `cidr` (not its network or broadcast address)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return parsed in cidr and parsed not in (cidr.network_address, cidr.broadcast_address)


@dataclass(frozen=True)
class Request:
    """One Service asking for an address: its `spec.clusterIP` when set ("" otherwise)."""

    namespace: str
    name: str
    pinned: str = ""


def hashed(namespace: str, name: str, cidr: Network) -> int:
    """The offset in `cidr` (1 .. size-2) a Service named `namespace/name` starts probing at."""
    usable = cidr.num_addresses - 2
    digest = hashlib.sha256(f"{namespace}/{name}".encode()).digest()
    return 1 + int.from_bytes(digest[:8], "big") % usable


def allocate(requests: Iterable[Request], cidr: Network) -> dict[tuple[str, str], str]:
    """(namespace, name) -> address. A pinned address inside `cidr` is taken as it is (checked
    by validate; one outside is left out); the others start at their hashed offset and, in
    (namespace, name) order, take the next free address (linear probing, wrapping around)."""
    out: dict[tuple[str, str], str] = {}
    taken: set[int] = set()
    ordered = sorted(requests, key=lambda r: (r.namespace, r.name))
    for request in ordered:
        if request.pinned and contains(cidr, request.pinned):
            out[(request.namespace, request.name)] = request.pinned
            taken.add(int(ipaddress.ip_address(request.pinned)) - int(cidr.network_address))
    usable = cidr.num_addresses - 2
    for request in ordered:
        if request.pinned or len(taken) >= usable:
            continue
        offset = hashed(request.namespace, request.name, cidr)
        while offset in taken:
            offset = offset % usable + 1
        taken.add(offset)
        out[(request.namespace, request.name)] = str(cidr.network_address + offset)
    return out


@dataclass(frozen=True)
class Binding:
    """The ports one Service listens on: `port` values and whether it needs them host-wide
    (NodePort/LoadBalancer without a nodePort answer on `port` of every host address)."""

    namespace: str
    name: str
    ports: tuple[int, ...]
    host_wide: tuple[int, ...] = ()


def host_wide_ports(service_type: str, ports: Iterable[tuple[int, int | None]]) -> tuple[int, ...]:
    """The `port`s of (port, nodePort) pairs a Service of `service_type` needs on every host
    address: those of a NodePort/LoadBalancer Service that have no nodePort."""
    if service_type not in HOST_WIDE_TYPES:
        return ()
    return tuple(port for port, node_port in ports if node_port is None)


def shared(bindings: Iterable[Binding]) -> frozenset[int]:
    """The ports that two or more Services use (each Service counted once)."""
    users: dict[int, int] = {}
    for binding in bindings:
        for port in set(binding.ports):
            users[port] = users.get(port, 0) + 1
    return frozenset(port for port, count in users.items() if count > 1)


def cluster_only(bindings: Iterable[Binding]) -> dict[tuple[str, str], frozenset[int]]:
    """(namespace, name) -> the ports that Service binds on its cluster IP only: its ports that
    another Service uses too, except those it needs host-wide (validate refuses that clash)."""
    items = list(bindings)
    common = shared(items)
    out: dict[tuple[str, str], frozenset[int]] = {}
    for binding in items:
        ports = frozenset(p for p in binding.ports if p in common and p not in binding.host_wide)
        if ports:
            out[(binding.namespace, binding.name)] = ports
    return out


def binding(service: objects.Service) -> Binding:
    """The ports `service` listens on, as `cluster_only` counts them."""
    pairs = [(p.port, p.node_port) for p in service.ports]
    return Binding(
        service.meta.namespace,
        service.meta.name,
        tuple(p for p, _ in pairs),
        host_wide_ports(service.type, pairs),
    )


def cluster_only_of(
    services: Iterable[objects.Service],
) -> dict[tuple[str, str], frozenset[int]]:
    """`cluster_only` of the Services of one desired state (headless ones bind no port of
    their own: `model.podips`)."""
    return cluster_only(binding(s) for s in services if s.cluster_ip != HEADLESS)


def assign(found: Iterable[objects.Object], cidr: Network) -> list[objects.Object]:
    """`found` with every Service's `cluster_ip` set: its pinned one, else one allocated."""
    items = list(found)
    requests = [
        Request(o.meta.namespace, o.meta.name, o.cluster_ip)
        for o in items
        if isinstance(o, objects.Service) and o.cluster_ip != HEADLESS
    ]
    allocated = allocate(requests, cidr)
    return [
        _headless(o, cidr)
        if isinstance(o, objects.Service) and o.cluster_ip == HEADLESS
        else dataclasses.replace(o, cluster_ip=allocated.get(_key(o), o.cluster_ip))
        if isinstance(o, objects.Service)
        else o
        for o in items
    ]


def _headless(service: objects.Service, cidr: Network) -> objects.Service:
    """A headless Service keeps `clusterIP: None` and carries the CIDR its pods' addresses
    come from (`model.podips`)."""
    return dataclasses.replace(service, pod_cidr=str(cidr))


def _key(service: objects.Service) -> tuple[str, str]:
    return (service.meta.namespace, service.meta.name)
