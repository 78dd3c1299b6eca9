"""podips: the addresses of a headless Service's pods (deterministic, inside the service CIDR,
never a Service's cluster IP, each pod its own), and which Services are headless."""

from __future__ import annotations

import ipaddress

from reconciler.model import base, clusterips, objects, podips

CIDR = clusterips.network("198.19.128.0/17")


def service(name: str, cluster_ip: str, pod_cidr: str = "") -> objects.Service:
    return objects.Service(base.ObjectMeta(name=name, namespace="shop"), base.FrozenMap(),
                           (), cluster_ip=cluster_ip, pod_cidr=pod_cidr)  # fmt: skip


def test_each_pod_gets_its_own_address_in_the_cidr_the_same_every_time() -> None:
    pods = [("shop", f"web-{i}") for i in range(50)]
    first = podips.allocate(pods, CIDR)
    assert first == podips.allocate(reversed(pods), CIDR)
    assert len(set(first.values())) == 50
    assert all(clusterips.contains(CIDR, address) for address in first.values())


def test_a_pod_keeps_its_address_when_others_come_and_go() -> None:
    alone = podips.allocate([("shop", "web-1")], CIDR)
    more = podips.allocate([("shop", "web-0"), ("shop", "web-1"), ("db", "web-1")], CIDR)
    assert more[("shop", "web-1")] == alone[("shop", "web-1")]
    assert more[("db", "web-1")] != more[("shop", "web-1")]


def test_a_services_cluster_ip_is_never_a_pods_address() -> None:
    wanted = podips.allocate([("shop", "web-0")], CIDR)[("shop", "web-0")]
    moved = podips.allocate([("shop", "web-0")], CIDR, reserved=[wanted, "10.0.0.1"])
    offset = int(ipaddress.ip_address(wanted)) - int(CIDR.network_address)
    usable = CIDR.num_addresses - 2
    assert moved[("shop", "web-0")] == str(CIDR.network_address + offset % usable + 1)


def test_a_full_cidr_leaves_the_last_pods_out() -> None:
    tiny = clusterips.network("10.0.0.0/30")  # two usable addresses
    found = podips.allocate([("a", "p1"), ("a", "p2"), ("a", "p3")], tiny, reserved=["10.0.0.1"])
    assert list(found.values()) == ["10.0.0.2"]


def test_headless_and_balanced_services_and_the_cidr_they_carry() -> None:
    web = service("web", "None", "198.19.128.0/17")
    api = service("api", "198.19.128.7")
    assert podips.headless([web, api]) == (web,) and podips.balanced([web, api]) == (api,)
    assert podips.cidr_of([api, web]) == CIDR
    assert podips.cidr_of([api]) == clusterips.network(clusterips.DEFAULT_CIDR)
    assert podips.reserved([web, api]) == ("198.19.128.7",)


def test_names_in_its_namespace_and_from_another() -> None:
    web = service("web", "None")
    assert podips.names(web, "shop") == ("web", "web.shop", "web.shop.svc",
                                         "web.shop.svc.cluster.local")  # fmt: skip
    assert podips.names(web, "other")[0] == "web.shop"
    assert podips.pod_name("one", web) == "one.web.shop.svc.cluster.local"


def test_the_loader_keeps_none_and_gives_the_cidr() -> None:
    web = service("web", "None")
    api = service("api", "")
    out = clusterips.assign([web, api], CIDR)
    assert out[0] == objects.Service(web.meta, web.selector, (), cluster_ip="None",
                                     pod_cidr=str(CIDR))  # fmt: skip
    assert isinstance(out[1], objects.Service) and clusterips.contains(CIDR, out[1].cluster_ip)
    assert clusterips.cluster_only_of([service("a", "None"), service("b", "")]) == {}
