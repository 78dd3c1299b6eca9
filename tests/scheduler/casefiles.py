"""Read scheduler data cases (tests/cases/scheduler/<case>/input.yaml + expected.json) into the
scheduler's input values, and render a Placement in the expected.json shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from reconciler.scheduler.inputs import (
    HostInfo,
    HostPort,
    PodRequest,
    Protocol,
    Taint,
    TaintEffect,
    Toleration,
    TolerationOperator,
)
from reconciler.scheduler.result import Placement

CASES = Path(__file__).resolve().parent.parent / "cases" / "scheduler"
_BINARY = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}


def cpu_millis(value: str | int) -> int:
    """Kubernetes cpu quantity: "500m" or a number of cores."""
    text = str(value)
    if text.endswith("m"):
        return int(text[:-1])
    return int(float(text) * 1000)


def memory_bytes(value: str | int) -> int:
    text = str(value)
    for suffix, factor in _BINARY.items():
        if text.endswith(suffix):
            return int(text[: -len(suffix)]) * factor
    return int(text)


def _host(raw: dict[str, Any]) -> HostInfo:
    return HostInfo(
        name=raw["name"],
        ready=raw.get("ready", True),
        cpu_millis=cpu_millis(raw.get("cpu", 0)),
        memory_bytes=memory_bytes(raw.get("memory", 0)),
        labels=dict(raw.get("labels", {})),
        taints=tuple(
            Taint(t["key"], t.get("value", ""), TaintEffect(t.get("effect", "NoSchedule")))
            for t in raw.get("taints", [])
        ),
    )


def _port(raw: str | int) -> HostPort:
    port, _, protocol = str(raw).partition("/")
    return HostPort(int(port), Protocol(protocol or "TCP"))


def _toleration(raw: dict[str, Any]) -> Toleration:
    return Toleration(
        key=raw.get("key", ""),
        operator=TolerationOperator(raw.get("operator", "Equal")),
        value=raw.get("value", ""),
        effect=TaintEffect(raw["effect"]) if "effect" in raw else None,
    )


def _pod(raw: dict[str, Any]) -> PodRequest:
    return PodRequest(
        key=raw["key"],
        owner=raw.get("owner"),
        cpu_millis=cpu_millis(raw.get("cpu", 0)),
        memory_bytes=memory_bytes(raw.get("memory", 0)),
        node_selector=dict(raw.get("nodeSelector", {})),
        tolerations=tuple(_toleration(t) for t in raw.get("tolerations", [])),
        host_ports=frozenset(_port(p) for p in raw.get("hostPorts", [])),
        bound_host=raw.get("boundHost"),
    )


def load_input(case: Path) -> tuple[list[HostInfo], list[PodRequest]]:
    raw = YAML(typ="safe").load((case / "input.yaml").read_text())
    return [_host(h) for h in raw["hosts"]], [_pod(p) for p in raw["pods"]]


def load_expected(case: Path) -> dict[str, Any]:
    expected: dict[str, Any] = json.loads((case / "expected.json").read_text())
    return expected


def render(placement: Placement) -> dict[str, Any]:
    return {"bindings": dict(placement.bindings), "unschedulable": placement.messages()}


def case_dirs() -> list[Path]:
    return sorted(path for path in CASES.iterdir() if (path / "input.yaml").exists())
