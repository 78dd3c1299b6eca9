"""Checks of one Service document beyond its schema (run by `checks` with the other per-object
checks): a DNS-1035 name, clusterIP, and each port's number, nodePort, protocol, name and
appProtocol. What only the whole repository shows (clashes, selectors) is `servicechecks`'.
"""

from __future__ import annotations

import ipaddress
import re

from reconciler.manifests import checking
from reconciler.manifests import positions as pos
from reconciler.model import clusterips
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
    _cluster_ip(checker, spec.get("clusterIP"), kind)
    ports: list[checking.Doc] = spec.get("ports") or []  # none: headless (checks)
    checker.unique(("spec", "ports"), [p for p in ports if p.get("nodePort")], "nodePort",
                   "nodePort")  # fmt: skip
    for index, port in enumerate(ports):
        _port_fields(checker, ("spec", "ports", index), port, kind)


def _cluster_ip(checker: checking.Checker, value: str | None, kind: str) -> None:
    """`clusterIP`: unset or "" (allocated from the service CIDR), an IP address (pinned; the
    repository-wide check says whether it lies in the CIDR), or "None" (headless, `podips`)
    for a ClusterIP Service only, as the Kubernetes API server requires."""
    if not value:
        return
    if value == clusterips.HEADLESS:
        if kind != "ClusterIP":
            checker.error(("spec", "clusterIP"), dg.Code.INVALID_VALUE,
                          f"a {kind} Service cannot be headless (clusterIP: None)",
                          "remove clusterIP, or the type (headless is type ClusterIP)")  # fmt: skip
        return
    try:
        ipaddress.ip_address(value)
    except ValueError:
        checker.error(
            ("spec", "clusterIP"),
            dg.Code.INVALID_VALUE,
            f"clusterIP {value!r} is not an IP address",
            "remove clusterIP (one is allocated from the service CIDR) or write an address in it",
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
