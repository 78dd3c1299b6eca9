"""The Services' series on /metrics after a sync: endpoints per Service, each host's load
balancer up or down, pods drained (a counter that only grows)."""

from __future__ import annotations

from reconciler.controllers import balancers
from reconciler.model import base, loadbalancer, objects
from reconciler.web import metrics
from tests.web.test_metrics import parse


def _state(with_service: bool = True) -> objects.DesiredState:
    meta = base.ObjectMeta(name="web", namespace="shop")
    service = objects.Service(meta, base.FrozenMap({"app": "web"}),
                              (objects.ServicePort(port=8000, target_port=8080),))  # fmt: skip
    items: list[objects.Object] = [objects.Namespace(base.ObjectMeta(name="shop"))]
    return objects.DesiredState.of([*items, service] if with_service else items)


def _controller() -> balancers.Balancers:
    ctl = balancers.Balancers()
    server = loadbalancer.Server("web-0", "10.0.0.1", 42000, pod="web-0")
    listener = loadbalancer.Listener("shop.web.8000", "shop", "web", "", (8000,),
                                     servers=(server,))  # fmt: skip
    ctl.configs = {"h1": loadbalancer.Config((listener,)), "h2": loadbalancer.Config((listener,))}
    down = loadbalancer.Status("h2", running=False, error="not running")
    ctl.statuses = {"h1": loadbalancer.Status("h1", running=True), "h2": down}
    return ctl


def test_endpoints_up_and_drains_after_a_sync() -> None:
    registry = metrics.Registry()
    m = metrics.ReconcilerMetrics(registry)
    ctl = _controller()
    ctl.drained = 2
    m.balancers.update(_state(), ctl)
    ctl.drained = 3
    m.balancers.update(_state(), ctl)
    families = parse(registry.expose())
    assert families["reconciler_service_endpoints"].samples == [
        ("reconciler_service_endpoints", {"namespace": "shop", "service": "web"}, 1.0)]
    up = {s[1]["host"]: s[2] for s in families["reconciler_load_balancer_up"].samples}
    assert up == {"h1": 1.0, "h2": 0.0}
    (drained,) = families["reconciler_load_balancer_drained_pods_total"].samples
    assert drained[2] == 3.0


def test_without_services_no_series_remain() -> None:
    registry = metrics.Registry()
    m = metrics.ReconcilerMetrics(registry)
    m.balancers.update(_state(), _controller())
    m.balancers.update(_state(with_service=False), _controller())
    families = parse(registry.expose())
    assert families["reconciler_service_endpoints"].samples == []
    assert families["reconciler_load_balancer_up"].samples == []
