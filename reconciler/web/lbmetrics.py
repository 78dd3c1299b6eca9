"""The Services' series on `/metrics`: each Service's endpoints in rotation, each host's load
balancer up or not, and the pods drained before they stopped. `metrics.ReconcilerMetrics` owns
one and updates it after every sync from `controllers.balancers`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.controllers import balancers as balancersctl
from reconciler.model import objects

if TYPE_CHECKING:
    from reconciler.web import metrics


class BalancerMetrics:
    def __init__(self, registry: metrics.Registry) -> None:
        self.endpoints = registry.gauge(
            "reconciler_service_endpoints",
            "A Service's endpoints in rotation on the hosts' load balancers (Ready pods).",
            ("namespace", "service"),
        )
        self.up = registry.gauge(
            "reconciler_load_balancer_up",
            "1 when the host's load balancer (HAProxy) runs, 0 when it does not (Services "
            "exist and it was not running at the last sync).",
            ("host",),
        )
        self.drained = registry.counter(
            "reconciler_load_balancer_drained_pods_total",
            "Pods drained on every host's load balancer before they were stopped.",
        )
        self.drain_timeouts = registry.counter(
            "reconciler_load_balancer_drain_timeouts_total",
            "Drains cut short by the pod's terminationGracePeriodSeconds (connections open).",
        )
        self._drained = 0
        self._timeouts = 0

    def update(self, state: objects.DesiredState, ctl: balancersctl.Balancers) -> None:
        """The series after one sync; Services and hosts no longer declared are dropped."""
        self.endpoints.clear()
        for service in state.services:
            ready = ctl.endpoints(service.meta.namespace, service.meta.name)
            self.endpoints.labels(namespace=service.meta.namespace,
                                  service=service.meta.name).set(len(ready))  # fmt: skip
        self.up.clear()
        if state.services:
            for host, status in ctl.statuses.items():
                self.up.labels(host=host).set(1 if status.running else 0)
        if ctl.drained > self._drained:
            self.drained.inc(ctl.drained - self._drained)
        if ctl.drain_timeouts > self._timeouts:
            self.drain_timeouts.inc(ctl.drain_timeouts - self._timeouts)
        self._drained, self._timeouts = ctl.drained, ctl.drain_timeouts
