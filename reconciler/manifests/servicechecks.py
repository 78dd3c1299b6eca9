"""Service checks: `fields` for one Service document (with the other per-object checks, from
`checks`), `check` across the repository once every document is built (from `loader`): ports
two objects would both bind on every host, selectors that match nothing, target ports that the
selected pods do not declare. Findings carry file:line and the field path of both sides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from reconciler.manifests import checking, yamldocs
from reconciler.manifests import positions as pos
from reconciler.model import base, objects, workloads
from reconciler.model import diagnostics as dg

UNPRIVILEGED = 1024
"""Linux's default net.ipv4.ip_unprivileged_port_start: a rootless process (HAProxy, Podman's
port forwarder) binds a lower port only where the host lowered it (scripts/bootstrap-host.sh)."""
BIND_HINT = (
    "each host must allow it: scripts/bootstrap-host.sh sets "
    "net.ipv4.ip_unprivileged_port_start to 80 (--unprivileged-port-start N for lower); "
    "a host that does not allow it serves the other ports and reports this one"
)
RESERVED = range(41000, 45000)
"""Host ports the planner allocates (probe ports 41000-41999, pod ports 42000-44999)."""
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
NODE_PORTS = range(30000, 32768)
Placed = tuple[objects.Object, yamldocs.Document]


def fields(checker: checking.Checker) -> None:
    """Checks of one schema-valid Service document beyond the schema's."""
    spec = checker.doc["spec"]
    name = checker.doc["metadata"]["name"]
    if checking.DNS_LABEL.match(name) and not DNS_1035.match(name):  # else `metadata` says
        checker.error(
            ("metadata", "name"),
            dg.Code.INVALID_NAME,
            f"Service name {name!r} must start with a letter (a DNS-1035 label)",
            "its variables (WEB_SERVICE_HOST) and names (web.shop) need a leading letter",
        )
    kind = spec.get("type") or "ClusterIP"
    _cluster_ip(checker, spec.get("clusterIP"))
    ports: list[checking.Doc] = spec["ports"]
    checker.unique(("spec", "ports"), [p for p in ports if p.get("nodePort")], "nodePort",
                   "nodePort")  # fmt: skip
    for index, port in enumerate(ports):
        _port_fields(checker, ("spec", "ports", index), port, kind)


def _cluster_ip(checker: checking.Checker, value: str | None) -> None:
    """`clusterIP`: unset or "" (allocated: here every host's own address); not "None"
    (headless) and not an address of one's choosing (there are no virtual IPs)."""
    if not value:
        return
    if value == "None":
        checker.error(
            ("spec", "clusterIP"),
            dg.Code.NOT_BUILT,
            "headless Services (clusterIP: None) are not built: every Service answers on each "
            "host's own address through its load balancer, and pod ports are published on "
            "allocated host ports, not on pod addresses",
            "remove clusterIP (the Service is then balanced on every host)",
        )
        return
    checker.error(
        ("spec", "clusterIP"),
        dg.Code.NOT_BUILT,
        f"clusterIP {value!r} cannot be honoured: there are no virtual IPs here; a Service "
        "answers on every host's own address",
        "remove clusterIP",
    )


def _port_fields(checker: checking.Checker, path: pos.Path, port: checking.Doc, kind: str) -> None:
    node_port = port.get("nodePort")
    if node_port and node_port not in NODE_PORTS:
        checker.error(
            (*path, "nodePort"),
            dg.Code.INVALID_VALUE,
            f"nodePort {node_port} is outside {NODE_PORTS.start}-{NODE_PORTS.stop - 1}",
            "choose a nodePort from 30000 to 32767 (0 or none: no nodePort)",
        )
    for field_name in ("port",):  # a nodePort (30000-32767) is checked above
        number = port.get(field_name)
        if number is not None and number < UNPRIVILEGED:
            checker.warn(
                (*path, field_name),
                dg.Code.PRIVILEGED_PORT,
                f"{field_name} {number} is below {UNPRIVILEGED}: the rootless load balancer "
                "binds it only on hosts whose net.ipv4.ip_unprivileged_port_start is "
                f"{number} or lower",
                BIND_HINT,
            )
        elif number is not None and number in RESERVED:
            checker.error(
                (*path, field_name),
                dg.Code.HOST_PORT_CLASH,
                f"{field_name} {number} is in {RESERVED.start}-{RESERVED.stop - 1}, where the "
                "reconciler allocates the hosts' pod and probe ports",
                "choose a port outside that range",
            )
    protocol = port.get("protocol") or "TCP"
    if protocol != "TCP":
        checker.error(
            (*path, "protocol"),
            dg.Code.NOT_BUILT,
            f"protocol {protocol} is not built: the load balancer forwards TCP only",
            "remove protocol (TCP is the default)",
        )
    name = port.get("name")
    if name is not None and (len(name) > 63 or not checking.PORT_NAME.match(name)):
        checker.error(
            (*path, "name"),
            dg.Code.INVALID_NAME,
            f"port name {name!r} is not a DNS-1123 label",
            "use at most 63 lowercase letters, digits and '-', starting and ending with a "
            "letter or digit",
        )
    app_protocol = port.get("appProtocol")
    if app_protocol is not None:
        problem = checking.qualified_name_problem(app_protocol)
        if problem:
            checker.error(
                (*path, "appProtocol"),
                dg.Code.INVALID_VALUE,
                f"appProtocol {app_protocol!r} is not valid: {problem}",
                "write a protocol name such as http, or a prefixed name (example.com/proto)",
            )
    if kind == "NodePort" and not port.get("nodePort") and port.get("port") is not None:
        checker.warn(
            path,
            dg.Code.REQUIRED_FIELD,
            f"no nodePort is allocated here: the Service answers on port {port['port']} of "
            "every host's address, reachable from outside as a nodePort would be",
            "add nodePort: a number from 30000 to 32767 to listen on that port of every host too",
        )


# --- across the repository --------------------------------------------------------------------


@dataclass(frozen=True)
class _Claim:
    """A port some object binds on every host's addresses."""

    port: int
    owner: str  # "Service shop/web"
    file: str
    line: int
    column: int
    path: str

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


def check(placed: Iterable[Placed]) -> list[dg.Diagnostic]:
    """Cross-object findings; `placed` are the built objects with their documents. Run only
    when every file could be read (otherwise a missing pod may just be unread)."""
    placed = list(placed)
    services = [(o, d) for o, d in placed if isinstance(o, objects.Service)]
    pods = [_workload(o, d) for o, d in placed]
    workload_list = [w for w in pods if w is not None]
    found: list[dg.Diagnostic] = []
    found += _port_clashes(services, workload_list)
    for service, document in services:
        found += _selection(service, document, workload_list)
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


def _claim(port: int, owner: str, document: yamldocs.Document, path: pos.Path) -> _Claim:
    line, column = document.at(path)
    return _Claim(port, owner, document.file, line, column, pos.format_path(path))


def _port_clashes(
    services: list[tuple[objects.Service, yamldocs.Document]], pods: list[_Workload]
) -> list[dg.Diagnostic]:
    claims: list[_Claim] = []
    for service, document in services:
        owner = f"Service {service.meta.namespace}/{service.meta.name}"
        for index, port in enumerate(service.ports):
            path: pos.Path = ("spec", "ports", index)
            claims.append(_claim(port.port, owner, document, (*path, "port")))
            if port.node_port is not None:
                claims.append(_claim(port.node_port, owner, document, (*path, "nodePort")))
    claims.sort(key=lambda c: (c.file, c.line, c.column))
    found: list[dg.Diagnostic] = []
    first: dict[int, _Claim] = {}
    for claim in claims:
        earlier = first.setdefault(claim.port, claim)
        if earlier is not claim:
            found.append(_error(
                claim, dg.Code.HOST_PORT_CLASH,
                f"port {claim.port} is also bound by {earlier.where}: both listen on every "
                "host's addresses",
                "give each Service port (and nodePort) its own number",
            ))  # fmt: skip
    for pod in pods:
        for ci, container in enumerate(pod.spec.containers):
            for pi, cport in enumerate(container.ports):
                path = (*pod.spec_path, "containers", ci, "ports", pi, "hostPort")
                if cport.host_port is None or cport.protocol is not workloads.Protocol.TCP:
                    continue
                hp = _claim(cport.host_port, pod.owner, pod.document, path)
                if cport.host_port in RESERVED:
                    found.append(_error(
                        hp, dg.Code.HOST_PORT_CLASH,
                        f"hostPort {cport.host_port} is in {RESERVED.start}-{RESERVED.stop - 1}, "
                        "where the reconciler allocates the hosts' pod and probe ports",
                        "choose a hostPort outside that range, or none (the port is then "
                        "published on an allocated port and reached through a Service)",
                    ))  # fmt: skip
                bound = first.get(cport.host_port)
                if bound is not None:
                    found.append(_error(
                        hp, dg.Code.HOST_PORT_CLASH,
                        f"hostPort {cport.host_port} is the port of {bound.where}: both bind "
                        "every host's address",
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
