"""Pod addresses for headless Services (`clusterIP: None`): each pod a headless Service selects
gets its own address from the service CIDR, which every host routes to its loopback, so that
each host's HAProxy can bind `podIP:port` and forward it to that one pod (no balancing).

`plan.headless` asks for the addresses of the pods it sees, on every pass; the answer depends
only on the pod names and the Services' cluster IPs, so every host and every pass agree. Pure.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from reconciler.model import clusterips, objects

HEADLESS = clusterips.HEADLESS
CLUSTER_DOMAIN = "cluster.local"
MARKER = "# reconciler: headless Services (rewritten in place as their pods come and go)"
HASH_PREFIX = "pod:"  # a pod's hash never starts where a Service of the same name starts


def is_headless(service: objects.Service) -> bool:
    """`clusterIP: None`: no virtual IP; the Service's names resolve to its pods' addresses."""
    return service.cluster_ip == HEADLESS


def headless(services: Iterable[objects.Service]) -> tuple[objects.Service, ...]:
    """The headless Services of `services`, in their order."""
    return tuple(s for s in services if is_headless(s))


def balanced(services: Iterable[objects.Service]) -> tuple[objects.Service, ...]:
    """The Services with a cluster IP (balanced by every host's HAProxy), in their order."""
    return tuple(s for s in services if not is_headless(s))


def cidr_of(services: Iterable[objects.Service]) -> clusterips.Network:
    """The service CIDR the headless Services carry (`Service.pod_cidr`, set by the loader),
    else Kubernetes' default one."""
    for service in services:
        if is_headless(service) and service.pod_cidr:
            return clusterips.network(service.pod_cidr)
    return clusterips.network(clusterips.DEFAULT_CIDR)


def allocate(
    pods: Iterable[tuple[str, str]],
    cidr: clusterips.Network,
    reserved: Iterable[str] = (),
) -> dict[tuple[str, str], str]:
    """(namespace, pod) -> address in `cidr`. Each pod starts at the hashed offset of
    `pod:namespace/name` and, in (namespace, name) order, takes the next address that neither a
    Service's cluster IP (`reserved`) nor an earlier pod holds (linear probing, wrapping). Pods
    that find no free address are left out."""
    taken: set[int] = set()
    base = int(cidr.network_address)
    for address in reserved:
        if clusterips.contains(cidr, address):
            taken.add(int(ipaddress.ip_address(address)) - base)
    usable = cidr.num_addresses - 2
    out: dict[tuple[str, str], str] = {}
    for namespace, name in sorted(set(pods)):
        if len(taken) >= usable:
            break
        offset = clusterips.hashed(namespace, HASH_PREFIX + name, cidr)
        while offset in taken:
            offset = offset % usable + 1
        taken.add(offset)
        out[(namespace, name)] = str(cidr.network_address + offset)
    return out


def reserved(services: Iterable[objects.Service]) -> tuple[str, ...]:
    """The cluster IPs of the balanced Services (no pod address may take one)."""
    return tuple(s.cluster_ip for s in services if s.cluster_ip and not is_headless(s))


def names(service: objects.Service, namespace: str) -> tuple[str, ...]:
    """The names a pod of `namespace` resolves for `service` (as for a balanced Service):
    `name.ns`, `name.ns.svc`, `name.ns.svc.cluster.local`, and the bare `name` in its own
    namespace."""
    name, ns = service.meta.name, service.meta.namespace
    qualified = (f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.svc.{CLUSTER_DOMAIN}")
    return (name, *qualified) if ns == namespace else qualified


def pod_name(hostname: str, service: objects.Service) -> str:
    """The name of a pod with `spec.hostname` and `spec.subdomain` = the headless `service`:
    `hostname.service.ns.svc.cluster.local`."""
    return f"{hostname}.{service.meta.name}.{service.meta.namespace}.svc.{CLUSTER_DOMAIN}"

