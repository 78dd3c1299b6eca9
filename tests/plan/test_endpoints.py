"""endpoints.configs / endpoints.endpoints: the pods a Service selects, where they answer, which
are in rotation; and discovery.attach: Kubernetes' variables and names for every pod. Planned
with the real pipeline, then observed as the hosts would report it."""

from __future__ import annotations

import dataclasses

import pytest

from reconciler.model import base, hoststate, loadbalancer, objects, workloads
from reconciler.plan import discovery, endpoints, pipeline
from tests.plan import builders as b

HTTP = workloads.ContainerPort(8080, name="http")


def host(name: str, address: str) -> objects.Host:
    return dataclasses.replace(b.host(name), address=address)


def service(name: str = "web", namespace: str = "shop", selector: dict[str, str] | None = None,
            *ports: objects.ServicePort, kind: str = "ClusterIP") -> objects.Service:  # fmt: skip
    return objects.Service(
        base.ObjectMeta(name=name, namespace=namespace),
        base.FrozenMap(selector if selector is not None else {"app": "web"}),
        ports or (objects.ServicePort(8000, "http", name="http"),),
        kind,
    )


def desired(*extra: objects.Object, replicas: int = 3) -> objects.DesiredState:
    web = b.deployment("web", replicas, b.spec(b.container(ports=(HTTP,))), namespace="shop")
    return b.state(
        b.namespace("shop"), web, host("h1", "198.18.0.11"), host("h2", "198.18.0.12"), *extra
    )


def running(state: objects.DesiredState, **kw: object) -> dict[str, hoststate.HostObservation]:
    before = b.observations("h1", "h2")
    result = pipeline.build_plan(state, before, "rev1")
    after = b.apply(result, before)
    return {
        name: dataclasses.replace(seen, pods=tuple(dataclasses.replace(p, **kw) for p in seen.pods))
        for name, seen in after.items()
    }


def test_every_host_gets_every_listener_with_the_ready_pods_of_every_host() -> None:
    state = desired(service())
    configs = endpoints.configs(state, running(state, ready=True))
    assert set(configs) == {"h1", "h2"}
    assert configs["h1"] == configs["h2"]
    (listener,) = configs["h1"].listeners
    assert (listener.name, listener.ports, listener.mode) == ("shop.web.http", (8000,),
                                                              loadbalancer.Mode.HTTP)  # fmt: skip
    assert len(listener.servers) == 3
    assert {s.address for s in listener.servers} == {"198.18.0.11", "198.18.0.12"}
    assert all(s.port in range(42000, 45000) for s in listener.servers)
    assert all(s.state is loadbalancer.ServerState.READY for s in listener.servers)
    assert [s.name for s in listener.servers] == sorted(s.pod for s in listener.servers)


def test_pods_that_are_not_ready_are_endpoints_but_not_servers() -> None:
    state = desired(service())
    observations = running(state, ready=False)
    (listener,) = endpoints.configs(state, observations)["h1"].listeners
    assert listener.servers == ()
    (port,) = endpoints.endpoints(state, observations)
    assert port.ready == () and len(port.not_ready) == 3


def test_readiness_unknown_means_every_container_running() -> None:
    pod = hoststate.ObservedPod("ns", "p", "h1", "id", "hash")
    assert not endpoints.pod_ready(pod)
    up = hoststate.ObservedContainer("c", "id", "img", "running")
    assert endpoints.pod_ready(dataclasses.replace(pod, containers=(up,)))
    down = dataclasses.replace(up, state="exited")
    assert not endpoints.pod_ready(dataclasses.replace(pod, containers=(up, down)))
    assert not endpoints.pod_ready(dataclasses.replace(pod, containers=(up,), ready=False))


def test_draining_pods_are_set_to_drain_even_when_no_longer_ready() -> None:
    state = desired(service())
    observations = running(state, ready=False)
    victim = next(p for seen in observations.values() for p in seen.pods)
    (listener,) = endpoints.configs(state, observations, draining=frozenset({victim.key}))[
        "h1"
    ].listeners
    assert [(s.pod, s.state) for s in listener.servers] == [
        (victim.name, loadbalancer.ServerState.DRAIN)
    ]


def test_unreachable_hosts_other_namespaces_and_unselected_pods_are_left_out() -> None:
    state = desired(service(), service("api", selector={"app": "api"}),
                    service("web", "other"), b.namespace("other"))  # fmt: skip
    observations = running(state, ready=True)
    observations["h2"] = hoststate.HostObservation("h2", False, error="timeout")
    config = endpoints.configs(state, observations)["h1"]
    by_name = {li.name: li for li in config.listeners}
    assert sorted(by_name) == ["other.web.http", "shop.api.http", "shop.web.http"]
    assert by_name["shop.api.http"].servers == () and by_name["other.web.http"].servers == ()
    assert {s.host for s in by_name["shop.web.http"].servers} == {"h1"}


def test_target_port_by_number_and_tcp_mode_and_node_port() -> None:
    svc = service("raw", "shop", None, objects.ServicePort(9000, 8080, node_port=30080),
                  kind="NodePort")  # fmt: skip
    state = desired(svc)
    (listener,) = endpoints.configs(state, running(state, ready=True))["h1"].listeners
    assert (listener.name, listener.ports, listener.mode) == ("shop.raw.9000", (9000, 30080),
                                                              loadbalancer.Mode.TCP)  # fmt: skip
    assert len(listener.servers) == 3


def test_an_undeclared_numeric_target_port_is_published_a_name_is_not() -> None:
    """As in Kubernetes, where `ports` is informational: the Service's numeric targetPort is
    published on the pods it selects (plan.impliedports); an unknown port name reaches nothing."""
    state = desired(service("x", "shop", None, objects.ServicePort(9000, 9999, name="a"),
                            objects.ServicePort(9001, "nope", name="b")))  # fmt: skip
    found = {p.port_name: p for p in endpoints.endpoints(state, running(state, ready=True))}
    assert len(found["a"].endpoints) == 3 and found["b"].endpoints == ()
    assert all(e.port in range(42000, 45000) for e in found["a"].endpoints)


def test_pods_running_before_the_service_get_its_port_only_when_replaced() -> None:
    """Published ports are not hashed: a Service added later finds the running pods without
    its undeclared port (validate warns), and nothing is recreated for it."""
    before = desired()
    observations = running(before, ready=True)
    later = desired(service("x", "shop", None, objects.ServicePort(9000, 9999, name="a")))
    plan = pipeline.build_plan(later, observations, "rev2").plan
    assert plan.actions == () or all(
        a.kind is not hoststate.ActionKind.REPLACE for a in plan.actions
    )
    (port,) = endpoints.endpoints(later, observations)
    assert port.endpoints == ()


@pytest.mark.parametrize(
    ("port", "mode"),
    [
        (objects.ServicePort(1, 1, name="http"), loadbalancer.Mode.HTTP),
        (objects.ServicePort(1, 1, name="http-alt"), loadbalancer.Mode.HTTP),
        (objects.ServicePort(1, 1, name="https"), loadbalancer.Mode.TCP),
        (objects.ServicePort(1, 1, name="web", app_protocol="http"), loadbalancer.Mode.HTTP),
        (objects.ServicePort(1, 1, name="http", app_protocol="kubernetes.io/ws"),
         loadbalancer.Mode.HTTP),
        (objects.ServicePort(1, 1), loadbalancer.Mode.TCP),
    ],
)
def test_mode(port: objects.ServicePort, mode: loadbalancer.Mode) -> None:
    assert endpoints.mode(port) is mode


def test_observed_pods_with_hostile_names_or_labels_never_reach_the_config() -> None:
    state = desired(service())
    observations = running(state, ready=True)
    pod = observations["h1"].pods[0]
    hostile = dataclasses.replace(pod, name="x\nbackend evil", labels=base.FrozenMap({
        **pod.labels, hoststate.LABEL_POD_PORTS: "8080=1 # x\n"}))  # fmt: skip
    observations["h1"] = dataclasses.replace(observations["h1"], pods=(hostile,))
    for config in endpoints.configs(state, observations).values():
        for listener in config.listeners:
            assert all("\n" not in s.name and " " not in s.name for s in listener.servers)
            assert all(s.host == "h2" for s in listener.servers)


def test_discovery_variables_and_names_point_at_the_pods_host() -> None:
    web = service("web", "shop", None, objects.ServicePort(8000, "http", name="http"),
                  objects.ServicePort(8443, 8443, name="tls"))  # fmt: skip
    state = desired(web, service("db-main", "other", {"app": "db"}), b.namespace("other"))
    result = pipeline.build_plan(state, b.observations("h1", "h2"), "rev1")
    run = next(r for r in result.runs if r.host == "h2")
    env = dict(run.service_env)
    assert env["WEB_SERVICE_HOST"] == "198.18.0.12"
    assert env["WEB_SERVICE_PORT"] == "8000"
    assert env["WEB_SERVICE_PORT_HTTP"] == "8000"
    assert env["WEB_SERVICE_PORT_TLS"] == "8443"
    assert env["WEB_PORT"] == "tcp://198.18.0.12:8000"
    assert env["WEB_PORT_8443_TCP"] == "tcp://198.18.0.12:8443"
    assert env["WEB_PORT_8443_TCP_PROTO"] == "tcp"
    assert env["WEB_PORT_8443_TCP_PORT"] == "8443"
    assert env["WEB_PORT_8443_TCP_ADDR"] == "198.18.0.12"
    assert not any(k.startswith("DB_MAIN") for k in env)  # another namespace: names only
    aliases = dict(run.host_aliases)
    assert set(aliases) == {
        "web", "web.shop", "web.shop.svc", "web.shop.svc.cluster.local",
        "db-main.other", "db-main.other.svc", "db-main.other.svc.cluster.local",
    }  # fmt: skip
    assert set(aliases.values()) == {"198.18.0.12"}


def test_discovery_is_not_part_of_the_spec_hash() -> None:
    before = pipeline.build_plan(desired(), b.observations("h1", "h2"), "rev1")
    after = pipeline.build_plan(desired(service()), b.observations("h1", "h2"), "rev1")
    assert [r.spec_hash for r in before.runs] == [r.spec_hash for r in after.runs]
    assert after.runs[0].service_env and not before.runs[0].service_env


def test_a_host_named_by_dns_gets_variables_but_no_hosts_entries() -> None:
    svc = service()
    assert discovery.host_aliases([svc], "shop", "node1.example") == ()
    assert dict(discovery.service_env([svc], "shop", "node1.example"))["WEB_SERVICE_HOST"] == (
        "node1.example"
    )
