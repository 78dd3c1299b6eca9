"""probeports.allocate: loopback probe ports for probed container ports without hostPort, kept
per pod, never colliding with what the host runs, outside the spec hash."""

from __future__ import annotations

from reconciler.model import base, hoststate, workloads
from reconciler.plan import probeports

Kind = hoststate.ProbeKind
Handler = workloads.ProbeHandler


def run(name: str, *ports: int, host: str = "h1", host_ports: tuple[int, ...] = (),
        exec_only: bool = False) -> hoststate.PodRun:  # fmt: skip
    probes = tuple(
        hoststate.ContainerProbe(
            Kind.READINESS,
            workloads.Probe(Handler.EXEC, command=("true",))
            if exec_only
            else workloads.Probe(Handler.HTTP_GET if p % 2 == 0 else Handler.TCP_SOCKET, port=p),
        )
        for p in ports
    )
    published = tuple(
        hoststate.PortMapping(hp, cp) for cp, hp in zip(ports, host_ports, strict=False)
    )
    return hoststate.PodRun(
        namespace="ns",
        name=name,
        host=host,
        spec_hash=f"hash-{name}",
        labels=base.FrozenMap({"app": name}),
        containers=(hoststate.ContainerRun("c", "img", probes=probes),),
        ports=published,
    )


def observed(name: str, host: str = "h1", probe_ports: tuple[tuple[int, int], ...] = (),
             host_ports: str = "") -> hoststate.ObservedPod:  # fmt: skip
    labels = {hoststate.LABEL_HOST_PORTS: host_ports} if host_ports else {}
    frozen = base.FrozenMap(labels)
    return hoststate.ObservedPod(
        "ns", name, host, f"id-{name}", f"hash-{name}", labels=frozen, probe_ports=probe_ports
    )


def seen(*pods: hoststate.ObservedPod) -> dict[str, hoststate.HostObservation]:
    hosts = {p.host for p in pods} | {"h1", "h2"}
    return {h: hoststate.HostObservation(h, True, tuple(p for p in pods if p.host == h))
            for h in hosts}  # fmt: skip


def ports_of(r: hoststate.PodRun) -> list[tuple[int, int, str]]:
    return [(p.container_port, p.host_port, p.host_ip) for p in r.probe_ports]


def test_lowest_free_ports_per_host_and_label() -> None:
    a, b, c = probeports.allocate([run("a", 8080, 9091), run("b", 8080), run("c", 8080, host="h2")],
                                  seen())  # fmt: skip
    assert ports_of(a) == [(8080, 41000, "127.0.0.1"), (9091, 41001, "127.0.0.1")]
    assert ports_of(b) == [(8080, 41002, "127.0.0.1")]
    assert ports_of(c) == [(8080, 41000, "127.0.0.1")]
    assert a.labels[hoststate.LABEL_PROBE_PORTS] == "8080=41000,9091=41001"
    assert a.spec_hash == "hash-a"


def test_running_pod_keeps_its_port_and_others_avoid_used_ones() -> None:
    world = seen(observed("a", probe_ports=((8080, 41003),)),
                 observed("old", probe_ports=((8080, 41000),), host_ports="41001/TCP"))  # fmt: skip
    new, a = probeports.allocate([run("new", 8080), run("a", 8080)], world)
    assert ports_of(a) == [(8080, 41003, "127.0.0.1")]
    assert ports_of(new) == [(8080, 41002, "127.0.0.1")]


def test_host_port_is_used_directly_and_not_published_twice() -> None:
    (r,) = probeports.allocate([run("a", 8080, host_ports=(8080,))], seen())
    assert r.probe_ports == ()
    assert r.labels[hoststate.LABEL_PROBE_PORTS] == "8080=8080"


def test_host_port_on_another_address_gets_a_loopback_port() -> None:
    base_run = run("a", 8080)
    published = (hoststate.PortMapping(8080, 8080, "tcp", "198.18.0.11"),)
    (r,) = probeports.allocate([hoststate.PodRun(**{**base_run.__dict__, "ports": published})],
                               seen())  # fmt: skip
    assert ports_of(r) == [(8080, 41000, "127.0.0.1")]


def test_exec_only_and_idempotent() -> None:
    (r,) = probeports.allocate([run("a", 1, exec_only=True)], seen())
    assert r.probe_ports == () and hoststate.LABEL_PROBE_PORTS not in r.labels
    (once,) = probeports.allocate([run("b", 8080)], seen())
    (twice,) = probeports.allocate([once], seen())
    assert twice == once


def test_full_range_leaves_the_port_out() -> None:
    taken = tuple((p, p) for p in probeports.RANGE)
    (r,) = probeports.allocate([run("new", 8080)], seen(observed("big", probe_ports=taken)))
    assert r.probe_ports == ()
