"""Where httpGet and tcpSocket probes reach a container port on its host: the port's hostPort
or its published port (`podports`) when it has one, else a loopback-only port (127.0.0.1)
allocated here from `RANGE` and published by Podman. Runs in `pipeline.build_plan` after
`podports.allocate`; pure, no I/O.

A running pod keeps its allocation (read back from its LABEL_PROBE_PORTS). Probe ports are not
part of the spec hash: they depend on what else runs on the host, not on the manifest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from reconciler.model import base, hoststate, workloads
from reconciler.plan import podports

RANGE = range(41000, 42000)
NETWORK_HANDLERS = frozenset({workloads.ProbeHandler.HTTP_GET, workloads.ProbeHandler.TCP_SOCKET})
LOOPBACK_IPS = frozenset({"", "0.0.0.0", "127.0.0.1"})  # noqa: S104 (compared, never bound)
"""A hostPort published on one of these answers on the host's 127.0.0.1."""


def probed_ports(run: hoststate.PodRun) -> tuple[int, ...]:
    """The container ports the run's httpGet/tcpSocket probes connect to, sorted."""
    return tuple(
        sorted(
            {
                item.probe.port
                for container in run.containers
                for item in container.probes
                if item.probe.handler in NETWORK_HANDLERS and item.probe.port > 0
            }
        )
    )


def host_port_for(run: hoststate.PodRun, container_port: int) -> int | None:
    """The hostPort (or published pod port, see `podports`) that publishes `container_port`
    (TCP) where 127.0.0.1 reaches it, if any."""
    for port in (*run.ports, *run.published_ports):
        if (
            port.container_port == container_port
            and port.protocol.lower() == "tcp"
            and port.host_ip in LOOPBACK_IPS
        ):
            return port.host_port
    return None


def encode(ports: Mapping[int, int]) -> str:
    """The LABEL_PROBE_PORTS value: `containerPort=hostPort,...` sorted by container port."""
    return ",".join(f"{c}={h}" for c, h in sorted(ports.items()))


def allocate(
    runs: Iterable[hoststate.PodRun],
    observations: Mapping[str, hoststate.HostObservation],
) -> tuple[hoststate.PodRun, ...]:
    """`runs` with `probe_ports` and the LABEL_PROBE_PORTS label set, in the same order.

    A probed container port without a hostPort reuses the port the same pod (namespace, name)
    observed on the same host has for it, else gets the lowest port of `RANGE` that no observed
    pod and no other run on that host uses (none when all are taken: its probes then fail
    with "container port N is not published on the host").
    """
    runs = list(runs)
    observed: dict[tuple[str, str, str], hoststate.ObservedPod] = {}
    used: dict[str, set[int]] = {}
    for host, seen in observations.items():
        for pod in seen.pods:
            observed[(host, pod.namespace, pod.name)] = pod
            used.setdefault(host, set()).update(podports.observed_used(pod))
    for run in runs:
        used.setdefault(run.host, set()).update(podports.run_used(run))

    wanted: list[dict[int, int]] = []
    for run in runs:  # first keep what running pods have, so a new pod never takes it
        ports: dict[int, int] = {}
        previous = observed.get((run.host, run.namespace, run.name))
        kept = dict(previous.probe_ports) if previous is not None else {}
        kept.update((p.container_port, p.host_port) for p in run.probe_ports)  # allocated before
        for container_port in probed_ports(run):
            host_port = host_port_for(run, container_port)
            if host_port is None and kept.get(container_port) in RANGE:
                host_port = kept[container_port]
                used[run.host].add(host_port)
            if host_port is not None:
                ports[container_port] = host_port
        wanted.append(ports)

    out = []
    for run, ports in zip(runs, wanted, strict=True):
        allocated: list[hoststate.PortMapping] = []
        for container_port in probed_ports(run):
            if container_port not in ports:
                host_port = next((p for p in RANGE if p not in used[run.host]), None)
                if host_port is None:
                    continue  # the range is full: its probes fail, saying the port is missing
                used[run.host].add(host_port)
                ports[container_port] = host_port
            if host_port_for(run, container_port) is None:
                allocated.append(
                    hoststate.PortMapping(ports[container_port], container_port, "tcp", "127.0.0.1")
                )
        out.append(_with_ports(run, ports, tuple(allocated)))
    return tuple(out)


def _with_ports(
    run: hoststate.PodRun, ports: Mapping[int, int], allocated: tuple[hoststate.PortMapping, ...]
) -> hoststate.PodRun:
    labels = dict(run.labels)
    labels.pop(hoststate.LABEL_PROBE_PORTS, None)
    if ports:
        labels[hoststate.LABEL_PROBE_PORTS] = encode(ports)
    if labels == dict(run.labels) and allocated == run.probe_ports:
        return run
    return dataclasses.replace(run, labels=base.FrozenMap(labels), probe_ports=allocated)
