"""Where a pod's declared ports answer for other hosts (Service backends): a TCP containerPort
with a hostPort at that hostPort, every other declared TCP containerPort at a port allocated here
from `RANGE` and published by Podman on every address of the host. Runs in
`pipeline.build_plan` after `podrun.build` and before `probeports.allocate`; pure, no I/O.

A running pod keeps its allocation (read back from its LABEL_POD_PORTS). Allocated ports are not
part of the spec hash: they depend on what else runs on the host, not on the manifest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from reconciler.model import base, hoststate, workloads

RANGE = range(42000, 45000)
"""Host ports allocated to published pod ports (probe-only loopback ports use 41000-41999)."""
RESERVED = range(41000, 45000)
"""Every port the planner allocates from (probe ports and pod ports): no hostPort in here."""


def declared_ports(spec: workloads.PodSpec) -> tuple[int, ...]:
    """The TCP container ports of `spec` that have no hostPort, sorted, each once."""
    with_host = {
        p.container_port
        for c in spec.containers
        for p in c.ports
        if p.host_port is not None and p.protocol is workloads.Protocol.TCP
    }
    return tuple(
        sorted(
            {
                p.container_port
                for c in spec.containers
                for p in c.ports
                if p.host_port is None
                and p.protocol is workloads.Protocol.TCP
                and p.container_port not in with_host
            }
        )
    )


def port_names(spec: workloads.PodSpec) -> dict[str, int]:
    """Named TCP container ports of `spec`: name -> container port."""
    return {
        p.name: p.container_port
        for c in spec.containers
        for p in c.ports
        if p.name and p.protocol is workloads.Protocol.TCP
    }


def encode(ports: Mapping[int, int]) -> str:
    """`containerPort=hostPort,...` (LABEL_POD_PORTS), sorted by container port."""
    return ",".join(f"{c}={h}" for c, h in sorted(ports.items()))


def encode_names(names: Mapping[str, int]) -> str:
    """`name=containerPort,...` (LABEL_PORT_NAMES), sorted by name."""
    return ",".join(f"{n}={c}" for n, c in sorted(names.items()))


def decode(label: str) -> dict[int, int]:
    """The pairs of a LABEL_POD_PORTS value; malformed items are skipped (a label is input)."""
    ports = {}
    for item in label.split(","):
        left, _, right = item.partition("=")
        if left.isdigit() and right.isdigit() and 0 < int(left) < 65536 and 0 < int(right) < 65536:
            ports[int(left)] = int(right)
    return ports


def decode_names(label: str) -> dict[str, int]:
    """The pairs of a LABEL_PORT_NAMES value; malformed items are skipped."""
    names = {}
    for item in label.split(","):
        name, _, port = item.partition("=")
        if name and port.isdigit() and 0 < int(port) < 65536:
            names[name] = int(port)
    return names


def observed_ports(pod: hoststate.ObservedPod) -> dict[int, int]:
    """Container port -> host port where `pod` answers on its host's addresses."""
    return decode(pod.labels.get(hoststate.LABEL_POD_PORTS, ""))


def observed_names(pod: hoststate.ObservedPod) -> dict[str, int]:
    return decode_names(pod.labels.get(hoststate.LABEL_PORT_NAMES, ""))


def observed_used(pod: hoststate.ObservedPod) -> set[int]:
    """Every host port a running pod holds: published, probe-only and hostPorts (its labels)."""
    used = set(observed_ports(pod).values()) | {host for _, host in pod.probe_ports}
    for item in pod.labels.get(hoststate.LABEL_HOST_PORTS, "").split(","):
        number = item.partition("/")[0]
        if number.isdigit():
            used.add(int(number))
    return used


def run_used(run: hoststate.PodRun) -> set[int]:
    """Every host port a pod about to run takes."""
    return {p.host_port for p in (*run.ports, *run.probe_ports, *run.published_ports)}


def _host_ports(run: hoststate.PodRun) -> dict[int, int]:
    return {p.container_port: p.host_port for p in run.ports if p.protocol.lower() == "tcp"}


def allocate(
    runs: Iterable[hoststate.PodRun],
    specs: Mapping[tuple[str, str], workloads.PodSpec],
    observations: Mapping[str, hoststate.HostObservation],
) -> tuple[hoststate.PodRun, ...]:
    """`runs` with `published_ports` and the LABEL_POD_PORTS / LABEL_PORT_NAMES labels set, in
    the same order. `specs` are the pod specs by (namespace, name).

    A declared port without hostPort reuses the port the same pod observed on the same host has
    for it, else gets the lowest port of `RANGE` that no observed pod and no other run on that
    host uses (none when all are taken: the port is then not published, and no Service reaches
    it on that pod).
    """
    runs = list(runs)
    observed: dict[tuple[str, str, str], hoststate.ObservedPod] = {}
    used: dict[str, set[int]] = {}
    for host, seen in observations.items():
        for pod in seen.pods:
            observed[(host, pod.namespace, pod.name)] = pod
            used.setdefault(host, set()).update(observed_used(pod))
    for run in runs:
        used.setdefault(run.host, set()).update(run_used(run))

    empty = workloads.PodSpec(containers=())
    wanted: list[dict[int, int]] = []
    for run in runs:  # first keep what running pods have, so a new pod never takes it
        previous = observed.get((run.host, run.namespace, run.name))
        kept = observed_ports(previous) if previous is not None else {}
        kept.update((p.container_port, p.host_port) for p in run.published_ports)
        ports: dict[int, int] = {}
        for container_port in declared_ports(specs.get((run.namespace, run.name), empty)):
            if kept.get(container_port) in RANGE:
                ports[container_port] = kept[container_port]
                used[run.host].add(kept[container_port])
        wanted.append(ports)

    out = []
    for run, ports in zip(runs, wanted, strict=True):
        spec = specs.get((run.namespace, run.name), empty)
        for container_port in declared_ports(spec):
            if container_port not in ports:
                host_port = next((p for p in RANGE if p not in used[run.host]), None)
                if host_port is None:
                    continue  # the range is full: the port is not published on this host
                used[run.host].add(host_port)
                ports[container_port] = host_port
        published = tuple(hoststate.PortMapping(h, c, "tcp", "") for c, h in sorted(ports.items()))
        out.append(_with_ports(run, {**ports, **_host_ports(run)}, port_names(spec), published))
    return tuple(out)


def _with_ports(
    run: hoststate.PodRun,
    ports: Mapping[int, int],
    names: Mapping[str, int],
    published: tuple[hoststate.PortMapping, ...],
) -> hoststate.PodRun:
    labels = dict(run.labels)
    for key, value in (
        (hoststate.LABEL_POD_PORTS, encode(ports)),
        (hoststate.LABEL_PORT_NAMES, encode_names(names)),
    ):
        labels.pop(key, None)
        if value:
            labels[key] = value
    if labels == dict(run.labels) and published == run.published_ports:
        return run
    return dataclasses.replace(run, labels=base.FrozenMap(labels), published_ports=published)
