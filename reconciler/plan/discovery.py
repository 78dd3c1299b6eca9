"""Service discovery for pods, as Kubernetes gives it: the environment variables of the Services
of the pod's namespace (`WEB_SERVICE_HOST`, `WEB_PORT_8000_TCP`, ...) and /etc/hosts names
(`web`, `web.shop`, `web.shop.svc`, `web.shop.svc.cluster.local`), all pointing at the address
of the pod's own host, where the per-host HAProxy listens for every Service; a Service bound on its
cluster IP only (a port it shares with another Service, `model.clusterips`) at that IP. Runs in
`pipeline.build_plan` after the ports are allocated; pure, no I/O.

Not part of the spec hash: as in Kubernetes, a pod keeps the variables and names of the Services
that existed when it was created; it sees later Services once it is next replaced.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from reconciler.model import clusterips, hoststate, objects, podips

CLUSTER_DOMAIN = "cluster.local"


def env_name(name: str) -> str:
    """A Service or port name as Kubernetes puts it in a variable name: `my-web` -> `MY_WEB`."""
    return name.upper().replace("-", "_").replace(".", "_")


def service_env(
    services: Iterable[objects.Service], namespace: str, address: str
) -> tuple[tuple[str, str], ...]:
    """The Kubernetes variables of every Service of `namespace`, each answering at `address`
    (or at its cluster IP when it is bound there only), sorted by Service name (variables of
    one Service in Kubernetes' order)."""
    env: list[tuple[str, str]] = []
    items = list(services)
    where = addresses(items, address)
    chosen = sorted(
        (s for s in items if s.meta.namespace == namespace and s.ports),
        key=lambda s: s.meta.name,
    )
    for service in chosen:
        prefix = env_name(service.meta.name)
        first = service.ports[0]
        here = where[(service.meta.namespace, service.meta.name)]
        env.append((f"{prefix}_SERVICE_HOST", here))
        env.append((f"{prefix}_SERVICE_PORT", str(first.port)))
        env.extend(
            (f"{prefix}_SERVICE_PORT_{env_name(p.name)}", str(p.port))
            for p in service.ports
            if p.name
        )
        env.append((f"{prefix}_PORT", _url(first, here)))
        for port in service.ports:
            proto = port.protocol.value
            base = f"{prefix}_PORT_{port.port}_{proto}"
            env.append((base, _url(port, here)))
            env.append((f"{base}_PROTO", proto.lower()))
            env.append((f"{base}_PORT", str(port.port)))
            env.append((f"{base}_ADDR", here))
    return tuple(env)


def addresses(services: Iterable[objects.Service], address: str) -> dict[tuple[str, str], str]:
    """(namespace, name) -> where a pod reaches the Service: its cluster IP when a port of it is
    bound there only (shared with another Service), else `address` (its host's)."""
    items = list(services)
    only = clusterips.cluster_only_of(items)
    return {
        (s.meta.namespace, s.meta.name): (
            s.cluster_ip if s.cluster_ip and (s.meta.namespace, s.meta.name) in only else address
        )
        for s in items
    }


def _url(port: objects.ServicePort, address: str) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"{port.protocol.value.lower()}://{host}:{port.port}"


def names(service: objects.Service, namespace: str) -> tuple[str, ...]:
    """The names a pod of `namespace` resolves for `service`: `name.ns`, `name.ns.svc` and
    `name.ns.svc.<cluster domain>`, and the bare `name` in the Service's own namespace."""
    name, ns = service.meta.name, service.meta.namespace
    qualified = (f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.svc.{CLUSTER_DOMAIN}")
    return (name, *qualified) if ns == namespace else qualified


def host_aliases(
    services: Iterable[objects.Service], namespace: str, address: str
) -> tuple[tuple[str, str], ...]:
    """(name, address) for the /etc/hosts of a pod of `namespace` on the host at `address` (a
    Service bound on its cluster IP only: that IP). /etc/hosts needs IP addresses: when
    `address` is a DNS name, only the Services bound on their cluster IPs are listed."""
    usable = clusterips.is_address(address)
    items = [s for s in services if s.ports]
    where = addresses(items, address)
    found = sorted(
        {
            (n, where[(s.meta.namespace, s.meta.name)])
            for s in items
            if usable or where[(s.meta.namespace, s.meta.name)] != address
            for n in names(s, namespace)
        }
    )
    return tuple(found)


def attach(
    runs: Iterable[hoststate.PodRun], desired: objects.DesiredState
) -> tuple[hoststate.PodRun, ...]:
    """`runs` with `service_env` and `host_aliases` set for the Services of `desired`, each
    pointing at the address of the run's host (a run on an unknown host gets none)."""
    addresses = {host.meta.name: host.address for host in desired.hosts}
    services = podips.balanced(desired.services)  # headless ones: `plan.hostsfile`
    out = []
    for run in runs:
        address = addresses.get(run.host)
        if address is None or not services:
            out.append(run)
            continue
        out.append(
            dataclasses.replace(
                run,
                service_env=service_env(services, run.namespace, address),
                host_aliases=(*run.host_aliases, *host_aliases(services, run.namespace, address)),
            )
        )
    return tuple(out)
