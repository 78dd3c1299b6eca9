"""Container ports a pod publishes without declaring them: the numeric `targetPort` of every
Service that selects it. In Kubernetes a container's `ports` are informational and a Service
reaches any port of a pod's address; here only published ports answer for other hosts, so
`pipeline.build_plan` adds these to the spec `podports.allocate` publishes. Pure, no I/O.

A named targetPort must still be declared (`manifests.servicechecks` says so); published ports
are not part of the spec hash, so a running pod gets a newly targeted port when it is next
replaced (`validate` warns).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from reconciler.model import objects, workloads
from reconciler.plan import expand


def targeted(pod: expand.DesiredPod, services: Iterable[objects.Service]) -> tuple[int, ...]:
    """The numeric target ports of the Services of the pod's namespace whose selector matches
    its labels, that no container of the pod declares as TCP; sorted, each once."""
    declared = {
        port.container_port
        for container in pod.spec.containers
        for port in container.ports
        if port.protocol is workloads.Protocol.TCP
    }
    wanted = {
        port.target_port
        for service in services
        if service.meta.namespace == pod.namespace
        and service.selector
        and all(pod.labels.get(k) == v for k, v in service.selector.items())
        for port in service.ports
        if isinstance(port.target_port, int)
    }
    return tuple(sorted(wanted - declared))


def with_targeted(
    pod: expand.DesiredPod, services: Iterable[objects.Service]
) -> workloads.PodSpec:
    """The pod's spec with the targeted ports added to its first container (the containers of
    a pod share its network, so which one does not matter)."""
    extra = targeted(pod, services)
    if not extra or not pod.spec.containers:
        return pod.spec
    first, *rest = pod.spec.containers
    ports = (*first.ports, *(workloads.ContainerPort(number) for number in extra))
    return dataclasses.replace(
        pod.spec, containers=(dataclasses.replace(first, ports=ports), *rest)
    )
