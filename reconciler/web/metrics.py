"""Prometheus metrics: a small thread-safe registry (counter, gauge, histogram, with labels) that
renders the text exposition format 0.0.4 for `GET /metrics`, and the reconciler's own metrics.

The daemon loop updates `ReconcilerMetrics` after each sync; the HTTP server only renders. The
standard library is enough for this much, so prometheus_client is not a dependency.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Generic, TypeVar

from reconciler.controllers import autoscale
from reconciler.state import conditions as cond
from reconciler.state import status as statusmod
from reconciler.web import autoscalers, lbmetrics

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")

LabelValues = tuple[str, ...]


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _escape_label(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


def _labels_text(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    pairs = ",".join(f'{n}="{_escape_label(v)}"' for n, v in zip(names, values, strict=True))
    return "{" + pairs + "}"


class _CounterChild:
    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        with self._lock:
            self.value += amount


class _GaugeChild:
    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self.value = 0.0

    def set(self, value: float) -> None:
        with self._lock:
            self.value = float(value)

    def inc(self, amount: float = 1.0) -> None:
        with self._lock:
            self.value += amount


class _HistogramChild:
    def __init__(self, lock: threading.Lock, bounds: tuple[float, ...]) -> None:
        self._lock = lock
        self.bounds = bounds
        self.buckets = [0] * len(bounds)  # per bucket, not cumulative; +Inf is `count`
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        with self._lock:
            for i, bound in enumerate(self.bounds):
                if value <= bound:
                    self.buckets[i] += 1
                    break
            self.sum += value
            self.count += 1


Child = TypeVar("Child", _CounterChild, _GaugeChild, _HistogramChild)


class _Metric(Generic[Child]):
    """A metric family: one child per combination of label values."""

    kind = "untyped"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str]) -> None:
        if not _NAME.match(name):
            raise ValueError(f"invalid metric name {name!r}")
        for label in labelnames:
            if not _LABEL.match(label) or label.startswith("__") or label == "le":
                raise ValueError(f"invalid label name {label!r} for {name}")
        self.name = name
        self.help = help_text
        self.labelnames = tuple(labelnames)
        self._lock = threading.Lock()
        self._children: dict[LabelValues, Child] = {}

    def _new_child(self) -> Child:
        raise NotImplementedError

    def labels(self, **values: str) -> Child:
        """The child for these label values (all label names, no others), made on first use."""
        if set(values) != set(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {sorted(values)}")
        key = tuple(str(values[n]) for n in self.labelnames)
        with self._lock:
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = self._new_child()
            return child

    def _only(self) -> Child:
        if self.labelnames:
            raise ValueError(f"{self.name} has labels {self.labelnames}: use .labels(...)")
        return self.labels()

    def clear(self) -> None:
        """Forget every child (label combination)."""
        with self._lock:
            self._children.clear()

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {_escape_help(self.help)}"
        yield f"# TYPE {self.name} {self.kind}"
        with self._lock:  # children share this lock: a consistent snapshot of their values
            for values, child in sorted(self._children.items()):
                yield from self._render_child(values, child)

    def _render_child(self, values: LabelValues, child: Child) -> Iterable[str]:
        raise NotImplementedError


class Counter(_Metric[_CounterChild]):
    kind = "counter"

    def _new_child(self) -> _CounterChild:
        return _CounterChild(self._lock)

    def inc(self, amount: float = 1.0) -> None:
        self._only().inc(amount)

    def _render_child(self, values: LabelValues, child: _CounterChild) -> Iterable[str]:
        labels = _labels_text(self.labelnames, values)
        yield f"{self.name}{labels} {_format_value(child.value)}"


class Gauge(_Metric[_GaugeChild]):
    kind = "gauge"

    def _new_child(self) -> _GaugeChild:
        return _GaugeChild(self._lock)

    def set(self, value: float) -> None:
        self._only().set(value)

    def replace(self, values: Mapping[str, float]) -> None:
        """For a gauge with one label: exactly these label values, the others dropped."""
        if len(self.labelnames) != 1:
            raise ValueError(f"{self.name}: replace() needs exactly one label")
        with self._lock:
            self._children.clear()
            for label, value in values.items():
                child = self._children[(str(label),)] = _GaugeChild(self._lock)
                child.value = float(value)

    def _render_child(self, values: LabelValues, child: _GaugeChild) -> Iterable[str]:
        labels = _labels_text(self.labelnames, values)
        yield f"{self.name}{labels} {_format_value(child.value)}"


class Histogram(_Metric[_HistogramChild]):
    kind = "histogram"

    def __init__(
        self,
        name: str,
        help_text: str,
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] = DURATION_BUCKETS,
    ) -> None:
        super().__init__(name, help_text, labelnames)
        bounds = tuple(sorted(float(b) for b in buckets if not math.isinf(b)))
        if not bounds or len(set(bounds)) != len(bounds):
            raise ValueError(f"{name}: buckets must be distinct and not empty")
        self.bounds = bounds

    def _new_child(self) -> _HistogramChild:
        return _HistogramChild(self._lock, self.bounds)

    def observe(self, value: float) -> None:
        self._only().observe(value)

    def _render_child(self, values: LabelValues, child: _HistogramChild) -> Iterable[str]:
        names = (*self.labelnames, "le")
        cumulative = 0
        for bound, count in zip(child.bounds, child.buckets, strict=True):
            cumulative += count
            labels = _labels_text(names, (*values, _format_value(bound)))
            yield f"{self.name}_bucket{labels} {cumulative}"
        yield f"{self.name}_bucket{_labels_text(names, (*values, '+Inf'))} {child.count}"
        plain = _labels_text(self.labelnames, values)
        yield f"{self.name}_sum{plain} {_format_value(child.sum)}"
        yield f"{self.name}_count{plain} {child.count}"


class Registry:
    """The metric families of one process, rendered in registration order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metrics: dict[str, Counter | Gauge | Histogram] = {}

    def _add(self, metric: Counter | Gauge | Histogram) -> None:
        with self._lock:
            if metric.name in self._metrics:
                raise ValueError(f"metric {metric.name} is already registered")
            self._metrics[metric.name] = metric

    def counter(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Counter:
        metric = Counter(name, help_text, labelnames)
        self._add(metric)
        return metric

    def gauge(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Gauge:
        if name.endswith("_total"):  # `promtool check metrics`: _total is for counters only
            raise ValueError(f"gauge {name!r} must not end in _total")
        metric = Gauge(name, help_text, labelnames)
        self._add(metric)
        return metric

    def histogram(
        self,
        name: str,
        help_text: str,
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] = DURATION_BUCKETS,
    ) -> Histogram:
        metric = Histogram(name, help_text, labelnames, buckets)
        self._add(metric)
        return metric

    def expose(self) -> str:
        """The text exposition format 0.0.4 (serve it with CONTENT_TYPE)."""
        with self._lock:
            metrics = list(self._metrics.values())
        lines = [line for metric in metrics for line in metric.render()]
        return "\n".join(lines) + "\n"


class ReconcilerMetrics:
    """The reconciler's metrics on `registry`; the daemon calls these after each sync."""

    def __init__(self, registry: Registry, version: str = "") -> None:
        self.registry = registry
        self.duration = registry.histogram(
            "reconciler_reconcile_duration_seconds", "Time one reconcile (sync) took.", ("result",)
        )
        self.syncs = registry.counter(
            "reconciler_syncs_total", "Reconciles finished, by result.", ("result",)
        )
        self.last_sync = registry.gauge(
            "reconciler_last_sync_timestamp_seconds",
            "When the last reconcile finished (seconds since the epoch), by result.",
            ("result",),
        )
        self.objects = registry.gauge(
            "reconciler_objects",
            "Objects by state: Ready, or the reason they are not (Unschedulable, ...).",
            ("state",),
        )
        self.deployment_pods = registry.gauge(
            "reconciler_deployment_pods",
            "A Deployment's pods by state: desired (replicas), updated (current template), "
            "ready (readiness probes passed), available (ready for minReadySeconds).",
            ("namespace", "deployment", "state"),
        )
        self.hosts_ready = registry.gauge("reconciler_hosts_ready", "Hosts that are Ready.")
        self.hosts_total = registry.gauge("reconciler_hosts_declared", "Hosts declared.")
        self.info = registry.gauge("reconciler_build_info", "Always 1; labels say the build.",
                                   ("version",))  # fmt: skip
        self.info.labels(version=version).set(1)
        self.autoscalers = autoscalers.AutoscalerMetrics(registry)
        self.balancers = lbmetrics.BalancerMetrics(registry)
        for result in cond.SyncResult:  # every series exists from the start, so rate() works
            self.syncs.labels(result=result.value)
            self.duration.labels(result=result.value)

    def observe_sync(self, result: cond.SyncResult, seconds: float) -> None:
        label = cond.SyncResult(result).value
        self.duration.labels(result=label).observe(seconds)
        self.syncs.labels(result=label).inc()
        self.last_sync.labels(result=label).set(time.time())

    def set_objects(self, by_state: Mapping[str, int]) -> None:
        self.objects.replace(by_state)

    def set_hosts(self, ready: int, total: int) -> None:
        self.hosts_ready.set(ready)
        self.hosts_total.set(total)

    def set_deployments(
        self, counts: Iterable[tuple[str, str, Mapping[str, int]]]
    ) -> None:
        """(namespace, name, {state: pods}) of every Deployment; others are dropped."""
        self.deployment_pods.clear()
        for namespace, name, by_state in counts:
            for state, value in by_state.items():
                self.deployment_pods.labels(namespace=namespace, deployment=name,
                                            state=state).set(value)  # fmt: skip

    def set_autoscalers(self, records: Iterable[autoscale.Record]) -> None:
        """Each HorizontalPodAutoscaler's replicas and metric values, and the metrics source
        of each host (`controllers.autoscale`); HPAs no longer declared are dropped."""
        self.autoscalers.update(records)

    def update_from_conditions(self, conditions: Sequence[cond.Condition]) -> None:
        """Objects by state and hosts ready/total from the conditions the store was given."""
        hosts = statusmod.host_conditions(conditions)
        objects = [c for c in conditions if c.kind != statusmod.HOST_KIND]
        self.set_objects(statusmod.objects_by_state(objects))
        self.set_hosts(sum(1 for h in hosts if h.ok), len(hosts))
