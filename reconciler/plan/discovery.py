"""Service discovery for pods, as Kubernetes gives it: the environment variables of the Services
of the pod's namespace (`WEB_SERVICE_HOST`, `WEB_PORT_8000_TCP`, ...) and /etc/hosts names
(`web`, `web.shop`, `web.shop.svc`, `web.shop.svc.cluster.local`), all pointing at the address
of the pod's own host, where the per-host HAProxy listens for every Service. Runs in
`pipeline.build_plan` after the ports are allocated; pure, no I/O.

Not part of the spec hash: as in Kubernetes, a pod keeps the variables and names of the Services
that existed when it was created; it sees later Services once it is next replaced.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable

from reconciler.model import hoststate, objects

CLUSTER_DOMAIN = "cluster.local"


def env_name(name: str) -> str:
    """A Service or port name as Kubernetes puts it in a variable name: `my-web` -> `MY_WEB`."""
    return name.upper().replace("-", "_").replace(".", "_")


def service_env(
    services: Iterable[objects.Service], namespace: str, address: str
) -> tuple[tuple[str, str], ...]:
    """The Kubernetes variables of every Service of `namespace`, each answering at `address`,
    sorted by Service name (variables of one Service in Kubernetes' order)."""
    env: list[tuple[str, str]] = []
    chosen = sorted(
        (s for s in services if s.meta.namespace == namespace and s.ports),
        key=lambda s: s.meta.name,
    )
    for service in chosen:
        prefix = env_name(service.meta.name)
        first = service.ports[0]
        env.append((f"{prefix}_SERVICE_HOST", address))
        env.append((f"{prefix}_SERVICE_PORT", str(first.port)))
        env.extend(
            (f"{prefix}_SERVICE_PORT_{env_name(p.name)}", str(p.port))
            for p in service.ports
            if p.name
        )
        env.append((f"{prefix}_PORT", _url(first, address)))
        for port in service.ports:
            proto = port.protocol.value
            base = f"{prefix}_PORT_{port.port}_{proto}"
            env.append((base, _url(port, address)))
            env.append((f"{base}_PROTO", proto.lower()))
            env.append((f"{base}_PORT", str(port.port)))
            env.append((f"{base}_ADDR", address))
    return tuple(env)


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
    """(name, address) for the /etc/hosts of a pod of `namespace` on the host at `address`;
    () when `address` is a DNS name (/etc/hosts needs an IP address)."""
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return ()
    found = sorted({n for s in services if s.ports for n in names(s, namespace)})
    return tuple((n, address) for n in found)


def attach(
    runs: Iterable[hoststate.PodRun], desired: objects.DesiredState
) -> tuple[hoststate.PodRun, ...]:
    """`runs` with `service_env` and `host_aliases` set for the Services of `desired`, each
    pointing at the address of the run's host (a run on an unknown host gets none)."""
    addresses = {host.meta.name: host.address for host in desired.hosts}
    services = desired.services
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
