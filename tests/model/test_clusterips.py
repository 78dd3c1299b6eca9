"""Cluster IPs: allocation from the service CIDR (hash of namespace/name, pinned addresses, linear
probing), which ports Services share and so bind on their cluster IPs only, the listeners and
HAProxy lines made from them, and the discovery variables and names that point at them."""

from __future__ import annotations

import ipaddress

import pytest

from reconciler.executor import haproxy_config
from reconciler.model import base, clusterips, loadbalancer, objects
from reconciler.plan import discovery, endpoints

LAB = clusterips.network("198.19.128.0/17")
TINY = clusterips.network("10.0.0.0/30")  # two usable addresses: .1 and .2


def service(
    name: str, *ports: int, kind: str = "ClusterIP", node_port: int | None = None, ip: str = ""
) -> objects.Service:
    return objects.Service(
        base.ObjectMeta(name=name, namespace="shop"),
        base.FrozenMap({"app": name}),
        tuple(objects.ServicePort(p, "http", name=f"p{p}", node_port=node_port) for p in ports),
        kind,
        cluster_ip=ip,
    )


def test_the_cidr_must_be_a_network_with_room() -> None:
    assert str(clusterips.network(clusterips.DEFAULT_CIDR)) == "10.96.0.0/12"
    for bad in ("10.96.0.1/16", "nonsense", "10.0.0.0/31", ""):
        with pytest.raises(clusterips.CidrError, match="service_cidr"):
            clusterips.network(bad)


def test_an_address_is_stable_inside_the_cidr_and_not_its_network_or_broadcast() -> None:
    first = clusterips.allocate([clusterips.Request("shop", "web")], LAB)
    again = clusterips.allocate(
        [clusterips.Request("a", "z"), clusterips.Request("shop", "web")], LAB
    )
    address = first[("shop", "web")]
    assert again[("shop", "web")] == address
    assert clusterips.contains(LAB, address)
    assert ipaddress.ip_address(address) in LAB
    assert not clusterips.contains(LAB, "198.19.128.0")
    assert not clusterips.contains(LAB, "198.19.255.255")
    assert not clusterips.contains(LAB, "10.96.0.1")


def test_a_pinned_address_is_kept_and_others_probe_past_it() -> None:
    # In a /30 every name hashes to .1 or .2: pinning one leaves the other for the next name.
    pinned = clusterips.allocate(
        [clusterips.Request("ns", "a", "10.0.0.1"), clusterips.Request("ns", "b")], TINY
    )
    assert pinned == {("ns", "a"): "10.0.0.1", ("ns", "b"): "10.0.0.2"}
    probed = clusterips.allocate([clusterips.Request("ns", "x"), clusterips.Request("ns", "y")],
                                 TINY)  # fmt: skip
    assert sorted(probed.values()) == ["10.0.0.1", "10.0.0.2"]
    full = clusterips.allocate([clusterips.Request("ns", n) for n in "abc"], TINY)
    assert ("ns", "c") not in full and len(full) == 2  # no room left: no address


def test_a_pinned_address_outside_the_cidr_is_not_allocated() -> None:
    assert clusterips.allocate([clusterips.Request("ns", "a", "10.1.0.1")], TINY) == {}


def test_assign_sets_every_services_cluster_ip() -> None:
    found = clusterips.assign([service("a", 80), service("b", 80, ip="198.19.200.1")], LAB)
    ips = {o.meta.name: o.cluster_ip for o in found if isinstance(o, objects.Service)}
    assert ips["b"] == "198.19.200.1" and clusterips.contains(LAB, ips["a"])


def test_only_ports_two_services_share_are_bound_on_the_cluster_ip() -> None:
    items = [service("a", 8080, 9000), service("b", 8080), service("c", 7000)]
    assert clusterips.cluster_only_of(items) == {
        ("shop", "a"): frozenset({8080}), ("shop", "b"): frozenset({8080})}  # fmt: skip


def test_a_host_wide_port_is_never_bound_on_the_cluster_ip_alone() -> None:
    wide = service("lb", 8080, kind="LoadBalancer")
    with_node_port = service("np", 8080, kind="NodePort", node_port=30080)
    only = clusterips.cluster_only_of([service("a", 8080), wide, with_node_port])
    assert ("shop", "lb") not in only
    assert only[("shop", "np")] == frozenset({8080})


def assigned(*items: objects.Service) -> list[objects.Service]:
    return [o for o in clusterips.assign(items, LAB) if isinstance(o, objects.Service)]


def state(*items: objects.Object) -> objects.DesiredState:
    host = objects.Host(base.ObjectMeta(name="h1"), "198.18.0.11", "rc-h1")
    return objects.DesiredState.of([host, *items])


def test_listeners_of_shared_ports_bind_the_cluster_ip_and_render_it() -> None:
    a, b, c = assigned(service("a", 8080, 9000), service("b", 8080),
                       service("np", 7000, kind="NodePort", node_port=30070))  # fmt: skip
    config = endpoints.configs(state(a, b, c), {})["h1"]
    binds = {li.name: [li.bind(p) for p in li.ports] for li in config.listeners}
    assert binds == {
        "shop.a.p8080": [a.cluster_ip], "shop.a.p9000": [""], "shop.b.p8080": [b.cluster_ip],
        "shop.np.p7000": ["", ""],
    }  # fmt: skip
    paths = haproxy_config.Paths("/s/haproxy.cfg", "/s/haproxy.pid", "/s/admin.sock")
    text = haproxy_config.render(config, paths)
    assert f"    bind {a.cluster_ip}:8080\n" in text
    assert f"    bind {b.cluster_ip}:8080\n" in text
    assert "    bind :9000\n" in text and "    bind :7000\n    bind :30070\n" in text
    assert "bind :8080" not in text


def test_the_digest_changes_with_a_bind_address_only_when_one_is_set() -> None:
    plain = loadbalancer.Listener("shop.a.p", "shop", "a", "p", (8080,), address="198.19.200.1")
    bound = loadbalancer.Listener("shop.a.p", "shop", "a", "p", (8080,), address="198.19.200.1",
                                  address_ports=(8080,))  # fmt: skip
    unset = loadbalancer.Listener("shop.a.p", "shop", "a", "p", (8080,))
    digest = haproxy_config.listeners_digest
    assert digest(loadbalancer.Config((plain,))) == digest(loadbalancer.Config((unset,)))
    assert digest(loadbalancer.Config((bound,))) != digest(loadbalancer.Config((unset,)))


def test_a_hostile_bind_address_is_refused() -> None:
    bad = loadbalancer.Listener("shop.a.p", "shop", "a", "p", (8080,), address="1.2.3.4 #",
                                address_ports=(8080,))  # fmt: skip
    paths = haproxy_config.Paths("/s/haproxy.cfg", "/s/haproxy.pid", "/s/admin.sock")
    with pytest.raises(loadbalancer.UnsafeTokenError):
        haproxy_config.render(loadbalancer.Config((bad,)), paths)


def test_discovery_points_a_cluster_ip_only_service_at_its_cluster_ip() -> None:
    a, b, c = assigned(service("a", 8080), service("b", 8080), service("c", 7000))
    env = dict(discovery.service_env([a, b, c], "shop", "198.18.0.11"))
    assert env["A_SERVICE_HOST"] == a.cluster_ip and env["B_SERVICE_HOST"] == b.cluster_ip
    assert env["B_PORT_8080_TCP"] == f"tcp://{b.cluster_ip}:8080"
    assert env["C_SERVICE_HOST"] == "198.18.0.11"
    aliases = dict(discovery.host_aliases([a, b, c], "shop", "198.18.0.11"))
    assert aliases["a"] == a.cluster_ip and aliases["b.shop.svc.cluster.local"] == b.cluster_ip
    assert aliases["c"] == "198.18.0.11"
    assert a.cluster_ip != b.cluster_ip


def test_a_host_named_by_dns_still_resolves_services_on_cluster_ips() -> None:
    a, b, c = assigned(service("a", 8080), service("b", 8080), service("c", 7000))
    aliases = dict(discovery.host_aliases([a, b, c], "shop", "web1.example.net"))
    assert aliases["a"] == a.cluster_ip and aliases["b.shop"] == b.cluster_ip
    assert "c" not in aliases and "c.shop" not in aliases
