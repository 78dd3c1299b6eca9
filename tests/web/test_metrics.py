"""Prometheus metrics: the exposition text parses under the format's rules (checked by a strict
parser below), histograms are cumulative, labels are escaped, and updates are thread-safe."""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field

import pytest

from reconciler.state import conditions as cond
from reconciler.web import metrics

_SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)\Z")
_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|\Z)')


@dataclass
class Family:
    type: str
    help: str = ""
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "\\": "\\", '"': '"'}[m.group(1)], text)


def _labels(text: str) -> dict[str, str]:
    inner, labels, pos = text[1:-1], {}, 0
    while pos < len(inner):
        match = _PAIR.match(inner, pos)
        assert match, f"bad labels {text!r}"
        assert match.group(1) not in labels, f"duplicate label in {text!r}"
        labels[match.group(1)] = _unescape(match.group(2))
        pos = match.end()
    return labels


def parse(text: str) -> dict[str, Family]:
    """The text format 0.0.4, strictly: TYPE before samples, one family per name, known suffixes
    only for histograms, unique series, values that are floats."""
    assert text.endswith("\n")
    families: dict[str, Family] = {}
    helps: dict[str, str] = {}
    series: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            helps[name] = help_text
        elif line.startswith("# TYPE "):
            name, kind = line[7:].split(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped")
            assert name not in families, f"family {name} declared twice"
            families[name] = Family(kind, helps.get(name, ""))
        else:
            assert not line.startswith("#") and line, f"unexpected line {line!r}"
            match = _SAMPLE.match(line)
            assert match, f"bad sample {line!r}"
            name, labels_text, value_text = match.groups()
            labels = _labels(labels_text) if labels_text else {}
            family_name = name
            if name not in families:
                for suffix in ("_bucket", "_sum", "_count"):
                    if name.endswith(suffix) and name.removesuffix(suffix) in families:
                        family_name = name.removesuffix(suffix)
            family = families.get(family_name)
            assert family is not None, f"sample {name} before its TYPE"
            key = (name, tuple(sorted(labels.items())))
            assert key not in series, f"duplicate series {line!r}"
            series.add(key)
            family.samples.append((name, labels, float(value_text)))
    for name, family in families.items():
        if family.type == "histogram":
            _check_histogram(name, family)
        if family.type == "counter":
            assert all(v >= 0 for _, _, v in family.samples)
    return families


def _check_histogram(name: str, family: Family) -> None:
    groups: dict[tuple[tuple[str, str], ...], list[tuple[str, dict[str, str], float]]] = {}
    for sample in family.samples:
        rest = tuple(sorted((k, v) for k, v in sample[1].items() if k != "le"))
        groups.setdefault(rest, []).append(sample)
    for samples in groups.values():
        buckets = [(float(lb["le"]), v) for n, lb, v in samples if n == f"{name}_bucket"]
        assert buckets and buckets[-1][0] == math.inf
        assert [b for b, _ in buckets] == sorted(b for b, _ in buckets)
        assert [v for _, v in buckets] == sorted(v for _, v in buckets), "not cumulative"
        (count,) = [v for n, _, v in samples if n == f"{name}_count"]
        assert buckets[-1][1] == count
        assert len([v for n, _, v in samples if n == f"{name}_sum"]) == 1


def _value(families: dict[str, Family], sample: str, **labels: str) -> float:
    family = families.get(sample)
    pool = family.samples if family else [s for f in families.values() for s in f.samples]
    (found,) = [v for n, lb, v in pool if n == sample and lb == labels]
    return found


def test_reconciler_metrics_expose_parseable_text() -> None:
    registry = metrics.Registry()
    m = metrics.ReconcilerMetrics(registry, version="0.1.0")
    m.observe_sync(cond.SyncResult.SUCCEEDED, 0.3)
    m.observe_sync(cond.SyncResult.SUCCEEDED, 7.0)
    m.observe_sync(cond.SyncResult.INVALID, 0.01)
    m.update_from_conditions(
        [
            cond.Condition("Host", "", "h1", "Ready", cond.ConditionStatus.TRUE, "HostReady"),
            cond.Condition(
                "Host", "", "h2", "Ready", cond.ConditionStatus.FALSE, "HostUnreachable"
            ),
            cond.Condition("Pod", "default", "a", "Ready", cond.ConditionStatus.TRUE, "Synced"),
            cond.Condition(
                "Pod", "default", "b", "Ready", cond.ConditionStatus.FALSE, "Unschedulable"
            ),
        ]
    )
    text = registry.expose()
    families = parse(text)
    assert families["reconciler_reconcile_duration_seconds"].type == "histogram"
    assert families["reconciler_syncs_total"].type == "counter"
    assert _value(families, "reconciler_syncs_total", result="Succeeded") == 2
    assert _value(families, "reconciler_syncs_total", result="Invalid") == 1
    assert _value(families, "reconciler_syncs_total", result="Partial") == 0  # exists from start
    hist = "reconciler_reconcile_duration_seconds"
    assert _value(families, f"{hist}_count", result="Succeeded") == 2
    assert _value(families, f"{hist}_sum", result="Succeeded") == pytest.approx(7.3)
    assert _value(families, f"{hist}_bucket", result="Succeeded", le="0.5") == 1
    assert _value(families, f"{hist}_bucket", result="Succeeded", le="5") == 1
    assert _value(families, f"{hist}_bucket", result="Succeeded", le="10") == 2
    assert _value(families, f"{hist}_bucket", result="Succeeded", le="+Inf") == 2
    assert _value(families, "reconciler_objects", state="Ready") == 1
    assert _value(families, "reconciler_objects", state="Unschedulable") == 1
    assert _value(families, "reconciler_hosts_ready") == 1
    assert _value(families, "reconciler_hosts_declared") == 2
    assert _value(families, "reconciler_build_info", version="0.1.0") == 1
    assert "# HELP reconciler_hosts_ready Hosts that are Ready." in text


def test_objects_gauge_drops_states_that_went_away() -> None:
    registry = metrics.Registry()
    m = metrics.ReconcilerMetrics(registry)
    m.set_objects({"Ready": 3, "ApplyFailed": 1})
    m.set_objects({"Ready": 4})
    samples = parse(registry.expose())["reconciler_objects"].samples
    assert samples == [("reconciler_objects", {"state": "Ready"}, 4.0)]


def test_label_values_and_help_are_escaped() -> None:
    registry = metrics.Registry()
    gauge = registry.gauge("odd", 'help with \\ and\nnewline and "quotes"', ("v",))
    nasty = 'a "quoted" \\ back\nslash'
    gauge.labels(v=nasty).set(1.5)
    families = parse(registry.expose())
    assert families["odd"].samples == [("odd", {"v": nasty}, 1.5)]
    assert families["odd"].help == r"help with \\ and\nnewline and " + '"quotes"'


def test_special_values_and_misuse() -> None:
    registry = metrics.Registry()
    gauge = registry.gauge("g", "a gauge")
    gauge.set(math.inf)
    assert "g +Inf" in registry.expose()
    gauge.set(0.25)
    assert "g 0.25" in registry.expose()
    counter = registry.counter("c_total", "a counter", ("result",))
    with pytest.raises(ValueError, match="only goes up"):
        counter.labels(result="x").inc(-1)
    with pytest.raises(ValueError, match="takes labels"):
        counter.labels(other="x")
    with pytest.raises(ValueError, match=r"use \.labels"):
        counter.inc()
    with pytest.raises(ValueError, match="already registered"):
        registry.gauge("g", "again")
    with pytest.raises(ValueError, match="invalid metric name"):
        registry.gauge("bad-name", "x")
    with pytest.raises(ValueError, match="invalid label name"):
        registry.histogram("h", "x", ("le",))


def test_updates_from_many_threads_are_not_lost() -> None:
    registry = metrics.Registry()
    counter = registry.counter("hits_total", "hits", ("path",))
    histogram = registry.histogram("latency_seconds", "latency", buckets=(0.1, 1.0))

    def work() -> None:
        for i in range(2000):
            counter.labels(path=f"/p{i % 3}").inc()
            histogram.observe(0.5)
            if i % 100 == 0:
                parse(registry.expose())  # rendering while others write stays consistent

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    families = parse(registry.expose())
    assert sum(v for _, _, v in families["hits_total"].samples) == 16000
    assert _value(families, "latency_seconds_count") == 16000
    assert _value(families, "latency_seconds_bucket", le="1") == 16000
    assert _value(families, "latency_seconds_bucket", le="0.1") == 0


def test_the_parser_rejects_broken_text() -> None:
    with pytest.raises(AssertionError):
        parse("x 1\n")  # no TYPE
    with pytest.raises(AssertionError):
        parse('# TYPE x gauge\nx{a="1} 1\n')  # unterminated label value
    with pytest.raises(AssertionError):
        parse('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n')


def test_deployment_pods_by_state_replace_the_previous_set() -> None:
    registry = metrics.Registry()
    reconciler = metrics.ReconcilerMetrics(registry, "test")
    reconciler.set_deployments([("shop", "web", {"desired": 4, "updated": 2, "ready": 5,
                                                 "available": 4}),
                                ("shop", "old", {"desired": 1})])  # fmt: skip
    reconciler.set_deployments([("shop", "web", {"desired": 4, "updated": 4, "ready": 4,
                                                 "available": 4})])  # fmt: skip
    family = parse(registry.expose())["reconciler_deployment_pods"]
    assert family.type == "gauge"
    got = {(s[1]["deployment"], s[1]["state"]): s[2] for s in family.samples}
    assert got == {("web", "desired"): 4, ("web", "updated"): 4, ("web", "ready"): 4,
                   ("web", "available"): 4}  # fmt: skip
