"""Checks of a container's liveness, readiness and startup probes: one handler each, a port the
container declares, Kubernetes' rules on thresholds, and what the reconciler's prober cannot do.

Part of the pod spec checks (`podchecks`); `resolve_port` is shared with `build`, which turns a
probe's port name into the container port number.
"""

from __future__ import annotations

import re
from typing import Any

from reconciler.manifests import checking
from reconciler.manifests import positions as pos
from reconciler.model import diagnostics as dg

PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
HANDLERS = ("exec", "httpGet", "tcpSocket")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
Doc = checking.Doc


def resolve_port(ports: list[Doc], port: int | str, *, numbers: bool = False) -> int | None:
    """The TCP container port that a `port` (a number or a port name) refers to, or None when
    the container declares no such TCP port. With `numbers` (probes), a number the container
    does not declare is that port itself, as in Kubernetes, where `ports` is informational:
    `plan.probeports` publishes every probed port on the host's 127.0.0.1. A number declared
    only as UDP stays None."""
    for declared in ports:
        if (declared.get("protocol") or "TCP") != "TCP":
            continue
        if port == declared["containerPort"] or port == declared.get("name"):
            return int(declared["containerPort"])
    if numbers and isinstance(port, int) and all(port != d["containerPort"] for d in ports):
        return port
    return None


def check_probes(checker: checking.Checker, cpath: pos.Path, container: Doc) -> None:
    """Every probe of one container (`cpath` is the container's path)."""
    for name in PROBES:
        probe = container.get(name)
        if probe is not None:
            _probe(checker, (*cpath, name), name, probe, container.get("ports") or [])


def _probe(
    checker: checking.Checker, path: pos.Path, name: str, probe: Doc, ports: list[Doc]
) -> None:
    handlers = [h for h in HANDLERS if probe.get(h) is not None]
    if len(handlers) != 1:
        found = f"found {', '.join(handlers)}" if handlers else "found none"
        checker.error(
            path,
            dg.Code.INVALID_VALUE,
            f"a probe needs exactly one of exec, httpGet, tcpSocket ({found})",
            "keep exactly one handler in this probe",
        )
    success = probe.get("successThreshold")
    if name != "readinessProbe" and success is not None and success != 1:
        checker.error(
            (*path, "successThreshold"),
            dg.Code.INVALID_VALUE,
            f"successThreshold of a {name} must be 1 (Kubernetes' rule), not {success}",
            "remove successThreshold or set it to 1",
        )
    exec_ = probe.get("exec")
    if exec_ is not None and not exec_["command"]:
        checker.error(
            (*path, "exec", "command"),
            dg.Code.INVALID_VALUE,
            "exec.command is empty",
            'give the program and its arguments, for example ["cat", "/tmp/healthy"]',
        )
    http = probe.get("httpGet")
    if http is not None:
        _http_get(checker, (*path, "httpGet"), http, ports)
    tcp = probe.get("tcpSocket")
    if tcp is not None:
        _port(checker, (*path, "tcpSocket", "port"), tcp["port"], ports)


def _http_get(checker: checking.Checker, path: pos.Path, http: Doc, ports: list[Doc]) -> None:
    _port(checker, (*path, "port"), http["port"], ports)
    scheme = http.get("scheme")
    if scheme == "HTTPS":
        checker.error(
            (*path, "scheme"),
            dg.Code.UNSUPPORTED_FIELD,
            "scheme HTTPS is not supported by reconciler's prober",
            'remove scheme or set it to "HTTP" (probe a plain-HTTP port), or use tcpSocket',
        )
    elif scheme not in (None, "HTTP"):
        checker.error(
            (*path, "scheme"),
            dg.Code.INVALID_VALUE,
            f'scheme must be "HTTP", not "{scheme}"',
            'remove scheme or set it to "HTTP"',
        )
    request_fields(checker, path, http)


def request_fields(checker: checking.Checker, path: pos.Path, http: Doc) -> None:
    """An httpGet's `path` and `httpHeaders` (a probe's or a lifecycle hook's): an absolute
    path without spaces, header names that are HTTP tokens, values on one line."""
    request_path = http.get("path")
    if request_path is not None and (
        not request_path.startswith("/") or any(c.isspace() for c in request_path)
    ):
        checker.error(
            (*path, "path"),
            dg.Code.INVALID_VALUE,
            f"path {request_path!r} is not an absolute request path",
            "start it with '/' and leave out spaces (write %20)",
        )
    for index, header in enumerate(http.get("httpHeaders") or []):
        if not _HEADER_NAME.match(header["name"]):
            checker.error(
                (*path, "httpHeaders", index, "name"),
                dg.Code.INVALID_NAME,
                f"{header['name']!r} is not a valid HTTP header name",
                "use letters, digits and '-', for example X-Probe",
            )
        if any(c in header["value"] for c in "\r\n\0"):
            checker.error(
                (*path, "httpHeaders", index, "value"),
                dg.Code.INVALID_VALUE,
                "a header value cannot hold a line break or NUL",
                "write the value on one line",
            )


def _port(checker: checking.Checker, path: pos.Path, port: Any, ports: list[Doc]) -> None:
    if resolve_port(ports, port, numbers=True) is not None:
        return
    declared = ", ".join(_describe(p) for p in ports if (p.get("protocol") or "TCP") == "TCP")
    if isinstance(port, str) and port.isascii() and port.isdigit():
        hint = "write the port number without quotes"
    elif any(port in (p["containerPort"], p.get("name")) for p in ports):
        hint = "that port is UDP and probes connect over TCP: probe a TCP port, or use exec"
    else:
        fields = "containerPort" if isinstance(port, int) else "containerPort and name"
        hint = f"add it to this container's ports ({fields}), or probe a declared one" + (
            f"; declared TCP ports: {declared}" if declared else " (none is declared yet)"
        )
    what = f"port {port}" if isinstance(port, int) else f"port name {port!r}"
    checker.error(
        path,
        dg.Code.MISSING_REFERENCE,
        f"the probe's {what} is not a TCP port this container declares",
        hint,
    )


def _describe(port: Doc) -> str:
    name = port.get("name")
    return f"{port['containerPort']} ({name})" if name else str(port["containerPort"])
