"""Values of `env[].valueFrom.fieldRef` and `resourceFieldRef`. Pod fields and resources known
before scheduling become literal values in `resolve`; those that depend on the host (its name,
its address, a limit left to the host's capacity) stay `HostField` markers until `podrun.build`
knows the host and puts the values in (before the spec hash is taken).
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

from reconciler.model import hoststate, objects, quantity, workloads
from reconciler.plan import expand

HOST_PATHS = ("spec.nodeName", "status.hostIP", "status.podIP")


class HostField(str):
    """An env value known once the pod has a host: `path` is a fieldPath of HOST_PATHS or a
    resource (`limits.cpu`, `limits.memory`) with its `divisor`; the text is a readable marker."""

    path: str
    divisor: Fraction

    def __new__(cls, path: str, divisor: Fraction = Fraction(1)) -> HostField:
        marker = super().__new__(cls, f"<host {path}>")  # no "$": never expanded
        marker.path = path
        marker.divisor = divisor
        return marker


def literal_env(container: workloads.Container, pod: expand.DesiredPod) -> workloads.Container:
    """`container` with every fieldRef/resourceFieldRef variable turned into a literal `value`
    (a `HostField` when it depends on the host)."""
    if not any(var.field_path or var.resource_field for var in container.env):
        return container
    env = tuple(
        _literal(var, _value(var, container, pod)) if var.field_path or var.resource_field else var
        for var in container.env
    )
    return dataclasses.replace(container, env=env)


def _literal(var: workloads.EnvVar, value: str) -> workloads.EnvVar:
    return dataclasses.replace(var, value=value, field_path="", resource_field=None)


def _value(var: workloads.EnvVar, container: workloads.Container, pod: expand.DesiredPod) -> str:
    if var.field_path:
        path = var.field_path
        if path == "metadata.name":
            return pod.name
        if path == "metadata.namespace":
            return pod.namespace
        if path.startswith("metadata.labels['"):
            return pod.labels.get(path[len("metadata.labels['"):-2], "")
        return HostField(path)
    ref = var.resource_field
    assert ref is not None
    target = next((c for c in pod.spec.containers if c.name == ref.container_name), container)
    kind, _, resource = ref.resource.partition(".")
    divisor = quantity.parse(ref.divisor)
    res = target.resources
    if resource == "cpu":
        amount = res.cpu_limit if kind == "limits" else res.cpu_request
        millis = amount if amount is not None else None
        if millis is None and kind == "requests":
            millis = res.cpu_limit or 0  # as Kubernetes: a request defaults to the limit
        if millis is None:
            return HostField(ref.resource, divisor)
        return _ceil(Fraction(millis, 1000), divisor)
    amount = res.memory_limit if kind == "limits" else res.memory_request
    if amount is None and kind == "requests":
        amount = res.memory_limit or 0
    if amount is None:
        return HostField(ref.resource, divisor)
    return _ceil(Fraction(amount), divisor)


def _ceil(value: Fraction, divisor: Fraction) -> str:
    return str(math.ceil(value / divisor))


def attach_host(
    containers: tuple[hoststate.ContainerRun, ...], name: str, host: objects.Host | None
) -> tuple[hoststate.ContainerRun, ...]:
    """`containers` with every `HostField` value replaced by its value on `host` ("" when the
    Host object is not known)."""
    if not any(isinstance(v, HostField) for c in containers for _, v in c.env):
        return containers
    return tuple(
        dataclasses.replace(c, env=tuple((k, _on_host(v, name, host)) for k, v in c.env))
        for c in containers
    )


def _on_host(value: str, name: str, host: objects.Host | None) -> str:
    if not isinstance(value, HostField):
        return value
    if value.path == "spec.nodeName":
        return name
    if host is None:
        return ""
    if value.path in ("status.hostIP", "status.podIP"):
        return host.address  # pods are reached at their host's address (published ports)
    if value.path == "limits.cpu":
        return _ceil(Fraction(host.cpu_capacity, 1000), value.divisor)
    return _ceil(Fraction(host.memory_capacity), value.divisor)
