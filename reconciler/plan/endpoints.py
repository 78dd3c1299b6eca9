"""A Service's endpoints, and the load balancer configuration of every host made from them: the
controller gives the desired state and the hosts' observations, `configs` returns one
`loadbalancer.Config` per declared Host for `HostExecutor.lb_apply`; `endpoints` is the same
data as the CLI and /status show it. Pure, no I/O.

A pod is an endpoint of a Service when it runs in the Service's namespace on a reachable host,
its labels match the selector, and the target port is published on its host (`podports`);
it is in rotation only when Ready. Pods about to stop (`draining`) are set to drain.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.model import clusterips, hoststate, loadbalancer, objects, podips
from reconciler.plan import podports

HTTP_APP_PROTOCOLS = frozenset({"http", "kubernetes.io/h2c"})


@dataclass(frozen=True)
class Endpoint:
    """One pod behind one Service port: where it answers (its host's address and host port)."""

    pod: str
    host: str
    address: str
    port: int
    ready: bool
    draining: bool = False

    @property
    def target(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class PortEndpoints:
    """The endpoints of one port of one Service, sorted by pod name."""

    namespace: str
    service: str
    port_name: str
    port: int
    target_port: int | str
    endpoints: tuple[Endpoint, ...] = ()

    @property
    def listener(self) -> str:
        return listener_name(self.namespace, self.service, self.port_name or str(self.port))

    @property
    def ready(self) -> tuple[str, ...]:
        """ "address:port" of the endpoints in rotation."""
        return tuple(e.target for e in self.endpoints if e.ready and not e.draining)

    @property
    def not_ready(self) -> tuple[str, ...]:
        return tuple(e.target for e in self.endpoints if not e.ready or e.draining)


def listener_name(namespace: str, service: str, port: str) -> str:
    return f"{namespace}.{service}.{port}"


def pod_ready(pod: hoststate.ObservedPod) -> bool:
    """Ready as the prober says; when it has not said, every container running."""
    if pod.ready is not None:
        return pod.ready
    return bool(pod.containers) and all(c.state == "running" for c in pod.containers)


def matches(service: objects.Service, pod: hoststate.ObservedPod) -> bool:
    """Same namespace and every selector label present with that value (an empty selector
    selects nothing, as in Kubernetes)."""
    return (
        pod.namespace == service.meta.namespace
        and bool(service.selector)
        and all(pod.labels.get(k) == v for k, v in service.selector.items())
    )


def host_port(pod: hoststate.ObservedPod, target: int | str) -> int | None:
    """The host port publishing `target` (a container port or a port name) of `pod`."""
    container_port = target if isinstance(target, int) else podports.observed_names(pod).get(target)
    if container_port is None:
        return None
    return podports.observed_ports(pod).get(container_port)


def mode(port: objects.ServicePort) -> loadbalancer.Mode:
    """HTTP when appProtocol says so or the port is named `http` / `http-*`, else TCP."""
    if port.app_protocol.lower() in HTTP_APP_PROTOCOLS:
        return loadbalancer.Mode.HTTP
    if port.name == "http" or port.name.startswith("http-"):
        return loadbalancer.Mode.HTTP
    return loadbalancer.Mode.TCP


def endpoints(
    state: objects.DesiredState,
    observations: Mapping[str, hoststate.HostObservation],
    *,
    draining: frozenset[tuple[str, str]] = frozenset(),
) -> tuple[PortEndpoints, ...]:
    """Every port of every Service with its endpoints, sorted by (namespace, service, port).

    Pods on unreachable hosts, on hosts no Host declares, with names that are not safe tokens,
    or whose target port is not published are left out. A pod seen on several hosts counts once
    (its first ready copy by host name)."""
    addresses = {host.meta.name: host.address for host in state.hosts}
    pods = sorted(
        (
            pod
            for name, seen in observations.items()
            if seen.reachable and name in addresses
            for pod in seen.pods
            if loadbalancer.TOKEN.fullmatch(pod.name)
        ),
        key=lambda p: (p.name, not pod_ready(p), p.host),
    )
    out = []
    for service in sorted(state.services, key=lambda s: (s.meta.namespace, s.meta.name)):
        selected = [pod for pod in pods if matches(service, pod)]
        for port in service.ports:
            found: dict[str, Endpoint] = {}
            for pod in selected:
                published = host_port(pod, port.target_port)
                if published is None or pod.name in found:
                    continue
                found[pod.name] = Endpoint(
                    pod=pod.name,
                    host=pod.host,
                    address=addresses[pod.host],
                    port=published,
                    ready=pod_ready(pod),
                    draining=pod.key in draining,
                )
            out.append(
                PortEndpoints(
                    namespace=service.meta.namespace,
                    service=service.meta.name,
                    port_name=port.name,
                    port=port.port,
                    target_port=port.target_port,
                    endpoints=tuple(found.values()),
                )
            )
    return tuple(out)


def listener(
    service: objects.Service,
    port: objects.ServicePort,
    cluster_only: frozenset[int] = frozenset(),
) -> loadbalancer.Listener:
    """The listener of one Service port, without servers; bound on the Service's cluster IP
    only when its port is in `cluster_only` (a port other Services share)."""
    label = port.name or str(port.port)
    ports: tuple[int, ...] = (port.port,)
    if service.type in ("NodePort", "LoadBalancer") and port.node_port is not None:
        ports = (port.port, port.node_port)
    return loadbalancer.Listener(
        name=loadbalancer.token(listener_name(service.meta.namespace, service.meta.name, label)),
        namespace=loadbalancer.token(service.meta.namespace),
        service=loadbalancer.token(service.meta.name),
        port_name=loadbalancer.token(label),
        ports=ports,
        mode=mode(port),
        affinity=service.session_affinity == "ClientIP",
        address=loadbalancer.address(service.cluster_ip) if service.cluster_ip else "",
        address_ports=(port.port,) if port.port in cluster_only and service.cluster_ip else (),
    )


def _server(endpoint: Endpoint) -> loadbalancer.Server:
    state = loadbalancer.ServerState.DRAIN if endpoint.draining else loadbalancer.ServerState.READY
    return loadbalancer.Server(
        name=loadbalancer.token(endpoint.pod),
        address=loadbalancer.address(endpoint.address),
        port=endpoint.port,
        state=state,
        host=endpoint.host,
        pod=endpoint.pod,
    )


def configs(
    state: objects.DesiredState,
    observations: Mapping[str, hoststate.HostObservation],
    *,
    draining: frozenset[tuple[str, str]] = frozenset(),
) -> dict[str, loadbalancer.Config]:
    """One load balancer configuration per declared Host (every host serves every Service).

    Servers are the Ready endpoints, and the draining ones whatever their readiness (so their
    in-flight requests can finish); listeners sorted by name, servers by name."""
    found = endpoints(state, observations, draining=draining)
    by_port = {(e.namespace, e.service, e.port): e for e in found}
    listeners = []
    shared = clusterips.cluster_only_of(state.services)
    for service in podips.balanced(state.services):  # headless ones: `plan.headless`
        only = shared.get((service.meta.namespace, service.meta.name), frozenset())
        for port in service.ports:
            items = by_port[(service.meta.namespace, service.meta.name, port.port)].endpoints
            servers = sorted((_server(e) for e in items if e.draining or e.ready),
                             key=lambda s: s.name)  # fmt: skip
            item = listener(service, port, only)
            listeners.append(dataclasses.replace(item, servers=tuple(servers)))
    config = loadbalancer.Config(tuple(sorted(listeners, key=lambda li: li.name)))
    return {host.meta.name: config for host in state.hosts}
