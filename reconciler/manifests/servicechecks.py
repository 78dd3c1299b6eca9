"""Service checks across the repository, once every document is built (`check`, from `loader`):
ports two objects would both bind on every host, pinned cluster IPs, selectors that match
nothing, target ports the selected pods do not declare. Findings carry file:line and the field
path of both sides. One Service's own fields are `servicefields`'.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reconciler.manifests import positions as pos
from reconciler.manifests import servicefields, yamldocs
from reconciler.model import base, clusterips, objects, workloads
from reconciler.model import diagnostics as dg

Placed = tuple[objects.Object, yamldocs.Document]


@dataclass(frozen=True)
class _Claim:
    """A port some object binds: on every host's addresses (`wide`), or, for a Service `port`
    that other Services share, on the Service's cluster IP only."""

    port: int
    owner: str  # "Service shop/web"
    file: str
    line: int
    column: int
    path: str
    wide: bool = True

    @property
    def where(self) -> str:
        return f"{self.owner} ({self.file}:{self.line}, {self.path})"


@dataclass(frozen=True)
class _Workload:
    """A Pod or a Deployment's template: the pods a Service may select."""

    owner: str  # "Deployment shop/web"
    namespace: str
    labels: base.FrozenMap[str, str]
    spec: workloads.PodSpec
    document: yamldocs.Document
    spec_path: pos.Path


def check(
    placed: Iterable[Placed], cidr: clusterips.Network | None = None
) -> list[dg.Diagnostic]:
    """Cross-object findings; `placed` are the built objects with their documents, `cidr` the
    service CIDR (default `clusterips.DEFAULT_CIDR`). Run only when every file could be read
    (otherwise a missing pod may just be unread)."""
    placed = list(placed)
    network = cidr if cidr is not None else clusterips.network(clusterips.DEFAULT_CIDR)
    services = [(o, d) for o, d in placed if isinstance(o, objects.Service)]
    pods = [_workload(o, d) for o, d in placed]
    workload_list = [w for w in pods if w is not None]
    found: list[dg.Diagnostic] = []
    found += _pinned(services, network)
    found += _port_clashes([(s, d) for s, d in services if s.cluster_ip != clusterips.HEADLESS],
                           workload_list)  # headless ones bind pod addresses only: `podips`
    for service, document in services:
        found += _selection(service, document, workload_list)
    return found


def _pinned(
    services: list[tuple[objects.Service, yamldocs.Document]], cidr: clusterips.Network
) -> list[dg.Diagnostic]:
    """A `spec.clusterIP` outside the service CIDR, or one that another Service pins too."""
    found: list[dg.Diagnostic] = []
    first: dict[str, _Claim] = {}
    for service, document in services:
        value = service.cluster_ip
        if not value or value == clusterips.HEADLESS:
            continue
        owner = f"Service {service.meta.namespace}/{service.meta.name}"
        here = _claim(0, owner, document, ("spec", "clusterIP"))
        if not clusterips.contains(cidr, value):
            found.append(_error(
                here, dg.Code.INVALID_VALUE,
                f"clusterIP {value} is not an address of the service CIDR {cidr} (its network "
                "and broadcast addresses excluded)",
                "remove clusterIP (one is allocated) or choose an address in the service CIDR "
                "(the service_cidr setting)",
            ))  # fmt: skip
            continue
        earlier = first.setdefault(value, here)
        if earlier is not here:
            found.append(_error(
                here, dg.Code.INVALID_VALUE,
                f"clusterIP {value} is also the clusterIP of {earlier.where}",
                "give each Service its own clusterIP, or remove it (one is allocated)",
            ))  # fmt: skip
    return found


def _workload(obj: objects.Object, document: yamldocs.Document) -> _Workload | None:
    if isinstance(obj, workloads.Pod):
        return _Workload(
            f"Pod {obj.meta.namespace}/{obj.meta.name}",
            obj.meta.namespace,
            obj.meta.labels,
            obj.spec,
            document,
            ("spec",),
        )
    if isinstance(obj, workloads.Deployment):
        return _Workload(
            f"Deployment {obj.meta.namespace}/{obj.meta.name}",
            obj.meta.namespace,
            obj.template.labels,
            obj.template.spec,
            document,
            ("spec", "template", "spec"),
        )
    return None


def _claim(
    port: int, owner: str, document: yamldocs.Document, path: pos.Path, wide: bool = True
) -> _Claim:
    line, column = document.at(path)
    return _Claim(port, owner, document.file, line, column, pos.format_path(path), wide)


def _service_claims(services: list[tuple[objects.Service, yamldocs.Document]]) -> list[_Claim]:
    claims: list[_Claim] = []
    for service, document in services:
        owner = f"Service {service.meta.namespace}/{service.meta.name}"
        wide = clusterips.binding(service).host_wide
        for index, port in enumerate(service.ports):
            path: pos.Path = ("spec", "ports", index)
            claims.append(_claim(port.port, owner, document, (*path, "port"), port.port in wide))
            if port.node_port is not None:
                claims.append(_claim(port.node_port, owner, document, (*path, "nodePort")))
    claims.sort(key=lambda c: (c.file, c.line, c.column))
    return claims


def _clash(claim: _Claim, earlier: list[_Claim]) -> _Claim | None:
    """The first earlier claim `claim` cannot share its port with: a port bound host-wide on
    either side (a nodePort, or the port of a NodePort/LoadBalancer without one), or the same
    object's port twice. Service ports otherwise share: each binds on its own cluster IP."""
    for other in earlier:
        if claim.wide or other.wide or claim.owner == other.owner:
            return other
    return None


def _port_clashes(
    services: list[tuple[objects.Service, yamldocs.Document]], pods: list[_Workload]
) -> list[dg.Diagnostic]:
    found: list[dg.Diagnostic] = []
    by_port: dict[int, list[_Claim]] = {}
    for claim in _service_claims(services):
        by_port.setdefault(claim.port, []).append(claim)
    first = {port: claims[0] for port, claims in by_port.items()}
    for claims in by_port.values():
        sharing: list[_Claim] = []
        for index, claim in enumerate(claims):
            clash = _clash(claim, claims[:index])
            if clash is not None:
                found.append(_error(
                    claim, dg.Code.HOST_PORT_CLASH,
                    f"port {claim.port} is also bound by {clash.where}: "
                    + ("both listen on every host's addresses" if clash.wide and claim.wide
                       else "one of them listens on it on every host's addresses (a nodePort, "
                       "or the port of a NodePort/LoadBalancer Service without nodePort)"),
                    "give each Service port (and nodePort) its own number, or add a nodePort "
                    "to the NodePort/LoadBalancer Service",
                ))  # fmt: skip
            else:
                sharing.append(claim)
        if len({c.owner for c in sharing}) > 1:
            for claim in sharing:
                other = next(c for c in sharing if c.owner != claim.owner)
                found.append(dg.Diagnostic(
                    claim.file, claim.line, claim.column, claim.path,
                    f"port {claim.port} is shared with {other.where}: each Service listens on "
                    "it on its own cluster IP only, reachable from pods and hosts (every host "
                    "needs the route of the service CIDR), not from outside",
                    "give the Service a port of its own, or make it a NodePort with a nodePort, "
                    "to reach it from outside",
                    dg.Code.SHARED_PORT, dg.Severity.WARNING,
                ))  # fmt: skip
    for pod in pods:
        for ci, container in enumerate(pod.spec.containers):
            for pi, cport in enumerate(container.ports):
                path = (*pod.spec_path, "containers", ci, "ports", pi, "hostPort")
                if cport.host_port is None or cport.protocol is not workloads.Protocol.TCP:
                    continue
                hp = _claim(cport.host_port, pod.owner, pod.document, path)
                reserved = servicefields.RESERVED
                if cport.host_port in reserved:
                    found.append(_error(
                        hp, dg.Code.HOST_PORT_CLASH,
                        f"hostPort {cport.host_port} is in {reserved.start}-{reserved.stop - 1}, "
                        "where the reconciler allocates the hosts' pod and probe ports",
                        "choose a hostPort outside that range, or none (the port is then "
                        "published on an allocated port and reached through a Service)",
                    ))  # fmt: skip
                bound = first.get(cport.host_port)
                if bound is not None:
                    found.append(_error(
                        hp, dg.Code.HOST_PORT_CLASH,
                        f"hostPort {cport.host_port} is the port of {bound.where}: a hostPort "
                        "binds every host's address",
                        "remove the hostPort (a Service reaches the pod without it) or change "
                        "one of the ports",
                    ))  # fmt: skip
    return found


def _selection(
    service: objects.Service, document: yamldocs.Document, pods: list[_Workload]
) -> list[dg.Diagnostic]:
    selector = dict(service.selector)
    selected = [
        pod
        for pod in pods
        if pod.namespace == service.meta.namespace
        and selector
        and all(pod.labels.get(k) == v for k, v in selector.items())
    ]
    line, column = document.at(("spec", "selector"))
    if not selected:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(selector.items()))
        return [dg.Diagnostic(
            document.file, line, column, "spec.selector",
            f"the selector ({shown}) matches no Pod or Deployment template in namespace "
            f"{service.meta.namespace}: the Service has no endpoints",
            "label the pods (spec.template.metadata.labels) or fix the selector",
            dg.Code.SELECTOR_MISMATCH, dg.Severity.WARNING,
        )]  # fmt: skip
    found: list[dg.Diagnostic] = []
    for index, port in enumerate(service.ports):
        target = port.target_port
        lacking = [pod.owner for pod in selected if not _declares(pod.spec, target)]
        if not lacking:
            continue
        path: pos.Path = ("spec", "ports", index, "targetPort" if "targetPort" in
                          _raw_port(document, index) else "port")  # fmt: skip
        tline, tcolumn = document.at(path)
        if isinstance(target, int):  # published anyway (plan.impliedports), as in Kubernetes
            found.append(dg.Diagnostic(
                document.file, tline, tcolumn, pos.format_path(path),
                f"targetPort {target} is not declared by the pods of "
                f"{', '.join(sorted(lacking))}: it is published for this Service on pods "
                "created from now on; pods already running get it when they are next replaced",
                f"declare it under the container's ports (containerPort: {target}) to say so",
                dg.Code.MISSING_REFERENCE, dg.Severity.WARNING,
            ))  # fmt: skip
            continue
        severity = dg.Severity.ERROR if len(lacking) == len(selected) else dg.Severity.WARNING
        found.append(dg.Diagnostic(
            document.file, tline, tcolumn, pos.format_path(path),
            f"targetPort: the pods of {', '.join(sorted(lacking))} declare no TCP port name "
            f"{target!r}: a named targetPort must name a declared container port",
            f"name one of the container's ports {target!r}",
            dg.Code.MISSING_REFERENCE, severity,
        ))  # fmt: skip
    return found


def _declares(spec: workloads.PodSpec, target: int | str) -> bool:
    return any(
        (port.name == target if isinstance(target, str) else port.container_port == target)
        and port.protocol is workloads.Protocol.TCP
        for container in spec.containers
        for port in container.ports
    )


def _raw_port(document: yamldocs.Document, index: int) -> dict[str, object]:
    value = document.value
    if isinstance(value, dict):
        ports = value.get("spec", {}).get("ports", [])
        if isinstance(ports, list) and index < len(ports) and isinstance(ports[index], dict):
            found: dict[str, object] = ports[index]
            return found
    return {}


def _error(claim: _Claim, code: dg.Code, message: str, hint: str) -> dg.Diagnostic:
    return dg.Diagnostic(claim.file, claim.line, claim.column, claim.path, message, hint, code)
