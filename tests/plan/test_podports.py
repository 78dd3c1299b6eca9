"""podports.allocate: every declared TCP containerPort without hostPort is published on a host
port from RANGE, collision-free per host, kept for a running pod, outside the spec hash; probes
of such a port use it instead of a loopback port."""

from __future__ import annotations

from reconciler.manifests import servicefields
from reconciler.model import base, hoststate, objects, workloads
from reconciler.plan import binding, labels, podports, podrun, probeports
from reconciler.scheduler import inputs, placement

P = workloads.ContainerPort


def spec(*ports: workloads.ContainerPort) -> workloads.PodSpec:
    return workloads.PodSpec(containers=(workloads.Container(name="c", image="img", ports=ports),))


def run(name: str, host: str = "h1", host_ports: tuple[tuple[int, int], ...] = (),
        probe: int = 0) -> hoststate.PodRun:  # fmt: skip
    probes = (
        (hoststate.ContainerProbe(hoststate.ProbeKind.READINESS,
                                  workloads.Probe(workloads.ProbeHandler.TCP_SOCKET, port=probe)),)
        if probe else ()
    )  # fmt: skip
    return hoststate.PodRun(
        namespace="ns",
        name=name,
        host=host,
        spec_hash=f"hash-{name}",
        labels=base.FrozenMap({"app": name}),
        containers=(hoststate.ContainerRun("c", "img", probes=probes),),
        ports=tuple(hoststate.PortMapping(hp, cp) for cp, hp in host_ports),
    )


def observed(name: str, host: str = "h1", **label_values: str) -> hoststate.ObservedPod:
    names = {"pod_ports": hoststate.LABEL_POD_PORTS, "host_ports": hoststate.LABEL_HOST_PORTS}
    values = {names[k]: v for k, v in label_values.items()}
    return hoststate.ObservedPod("ns", name, host, f"id-{name}", f"hash-{name}",
                                 labels=base.FrozenMap(values))  # fmt: skip


def seen(*pods: hoststate.ObservedPod) -> dict[str, hoststate.HostObservation]:
    hosts = {p.host for p in pods} | {"h1", "h2"}
    return {h: hoststate.HostObservation(h, True, tuple(p for p in pods if p.host == h))
            for h in hosts}  # fmt: skip


def published(r: hoststate.PodRun) -> list[tuple[int, int, str]]:
    return [(p.container_port, p.host_port, p.host_ip) for p in r.published_ports]


WEB = spec(P(8080, name="http"), P(9090, name="metrics"), P(5353, protocol=workloads.Protocol.UDP))


def test_declared_tcp_ports_without_host_port_get_the_lowest_free_ports_per_host() -> None:
    specs = {("ns", "a"): WEB, ("ns", "b"): WEB, ("ns", "c"): WEB}
    a, b, c = podports.allocate([run("a"), run("b"), run("c", host="h2")], specs, seen())
    assert published(a) == [(8080, 42000, ""), (9090, 42001, "")]  # every address; UDP not
    assert published(b) == [(8080, 42002, ""), (9090, 42003, "")]
    assert published(c) == [(8080, 42000, ""), (9090, 42001, "")]  # another host: own ports
    assert a.labels[hoststate.LABEL_POD_PORTS] == "8080=42000,9090=42001"
    assert a.labels[hoststate.LABEL_PORT_NAMES] == "http=8080,metrics=9090"


def test_host_ports_are_not_allocated_but_recorded() -> None:
    specs = {("ns", "a"): spec(P(8080, host_port=8080, name="http"), P(9090))}
    (a,) = podports.allocate([run("a", host_ports=((8080, 8080),))], specs, seen())
    assert published(a) == [(9090, 42000, "")]
    assert a.labels[hoststate.LABEL_POD_PORTS] == "8080=8080,9090=42000"


def test_a_running_pod_keeps_its_ports_and_others_avoid_every_observed_port() -> None:
    specs = {("ns", "a"): WEB, ("ns", "new"): WEB}
    observations = seen(
        observed("a", pod_ports="8080=42005,9090=42000"),
        observed("old", pod_ports="8080=42001", host_ports="42002/TCP"),
    )
    a, new = podports.allocate([run("new"), run("a")][::-1], specs, observations)
    assert published(a) == [(8080, 42005, ""), (9090, 42000, "")]
    assert published(new) == [(8080, 42003, ""), (9090, 42004, "")]


def test_a_full_range_leaves_the_port_unpublished() -> None:
    taken = ",".join(f"{i}={p}" for i, p in enumerate(podports.RANGE, start=1))
    specs = {("ns", "a"): WEB}
    (a,) = podports.allocate([run("a")], specs, seen(observed("x", pod_ports=taken)))
    assert published(a) == []
    assert hoststate.LABEL_POD_PORTS not in a.labels


def test_allocated_ports_are_not_part_of_the_spec_hash() -> None:
    assert {hoststate.LABEL_POD_PORTS, hoststate.LABEL_PORT_NAMES} <= labels.UNHASHED
    base_run = run("a")
    (a,) = podports.allocate([base_run], {("ns", "a"): WEB}, seen())
    assert podrun.spec_parts(a) == podrun.spec_parts(base_run)


def test_probes_of_a_published_port_use_it_instead_of_a_loopback_port() -> None:
    specs = {("ns", "a"): WEB}
    (a,) = podports.allocate([run("a", probe=8080)], specs, seen())
    (a,) = probeports.allocate([a], seen())
    assert a.probe_ports == ()
    assert a.labels[hoststate.LABEL_PROBE_PORTS] == "8080=42000"
    (b,) = probeports.allocate(podports.allocate([run("b", probe=7000)], specs, seen()), seen())
    assert [(p.container_port, p.host_port) for p in b.probe_ports] == [(7000, 41000)]


def test_labels_read_back_skip_garbage() -> None:
    assert podports.decode("8080=42000,x=1,9090=,0=5,70000=1,1=2") == {8080: 42000, 1: 2}
    assert podports.decode_names("http=8080,=1,bad=x,ok=1") == {"http": 8080, "ok": 1}


def test_the_ranges_validate_reserves_hold_both_allocators() -> None:
    for allocated in (podports.RANGE, probeports.RANGE):
        assert allocated.start >= servicefields.RESERVED.start
        assert allocated.stop <= servicefields.RESERVED.stop
    assert podports.RESERVED == servicefields.RESERVED


def test_the_scheduler_counts_published_ports_per_host() -> None:
    host = binding.host_info(b_host("h1"), ready=True)
    assert host.pod_ports == len(podports.RANGE) == 3000
    kept = binding.kept_request(observed("old", pod_ports="8080=42000,9090=42001,7000=7000"))
    assert kept.pod_ports == 2  # a hostPort is not from the range
    small = inputs.HostInfo("h1", pod_ports=3)
    pods = [inputs.PodRequest(f"ns/p{i}", pod_ports=2) for i in range(2)]
    result = placement.schedule([small], pods)
    assert dict(result.bindings) == {"ns/p0": "h1"}
    assert result.messages() == {"ns/p1": "0/1 hosts: 1 insufficient pod ports"}
    assert placement.schedule([small], [inputs.PodRequest("ns/x")]).bindings == {"ns/x": "h1"}


def b_host(name: str) -> objects.Host:
    return objects.Host(base.ObjectMeta(name=name), address="192.0.2.1", ssh_user="rc")
