"""The scheduling adapter: readiness from observations, sticky binding, scheduler inputs."""

from __future__ import annotations

from reconciler.model import base, hoststate, objects, workloads
from reconciler.plan import binding, expand
from reconciler.scheduler import inputs

from . import builders as b


def _seen(
    name: str,
    host: str,
    phase: hoststate.PodPhase = hoststate.PodPhase.RUNNING,
    template_hash: str = "t1",
) -> hoststate.ObservedPod:
    return hoststate.ObservedPod(
        "default",
        name,
        host,
        f"id-{host}",
        "hash",
        labels=base.FrozenMap({hoststate.LABEL_TEMPLATE_HASH: template_hash}),
        phase=phase,
    )


def _wanted(name: str, template_hash: str = "t1") -> expand.DesiredPod:
    return expand.DesiredPod("default", name, b.spec(), base.FrozenMap(), template_hash)


def test_host_info_from_host_object() -> None:
    host = b.host(
        "h1",
        cpu=2000,
        memory=1 << 31,
        labels={"zone": "a"},
        taints=(objects.Taint("gpu", workloads.TaintEffect.NO_SCHEDULE, "yes"),),
    )
    info = binding.host_info(host, ready=False)
    assert info == inputs.HostInfo(
        name="h1",
        ready=False,
        cpu_millis=2000,
        memory_bytes=1 << 31,
        labels={"kubernetes.io/os": "linux", "beta.kubernetes.io/os": "linux", "zone": "a"},
        taints=(inputs.Taint("gpu", "yes", inputs.TaintEffect.NO_SCHEDULE),),
        pod_ports=3000,
    )


def test_every_host_carries_the_os_label_unless_it_says_otherwise() -> None:
    """`nodeSelector: {kubernetes.io/os: linux}`, common in real manifests, matches every host
    (as every Kubernetes node carries it); a Host's own value wins."""
    plain = binding.host_info(b.host("h1"), ready=True)
    assert plain.labels["kubernetes.io/os"] == "linux"
    own = binding.host_info(b.host("h2", labels={"kubernetes.io/os": "other"}), ready=True)
    assert own.labels["kubernetes.io/os"] == "other"
    assert "kubernetes.io/arch" not in plain.labels  # not guessed


def test_pod_request_carries_requests_selector_tolerations_ports_owner() -> None:
    pod_spec = b.spec(
        b.container(
            resources=workloads.Resources(cpu_request=250, memory_limit=1 << 20),
            ports=(workloads.ContainerPort(80, host_port=8080),),
        ),
        node_selector=base.FrozenMap({"disk": "ssd"}),
        tolerations=(workloads.Toleration("gpu", workloads.TolerationOperator.EXISTS),),
    )
    (pod, _) = expand.expand(b.state(b.deployment("web", pod_spec=pod_spec)), ())
    request = binding.pod_request(pod, bound_host="h2")
    assert request.key == f"default/{pod.name}"
    assert request.owner == "default/Deployment/web"
    assert (request.cpu_millis, request.memory_bytes) == (250, 1 << 20)
    assert request.node_selector == {"disk": "ssd"}
    assert request.tolerations == (
        inputs.Toleration("gpu", inputs.TolerationOperator.EXISTS, "", None),
    )
    assert request.host_ports == frozenset({inputs.HostPort(8080, inputs.Protocol.TCP)})
    assert request.bound_host == "h2"


def test_ready_means_reachable() -> None:
    observed = b.observations("h1", down=("h2",))
    assert binding.ready_hosts(observed) == {"h1"}


def test_sticky_host_prefers_running_copy_then_host_name_and_skips_unreachable() -> None:
    observed = {
        "h1": hoststate.HostObservation("h1", True, (_seen("a", "h1", hoststate.PodPhase.FAILED),)),
        "h2": hoststate.HostObservation(
            "h2",
            True,
            (
                _seen("a", "h2", hoststate.PodPhase.RUNNING),
                _seen("b", "h2", hoststate.PodPhase.FAILED),
            ),
        ),
        "h3": hoststate.HostObservation(
            "h3",
            True,
            (_seen("b", "h3", hoststate.PodPhase.FAILED),),
        ),
        "h0": hoststate.HostObservation(
            "h0", False, (_seen("a", "h0", hoststate.PodPhase.RUNNING),)
        ),
    }
    pods = [_wanted("a"), _wanted("b"), _wanted("c")]
    assert binding.sticky_hosts(pods, observed) == {
        ("default", "a"): "h2",
        ("default", "b"): "h2",
    }


def test_pod_whose_template_changed_is_not_sticky() -> None:
    observed = {
        "h1": hoststate.HostObservation("h1", True, (_seen("a", "h1", template_hash="old"),))
    }
    assert binding.sticky_hosts([_wanted("a", "new")], observed) == {}


def test_observed_pod_stays_where_it_runs_even_if_another_host_is_emptier() -> None:
    busy = b.spec(b.container(resources=workloads.Resources(cpu_request=500)))
    (pod,) = expand.expand(b.state(b.pod("solo", busy)), ())
    seen = _seen("solo", "h1", template_hash=pod.template_hash)
    crowd = b.state(b.host("h1", cpu=1000), b.host("h2", cpu=64000))
    observed = {
        "h1": hoststate.HostObservation("h1", True, (seen,)),
        "h2": hoststate.HostObservation("h2", True),
    }
    result = binding.schedule(crowd.hosts, [pod], observed)
    assert result.placement.bindings == {"default/solo": "h1"}
    fresh = binding.schedule(
        crowd.hosts, [pod], {**observed, "h1": hoststate.HostObservation("h1", True)}
    )
    assert fresh.placement.bindings == {"default/solo": "h2"}


def test_bare_pod_with_new_node_selector_moves() -> None:
    old = b.pod("solo")
    (before,) = expand.expand(b.state(old), ())
    moved = b.pod("solo", b.spec(node_selector=base.FrozenMap({"zone": "b"})))
    (after,) = expand.expand(b.state(moved), ())
    hosts = b.state(b.host("h1", labels={"zone": "a"}), b.host("h2", labels={"zone": "b"})).hosts
    seen = _seen("solo", "h1", template_hash=before.template_hash)
    observed = {
        "h1": hoststate.HostObservation("h1", True, (seen,)),
        "h2": hoststate.HostObservation("h2", True),
    }
    assert binding.schedule(hosts, [before], observed).placement.bindings == {"default/solo": "h1"}
    assert binding.schedule(hosts, [after], observed).placement.bindings == {"default/solo": "h2"}


def test_pod_on_unreachable_host_is_placed_elsewhere_per_scheduler() -> None:
    (pod,) = expand.expand(b.state(b.pod("solo")), ())
    hosts = b.state(b.host("h1"), b.host("h2")).hosts
    seen = _seen("solo", "h1", template_hash=pod.template_hash)
    observed = {
        "h1": hoststate.HostObservation("h1", False, (seen,), "timeout"),
        "h2": hoststate.HostObservation("h2", True),
    }
    assert binding.schedule(hosts, [pod], observed).placement.bindings == {"default/solo": "h2"}


def test_unobserved_host_is_not_ready_and_unschedulable_is_reported() -> None:
    (pod,) = expand.expand(b.state(b.pod("solo")), ())
    hosts = b.state(b.host("h1")).hosts
    result = binding.schedule(hosts, [pod], {})
    assert result.placement.bindings == {}
    assert result.placement.messages() == {"default/solo": "0/1 hosts: 1 host not ready"}


def test_invalid_toleration_refuses_the_pod_with_an_error() -> None:
    pod_spec = b.spec(tolerations=(workloads.Toleration("", workloads.TolerationOperator.EQUAL),))
    (pod,) = expand.expand(b.state(b.pod("solo", pod_spec)), ())
    result = binding.schedule(b.state(b.host("h1")).hosts, [pod], b.observations("h1"))
    assert result.refused == {("default", "solo")}
    assert "Pod/default/solo: cannot be scheduled" in result.errors[0].message
