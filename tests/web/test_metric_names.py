"""Metric names follow Prometheus' conventions as `promtool check metrics` enforces them: a
gauge never ends in `_total` (issue 17: `reconciler_hosts_total` failed), a counter always does."""

from __future__ import annotations

import pytest

from reconciler.web import metrics


def test_every_metric_of_the_daemon_is_named_by_its_type() -> None:
    registry = metrics.Registry()
    metrics.ReconcilerMetrics(registry, "0.0.0").set_hosts(1, 2)
    types: dict[str, str] = {}
    for line in registry.expose().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            types[name] = kind
    assert "reconciler_hosts_declared" in types
    for name, kind in types.items():
        assert name.endswith("_total") == (kind == "counter"), (name, kind)


def test_a_gauge_named_like_a_counter_is_refused() -> None:
    with pytest.raises(ValueError, match="_total"):
        metrics.Registry().gauge("things_total", "wrong")
