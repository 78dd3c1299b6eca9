"""The probe labels Podman keeps for the prober: a container's probes as JSON (`LABEL_PROBES`)
and a pod's probe ports as `containerPort=hostPort,...` (`LABEL_PROBE_PORTS`, written by the
planner's `probeports`). `podmanspec` writes the first at create time; `observed` reads both
back, leniently (a bad label means no probes).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from reconciler.model import hoststate, workloads

log = logging.getLogger(__name__)


def encode_probes(probes: tuple[hoststate.ContainerProbe, ...]) -> str:
    """Compact JSON: one object per probe, fields at their default left out."""
    default = workloads.Probe(workloads.ProbeHandler.EXEC)
    items: list[dict[str, Any]] = []
    for item in probes:
        probe = item.probe
        data: dict[str, Any] = {"kind": item.kind.value, "handler": probe.handler.value}
        for name in (
            "port", "path", "initial_delay_seconds", "period_seconds", "timeout_seconds",
            "success_threshold", "failure_threshold",
        ):  # fmt: skip
            value = getattr(probe, name)
            if value != getattr(default, name):
                data[name] = value
        if probe.command:
            data["command"] = list(probe.command)
        if probe.http_headers:
            data["http_headers"] = [list(pair) for pair in probe.http_headers]
        items.append(data)
    return json.dumps(items, separators=(",", ":"), sort_keys=True)


def _probe(data: Any) -> hoststate.ContainerProbe:
    if not isinstance(data, dict):
        raise ValueError("a probe is not an object")
    kind = hoststate.ProbeKind(data["kind"])
    handler = workloads.ProbeHandler(data["handler"])
    numbers: dict[str, int] = {}
    for name in (
        "port", "initial_delay_seconds", "period_seconds", "timeout_seconds",
        "success_threshold", "failure_threshold",
    ):  # fmt: skip
        if name in data:
            value = data[name]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} is not a count")
            numbers[name] = value
    command = tuple(str(arg) for arg in data.get("command") or ())
    headers = tuple((str(k), str(v)) for k, v in data.get("http_headers") or ())
    probe = workloads.Probe(
        handler=handler,
        command=command,
        path=str(data.get("path", "/")),
        http_headers=headers,
        **numbers,
    )
    if probe.period_seconds < 1 or probe.timeout_seconds < 1:
        raise ValueError("period and timeout must be at least 1 second")
    return hoststate.ContainerProbe(kind, probe)


def decode_probes(text: str, where: str = "") -> tuple[hoststate.ContainerProbe, ...]:
    """The probes of a LABEL_PROBES value; () (and a debug log) when it cannot be read."""
    if not text:
        return ()
    try:
        items = json.loads(text)
        if not isinstance(items, list):
            raise ValueError("not a list")
        return tuple(_probe(item) for item in items)
    except (ValueError, KeyError, TypeError) as exc:
        log.debug("%s: unreadable %s label (%s): no probes", where, hoststate.LABEL_PROBES, exc)
        return ()


def decode_ports(text: str, where: str = "") -> tuple[tuple[int, int], ...]:
    """(container port, host port) pairs of a LABEL_PROBE_PORTS value; () when unreadable."""
    if not text:
        return ()
    try:
        pairs = []
        for item in text.split(","):
            container, _, host = item.partition("=")
            pair = (int(container), int(host))
            if not all(0 < p < 65536 for p in pair):
                raise ValueError(f"port out of range in {item!r}")
            pairs.append(pair)
        return tuple(sorted(pairs))
    except ValueError as exc:
        log.debug("%s: unreadable %s label (%s)", where, hoststate.LABEL_PROBE_PORTS, exc)
        return ()
