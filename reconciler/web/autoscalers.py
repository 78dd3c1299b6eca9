"""The HorizontalPodAutoscalers' series on `/metrics`: replicas, each metric's current value and
target, and the metrics source each host uses. `metrics.ReconcilerMetrics` owns one and updates
it after every sync from `controllers.autoscale`'s records.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from reconciler.controllers import autoscale

if TYPE_CHECKING:
    from reconciler.web import metrics


class AutoscalerMetrics:
    def __init__(self, registry: metrics.Registry) -> None:
        self.replicas = registry.gauge(
            "reconciler_hpa_replicas",
            "A HorizontalPodAutoscaler's replicas: desired (its count, what the Deployment is "
            "given) and current (the Deployment's pods at its last evaluation).",
            ("namespace", "hpa", "state"),
        )
        self.value = registry.gauge(
            "reconciler_hpa_metric_value",
            "A HorizontalPodAutoscaler metric's current value (percent of requests, millicores "
            "or bytes, as the metric name says).",
            ("namespace", "hpa", "metric"),
        )
        self.target = registry.gauge(
            "reconciler_hpa_metric_target", "A HorizontalPodAutoscaler metric's target.",
            ("namespace", "hpa", "metric"),
        )  # fmt: skip
        self.source = registry.gauge(
            "reconciler_hpa_metrics_source",
            "1 for the source a host's usage is read from (podman-stats or proc).",
            ("host", "source"),
        )

    def update(self, records: Iterable[autoscale.Record]) -> None:
        for gauge in (self.replicas, self.value, self.target, self.source):
            gauge.clear()
        for r in records:
            self.replicas.labels(namespace=r.namespace, hpa=r.name, state="desired").set(r.replicas)
            self.replicas.labels(namespace=r.namespace, hpa=r.name, state="current").set(r.running)
            for name, current, target in r.values:
                self.value.labels(namespace=r.namespace, hpa=r.name, metric=name).set(current)
                self.target.labels(namespace=r.namespace, hpa=r.name, metric=name).set(target)
            for host, source in r.sources:
                self.source.labels(host=host, source=source).set(1)
