"""The Service views of `reconciler get services|endpoints` and the load-balancer column of
`get hosts`: Services from the repository, endpoints from the pods that run (readiness from one
run of their probes), each host's HAProxy as it reports itself (`HostExecutor.lb_status`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.executor import protocol
from reconciler.model import clusterips, hoststate, loadbalancer, objects
from reconciler.plan import endpoints, headless

Observations = Mapping[str, hoststate.HostObservation]
SHOWN = 3  # endpoints listed in a table cell before "+ N more..." (as kubectl)

SERVICE_COLUMNS = {"NAMESPACE": "namespace", "NAME": "name", "TYPE": "type",
                   "CLUSTER-IP": "clusterIP", "PORT(S)": "ports",
                   "ENDPOINTS": "endpointsShort"}  # fmt: skip
SERVICE_WIDE = {**SERVICE_COLUMNS, "SELECTOR": "selector"}
ENDPOINT_COLUMNS = {"NAMESPACE": "namespace", "NAME": "name", "ENDPOINTS": "endpointsShort"}
ENDPOINT_WIDE = {**ENDPOINT_COLUMNS, "NOT READY": "notReady"}


def port_text(service: objects.Service) -> list[str]:
    """kubectl's PORT(S): `8000/TCP`, or `8000:30080/TCP` with a nodePort."""
    return [
        f"{p.port}:{p.node_port}/{p.protocol}" if p.node_port else f"{p.port}/{p.protocol}"
        for p in service.ports
    ]


def _short(items: Sequence[str]) -> str:
    if not items:
        return "<none>"
    more = len(items) - SHOWN
    return ",".join(items[:SHOWN]) + (f" + {more} more..." if more > 0 else "")


def rows(
    state: objects.DesiredState, observations: Observations, namespace: str
) -> list[dict[str, Any]]:
    """One row per Service: type, cluster IP, ports, selector, the endpoints in rotation and
    not; `clusterIPOnly`: the ports bound on the cluster IP only (shared with other Services)."""
    only = clusterips.cluster_only_of(state.services)
    by_service: dict[tuple[str, str], list[endpoints.PortEndpoints]] = {}
    for item in endpoints.endpoints(state, observations):
        by_service.setdefault((item.namespace, item.service), []).append(item)
    out = []
    pod_ips = headless.pod_endpoints(state, observations)  # headless: each pod's own address
    for service in state.services:
        key = (service.meta.namespace, service.meta.name)
        if namespace and key[0] != namespace:
            continue
        ports = by_service.get(key, [])
        ready = sorted({target for p in ports for target in p.ready})
        not_ready = sorted({target for p in ports for target in p.not_ready})
        if key in pod_ips:
            ready, not_ready = list(pod_ips[key][0]), list(pod_ips[key][1])
        out.append({
            "namespace": key[0],
            "name": key[1],
            "type": service.type,
            "clusterIP": service.cluster_ip or "<none>",
            "clusterIPOnly": sorted(only.get(key, ())),
            "ports": port_text(service),
            "selector": [f"{k}={v}" for k, v in sorted(service.selector.items())],
            "ready": ready,
            "notReady": not_ready,
            "pods": sorted({e.pod for p in ports for e in p.endpoints if e.ready}),
            "endpointsShort": _short(ready),
        })  # fmt: skip
    return out


def balancer_states(
    executor: protocol.HostExecutor,
    targets: Sequence[hoststate.HostTarget],
    observations: Observations,
    state: objects.DesiredState,
) -> dict[str, str]:
    """Each host's load balancer in one word: Running, Down (a Service exists and HAProxy does
    not run: the next reconcile starts it), None (no Service: it need not run), Unknown."""
    reachable = [t for t in targets if (o := observations.get(t.name)) and o.reachable]
    statuses = executor.lb_status(reachable) if reachable else {}
    words: dict[str, str] = {}
    for target in targets:
        status = statuses.get(target.name)
        if target not in reachable:
            words[target.name] = "Unknown"
        else:
            words[target.name] = "Running" if status and status.running else _idle(state)
    return words


def _idle(state: objects.DesiredState) -> str:
    return "Down" if state.services else "None"


def describe_text(
    state: objects.DesiredState,
    service: objects.Service,
    observations: Observations,
    statuses: Mapping[str, loadbalancer.Status],
) -> str:
    """kubectl's `describe service`, plus what every host's load balancer reports for it."""
    ns, name = service.meta.namespace, service.meta.name
    labels = ",".join(f"{k}={v}" for k, v in sorted(service.meta.labels.items())) or "<none>"
    selector = ",".join(f"{k}={v}" for k, v in sorted(service.selector.items())) or "<none>"
    lines = [f"{'Name:':<19}{name}", f"{'Namespace:':<19}{ns}", f"{'Labels:':<19}{labels}",
             f"{'Selector:':<19}{selector}", f"{'Type:':<19}{service.type}",
             f"{'IP:':<19}{service.cluster_ip or '<none>'}"]  # fmt: skip
    shared = sorted(clusterips.cluster_only_of(state.services).get((ns, name), ()))
    if shared:
        lines.append(f"{'Cluster IP only:':<19}port(s) {', '.join(map(str, shared))} (shared with "
                     "other Services: reachable from pods and hosts, not from outside)")
    listeners: set[str] = set()
    pod_ips = headless.pod_endpoints(state, observations).get((ns, name))
    if pod_ips is not None:  # headless: each pod's own address, one listener each
        lines.append(f"{'Pod addresses:':<19}{','.join(pod_ips[0]) or '<none>'}")
    for item in endpoints.endpoints(state, observations):
        if (item.namespace, item.service) != (ns, name):
            continue
        listeners.add(item.listener)
        port = next(p for p in service.ports if p.port == item.port)
        lines.append(f"{'Port:':<19}{item.port_name or '<unset>'}  {item.port}/{port.protocol}")
        lines.append(f"{'TargetPort:':<19}{item.target_port}/{port.protocol}")
        if port.node_port:
            lines.append(f"{'NodePort:':<19}{item.port_name or '<unset>'}  {port.node_port}/TCP")
        lines.append(f"{'Balancing:':<19}{_mode_text(endpoints.mode(port))}")
        lines.append(f"{'Endpoints:':<19}{','.join(item.ready) or '<none>'}")
        if item.not_ready:
            lines.append(f"{'Not ready:':<19}{','.join(item.not_ready)}")
    lines.append("Load balancers:")
    for host in sorted(statuses):
        status = statuses[host]
        if not status.running:
            lines.append(f"  {host}: not running{': ' + status.error if status.error else ''}")
            continue
        mine = [s for s in status.servers if s.listener in listeners
                or (pod_ips is not None and s.listener.startswith(f"{ns}.{name}."))]  # fmt: skip
        shown = ", ".join(f"{s.server} {s.check} {s.admin_state} ({s.sessions} open)"
                          for s in mine) or "no servers"  # fmt: skip
        lines.append(f"  {host}: running (pid {status.pid}): {shown}")
    return "\n".join(lines) + "\n"


def _mode_text(mode: loadbalancer.Mode) -> str:
    if mode is loadbalancer.Mode.HTTP:
        return "per request (HTTP: port named http/http-*, or appProtocol http)"
    return "per connection (TCP)"
