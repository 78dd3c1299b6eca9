"""Headless Services (`clusterIP: None`) on every host: each selected pod's own address
(`model.podips`), one HAProxy listener per pod and port bound on that address and forwarding to
that one pod (no balancing), and the /etc/hosts sections that name the Ready pods. `configs`
wraps `endpoints.configs` for the endpoints controller (`controllers.balancers`); `sections`
also feeds `hostsfile.attach` when pods are made. Pure, no I/O.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from reconciler.model import hoststate, loadbalancer, objects, podips
from reconciler.plan import endpoints, hostsfile, podports

Observations = Mapping[str, hoststate.HostObservation]


@dataclass(frozen=True)
class Member:
    """One pod a headless Service selects: its address, where it runs, and whether it is in
    the Service's names (Ready and not about to stop)."""

    service: objects.Service
    pod: hoststate.ObservedPod
    address: str  # the pod's own address (model.podips)
    host_address: str  # its host's (Host spec.address)
    ready: bool
    draining: bool = False

    @property
    def hostname(self) -> str:
        """The pod's hostname when its `spec.subdomain` names this Service, else ""."""
        labels = self.pod.labels
        if labels.get(hostsfile.LABEL_SUBDOMAIN) != self.service.meta.name:
            return ""
        return labels.get(hostsfile.LABEL_HOSTNAME, "")


def _observed(
    state: objects.DesiredState, observations: Observations
) -> list[hoststate.ObservedPod]:
    """Pods on reachable declared hosts, each once (its first Ready copy by host name)."""
    declared = {host.meta.name for host in state.hosts}
    pods = sorted(
        (
            pod
            for name, seen in observations.items()
            if seen.reachable and name in declared
            for pod in seen.pods
            if loadbalancer.TOKEN.fullmatch(pod.name)
        ),
        key=lambda p: (p.namespace, p.name, not endpoints.pod_ready(p), p.host),
    )
    seen: set[tuple[str, str]] = set()
    out = []
    for pod in pods:
        if pod.key not in seen:
            seen.add(pod.key)
            out.append(pod)
    return out


def members(
    state: objects.DesiredState,
    observations: Observations,
    draining: frozenset[tuple[str, str]] = frozenset(),
) -> tuple[Member, ...]:
    """Every (headless Service, selected pod), sorted by Service then pod, with the pod's
    address; empty without a headless Service."""
    services = sorted(
        podips.headless(state.services), key=lambda s: (s.meta.namespace, s.meta.name)
    )
    if not services:
        return ()
    hosts = {host.meta.name: host.address for host in state.hosts}
    pods = _observed(state, observations)
    chosen = [(s, p) for s in services for p in pods if endpoints.matches(s, p)]
    addresses = podips.allocate(
        (p.key for _, p in chosen), podips.cidr_of(services), podips.reserved(state.services)
    )
    return tuple(
        Member(s, p, addresses[p.key], hosts[p.host], endpoints.pod_ready(p), p.key in draining)
        for s, p in chosen
        if p.key in addresses
    )


@dataclass(frozen=True)
class Port:
    """One port a member answers on at its address: the Service's, or (a Service without
    ports) each port the pod publishes, under its own number."""

    label: str
    port: int
    published: int  # on the pod's host
    mode: loadbalancer.Mode = loadbalancer.Mode.TCP


def ports(member: Member) -> tuple[Port, ...]:
    """The ports of `member` that reach its pod (a target port the pod does not publish is
    left out)."""
    if not member.service.ports:
        found = podports.observed_ports(member.pod)
        return tuple(Port(str(number), number, found[number]) for number in sorted(found))
    out = []
    for item in member.service.ports:
        published = endpoints.host_port(member.pod, item.target_port)
        if published is not None:
            out.append(Port(item.name or str(item.port), item.port, published,
                            endpoints.mode(item)))  # fmt: skip
    return tuple(out)


def listener_name(member: Member, port: str) -> str:
    """`ns.service.pod.port`, hashed down to a token's length when longer."""
    service = member.service.meta
    name = f"{service.namespace}.{service.name}.{member.pod.name}.{port}"
    if len(name) <= 200:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[:189]}-{digest}"


def listeners(items: tuple[Member, ...]) -> tuple[loadbalancer.Listener, ...]:
    """One listener per (pod, Service port) of the pods in rotation or draining, bound on the
    pod's address only and forwarding to its host's published port; an address and port two
    headless Services share is served once (the first Service by name)."""
    out: list[loadbalancer.Listener] = []
    bound: set[tuple[str, int]] = set()
    for member in items:
        if not (member.ready or member.draining):
            continue
        for port in ports(member):
            if (member.address, port.port) in bound:
                continue
            bound.add((member.address, port.port))
            label = port.label
            state = (loadbalancer.ServerState.DRAIN if member.draining
                     else loadbalancer.ServerState.READY)  # fmt: skip
            server = loadbalancer.Server(
                name=loadbalancer.token(member.pod.name),
                address=loadbalancer.address(member.host_address),
                port=port.published,
                state=state,
                host=member.pod.host,
                pod=member.pod.name,
            )
            out.append(loadbalancer.Listener(
                name=loadbalancer.token(listener_name(member, label)),
                namespace=loadbalancer.token(member.service.meta.namespace),
                service=loadbalancer.token(member.service.meta.name),
                port_name=loadbalancer.token(label),
                ports=(port.port,),
                mode=port.mode,
                servers=(server,),
                address=loadbalancer.address(member.address),
                address_ports=(port.port,),
            ))  # fmt: skip
    return tuple(out)


def pod_endpoints(
    state: objects.DesiredState, observations: Observations
) -> dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...]]]:
    """(namespace, Service) -> ("podIP:port" in its names, those not Ready) of every headless
    Service, as `get services` shows them (Kubernetes shows pod addresses too)."""
    out: dict[tuple[str, str], tuple[list[str], list[str]]] = {
        (s.meta.namespace, s.meta.name): ([], []) for s in podips.headless(state.services)
    }
    for member in members(state, observations):
        ready, not_ready = out[(member.service.meta.namespace, member.service.meta.name)]
        for port in ports(member):
            where = f"{member.address}:{port.port}"
            (ready if member.ready else not_ready).append(where)
    return {key: (tuple(sorted(r)), tuple(sorted(n))) for key, (r, n) in out.items()}


def section(items: tuple[Member, ...], namespace: str) -> str:
    """The /etc/hosts lines a pod of `namespace` gets: each Ready pod's address with the names
    of its headless Service (and its own `hostname.service.ns.svc.cluster.local`), sorted."""
    by_address: dict[str, list[str]] = {}
    for member in items:
        if not member.ready or member.draining:
            continue
        names = by_address.setdefault(member.address, [])
        if member.hostname:
            names.append(podips.pod_name(member.hostname, member.service))
        names.extend(podips.names(member.service, namespace))
    lines = [f"{address}\t{' '.join(dict.fromkeys(names))}"
             for address, names in sorted(by_address.items())]  # fmt: skip
    return "".join(f"{line}\n" for line in lines)


def sections(
    state: objects.DesiredState, observations: Observations, namespaces: Iterable[str]
) -> dict[str, str]:
    """namespace -> the headless section of its pods, for each of `namespaces` (the pods
    about to be made); empty without a headless Service."""
    if not podips.headless(state.services):
        return {}
    items = members(state, observations)
    return {namespace: section(items, namespace) for namespace in set(namespaces)}


def hosts_sections(
    items: tuple[Member, ...], observations: Observations, host: str
) -> tuple[loadbalancer.HostsSection, ...]:
    """The sections of the pods on `host` that carry the reconciler's hosts file."""
    seen = observations.get(host)
    if seen is None or not seen.reachable:
        return ()
    cache: dict[str, str] = {}
    out = []
    for pod in sorted(seen.pods, key=lambda p: p.key):
        relative = pod.labels.get(hostsfile.LABEL_HOSTS_FILE, "")
        if relative != hostsfile.path(pod.namespace, pod.name):
            continue  # none, or not where the reconciler puts it: never written
        if pod.namespace not in cache:
            cache[pod.namespace] = section(items, pod.namespace)
        out.append(loadbalancer.HostsSection(relative, cache[pod.namespace], pod.podman_id))
    return tuple(out)


def configs(
    state: objects.DesiredState,
    observations: Observations,
    *,
    draining: frozenset[tuple[str, str]] = frozenset(),
) -> dict[str, loadbalancer.Config]:
    """`endpoints.configs` (the balanced Services) with every host also binding each headless
    pod's listeners and rewriting the hosts files of the pods it runs."""
    found = endpoints.configs(state, observations, draining=draining)
    if not podips.headless(state.services) and not any(
        p.labels.get(hostsfile.LABEL_HOSTS_FILE) for s in observations.values() for p in s.pods
    ):
        return found
    items = members(state, observations, draining)
    extra = listeners(items)
    out = {}
    for host, config in found.items():
        merged = tuple(sorted((*config.listeners, *extra), key=lambda li: li.name))
        out[host] = dataclasses.replace(
            config, listeners=merged, hosts_files=hosts_sections(items, observations, host)
        )
    return out
