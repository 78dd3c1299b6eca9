"""The HPA algorithm against Kubernetes' documented behaviour (kubernetes.io, "Horizontal Pod
Autoscaling" and the autoscaling/v2 behavior reference), with a fake clock."""

from __future__ import annotations

import dataclasses

import pytest

from reconciler.controllers import hpa, hpacalc
from reconciler.model import autoscaling as a
from reconciler.model import base, hoststate, metrics

NOW = 10_000.0
RUNNING = hoststate.PodPhase.RUNNING
CPU50 = a.ResourceMetric(a.ResourceName.CPU, a.TargetType.UTILIZATION, 50)
FAST_DOWN = a.ScalingRules(0, a.SelectPolicy.MAX, (a.ScalingPolicy(a.PolicyType.PERCENT, 100, 15),))


def pod(
    name: str,
    cpu: float | None,
    request: int | None = 100,
    *,
    ready: bool = True,
    phase: hoststate.PodPhase = RUNNING,
    started: float = NOW - 3600,
    memory: int = 0,
) -> hpacalc.PodSample:
    usage = None if cpu is None else metrics.PodUsage(cpu, memory)
    return hpacalc.PodSample(
        name,
        phase,
        ready,
        started,
        started + 5 if ready else 0.0,
        cpu_request=request,
        memory_request=1 << 20,
        usage=usage,
        sampled_at=NOW,
        window=15.0,
    )


def autoscaler(
    min_replicas: int = 1,
    max_replicas: int = 10,
    metric: a.ResourceMetric = CPU50,
    up: a.ScalingRules = a.SCALE_UP_DEFAULT,
    down: a.ScalingRules = a.SCALE_DOWN_DEFAULT,
) -> a.HorizontalPodAutoscaler:
    return a.HorizontalPodAutoscaler(
        base.ObjectMeta("web", "ns"),
        "Deployment",
        "web",
        max_replicas,
        min_replicas,
        (metric,),
        a.Behavior(up, down),
    )


def propose(pods: list[hpacalc.PodSample], metric: a.ResourceMetric = CPU50) -> int | None:
    return hpacalc.propose(len(pods), pods, metric, NOW).replicas


# ----- the replica calculation ---------------------------------------------------------------


def test_desired_is_ceil_of_current_times_ratio() -> None:
    # 1 pod at 200m of a 100m request against 50%: 200% / 50% = 4 replicas
    assert propose([pod("a", 200)]) == 4
    # 3 pods at 80%: ceil(3 x 1.6) = 5
    assert propose([pod(n, 80) for n in "abc"]) == 5
    # halving: 4 pods at 25% ▶ 2
    assert propose([pod(n, 25) for n in "abcd"]) == 2


def test_within_ten_percent_tolerance_no_change() -> None:
    assert propose([pod(n, 54) for n in "abc"]) == 3
    assert propose([pod(n, 46) for n in "abc"]) == 3
    assert propose([pod(n, 56) for n in "abc"]) == 4  # 1.12: outside


def test_utilization_is_an_integer_percentage() -> None:
    result = hpacalc.propose(1, [pod("a", 73.9)], CPU50, NOW)
    assert result.current == 73


def test_missing_pods_count_as_zero_on_scale_up() -> None:
    # two measured pods at 100% (ratio 2), two without metrics counted as 0: 50% ▶ no change
    pods = [pod("a", 100), pod("b", 100), pod("c", None), pod("d", None)]
    assert propose(pods) == 4


def test_missing_pods_count_as_full_request_on_scale_down() -> None:
    # one pod at 10% (ratio 0.2), one missing counted at 100%: (10 + 100)/200 = 55% ▶ 1.1
    assert propose([pod("a", 10), pod("b", None)]) == 2
    # with three at 0% and one missing at 100%: 25% ▶ 0.5 x 4 = 2
    assert propose([pod("a", 0), pod("b", 0), pod("c", 0), pod("d", None)]) == 2


def test_unready_pods_count_as_zero_on_scale_up_only() -> None:
    young = NOW - 60  # within the cpu initialization period
    pods = [pod("a", 200), pod("b", 200, ready=False, started=young)]
    # measured: 200% (ratio 4); with the unready pod at 0: 100% ▶ ratio 2 x 2 = 4
    assert propose(pods) == 4
    # on a scale-down an unready pod is simply left out: 1 ready pod at 10% ▶ 1
    assert propose([pod("a", 10), pod("b", 10, ready=False, started=young)]) == 1


def test_pending_and_failed_pods() -> None:
    pending = pod("p", None, phase=hoststate.PodPhase.PENDING)
    failed = pod("f", None, phase=hoststate.PodPhase.FAILED)
    # pending counts as unready (0 on a scale-up), failed is ignored entirely
    assert propose([pod("a", 200), pending, failed]) == 4


def test_young_pod_sampled_before_ready_is_unready() -> None:
    young = dataclasses.replace(pod("b", 200), started=NOW - 20, ready_since=NOW - 10)
    groups = hpacalc.group([pod("a", 100), young], a.ResourceName.CPU, NOW)
    assert set(groups[0]) == {"a"} and groups[1] == {"b"}


def test_missing_request_is_an_error_and_no_metrics_is_an_error() -> None:
    result = hpacalc.propose(1, [pod("a", 100, request=None)], CPU50, NOW)
    assert result.replicas is None and "missing request for cpu" in result.error
    assert hpacalc.propose(1, [pod("a", None)], CPU50, NOW).error


def test_average_value_memory() -> None:
    target = a.ResourceMetric(
        a.ResourceName.MEMORY, a.TargetType.AVERAGE_VALUE, average_value=100 << 20
    )
    pods = [pod(n, 0, memory=150 << 20) for n in "ab"]
    assert propose(pods, target) == 3  # average 150Mi / 100Mi x 2
    assert hpacalc.propose(2, pods, target, NOW).current == 150 << 20


# ----- the controller: bounds, behavior ------------------------------------------------------


def test_bounds_before_metrics() -> None:
    scaler = hpa.Autoscaler()
    assert scaler.decide(autoscaler(max_replicas=3), 5, [], NOW).desired == 3
    assert scaler.decide(autoscaler(min_replicas=2), 1, [], NOW).desired == 2
    off = scaler.decide(autoscaler(), 0, [], NOW)
    assert off.desired == 0 and "disabled" in off.reason


def test_scale_up_capped_by_max_and_default_policies() -> None:
    scaler = hpa.Autoscaler()
    decision = scaler.decide(autoscaler(max_replicas=3), 1, [pod("a", 200)], NOW)
    assert (decision.proposed, decision.desired, decision.limit) == (4, 3, "TooManyReplicas")
    assert decision.reason == "cpu resource utilization (percentage of request) above target"
    assert decision.targets == "cpu: 200%/50%"
    # default scale-up: max(4 pods, 100%) per 15 s: 1 ▶ 5 at most even when 20 are wanted
    big = hpa.Autoscaler().decide(autoscaler(max_replicas=50), 1, [pod("a", 1000)], NOW)
    assert (big.desired, big.limit) == (5, "ScaleUpLimit")


def test_scale_up_pods_policy_per_period() -> None:
    one_a_minute = a.ScalingRules(
        0, a.SelectPolicy.MAX, (a.ScalingPolicy(a.PolicyType.PODS, 1, 60),)
    )
    hpa_ = autoscaler(up=one_a_minute)
    scaler = hpa.Autoscaler()
    assert scaler.decide(hpa_, 1, [pod("a", 500)], NOW).desired == 2
    two = [pod("a", 500), pod("b", 500)]
    assert scaler.decide(hpa_, 2, two, NOW + 30).desired == 2  # still within the period
    assert scaler.decide(hpa_, 2, two, NOW + 61).desired == 3


def test_select_policy_min_and_disabled() -> None:
    rules = a.ScalingRules(
        0,
        a.SelectPolicy.MIN,
        (a.ScalingPolicy(a.PolicyType.PODS, 4, 15), a.ScalingPolicy(a.PolicyType.PERCENT, 100, 15)),
    )
    pods = [pod(str(i), 500) for i in range(10)]
    assert (
        hpa.Autoscaler().decide(autoscaler(max_replicas=100, up=rules), 10, pods, NOW).desired == 14
    )
    off = a.ScalingRules(0, a.SelectPolicy.DISABLED, ())
    assert hpa.Autoscaler().decide(autoscaler(up=off), 1, [pod("a", 500)], NOW).desired == 1


def test_scale_down_waits_for_the_default_five_minute_window() -> None:
    scaler = hpa.Autoscaler()
    hpa_ = autoscaler()
    busy = [pod(n, 50) for n in "abcd"]
    idle = [pod(n, 5) for n in "abcd"]
    assert scaler.decide(hpa_, 4, busy, NOW).desired == 4
    assert scaler.decide(hpa_, 4, idle, NOW + 15).desired == 4  # 4 was recommended < 300 s ago
    assert scaler.decide(hpa_, 4, idle, NOW + 299).desired == 4
    after = scaler.decide(hpa_, 4, idle, NOW + 301)
    assert (after.desired, after.reason) == (1, "All metrics below target")


def test_first_sight_does_not_scale_down_before_the_window() -> None:
    # a restarted controller has no recommendations: the current count counts as one
    scaler = hpa.Autoscaler()
    idle = [pod(n, 5) for n in "abcd"]
    assert scaler.decide(autoscaler(), 4, idle, NOW).desired == 4
    assert scaler.decide(autoscaler(), 4, idle, NOW + 301).desired == 1


def test_scale_down_percent_policy_and_min_replicas() -> None:
    half = a.ScalingRules(0, a.SelectPolicy.MAX, (a.ScalingPolicy(a.PolicyType.PERCENT, 50, 60),))
    hpa_ = autoscaler(min_replicas=2, down=half)
    scaler = hpa.Autoscaler()
    idle = [pod(str(i), 1) for i in range(8)]
    first = scaler.decide(hpa_, 8, idle, NOW)
    assert (first.desired, first.limit) == (4, "ScaleDownLimit")
    assert scaler.decide(hpa_, 4, idle[:4], NOW + 30).desired == 4  # 4 removed this period
    last = scaler.decide(hpa_, 4, idle[:4], NOW + 61)
    assert (last.desired, last.limit) == (2, "TooFewReplicas")


def test_scale_up_window_takes_the_smallest_recommendation() -> None:
    slow_up = a.ScalingRules(60, a.SelectPolicy.MAX, a.SCALE_UP_DEFAULT.policies)
    hpa_ = autoscaler(up=slow_up, down=FAST_DOWN)
    scaler = hpa.Autoscaler()
    assert scaler.decide(hpa_, 2, [pod("a", 50), pod("b", 50)], NOW).desired == 2
    assert scaler.decide(hpa_, 2, [pod("a", 200), pod("b", 200)], NOW + 15).desired == 2
    after = scaler.decide(hpa_, 2, [pod("a", 200), pod("b", 200)], NOW + 61)
    assert (after.proposed, after.desired) == (8, 6)  # default policy: 2 + 4 pods per 15 s


def test_invalid_metric_prevents_scale_down_but_not_scale_up() -> None:
    memory = a.ResourceMetric(a.ResourceName.MEMORY, a.TargetType.UTILIZATION, 50)
    both = dataclasses.replace(autoscaler(down=FAST_DOWN), metrics=(CPU50, memory))
    no_memory_request = [dataclasses.replace(pod(n, 5), memory_request=None) for n in "ab"]
    down = hpa.Autoscaler().decide(both, 2, no_memory_request, NOW)
    assert down.desired == 2 and "missing request for memory" in down.error
    hot = [dataclasses.replace(pod(n, 200), memory_request=None) for n in "ab"]
    assert hpa.Autoscaler().decide(both, 2, hot, NOW).desired == 6  # 8, limited to 2 + 4


def test_decisions_are_kept_for_describe() -> None:
    scaler = hpa.Autoscaler()
    for i in range(hpa.MAX_DECISIONS + 3):
        scaler.decide(autoscaler(), 1, [pod("a", 50)], NOW + i)
    kept = scaler.decisions(autoscaler().key)
    assert len(kept) == hpa.MAX_DECISIONS and kept[-1].time == NOW + hpa.MAX_DECISIONS + 2
    scaler.forget(set())
    assert scaler.decisions(autoscaler().key) == ()


@pytest.mark.parametrize(
    ("metric", "current", "shown"),
    [
        (CPU50, 73, "cpu: 73%/50%"),
        (CPU50, None, "cpu: <unknown>/50%"),
        (
            a.ResourceMetric(a.ResourceName.CPU, a.TargetType.AVERAGE_VALUE, average_value=200),
            150,
            "cpu: 150m/200m",
        ),
        (
            a.ResourceMetric(
                a.ResourceName.MEMORY, a.TargetType.AVERAGE_VALUE, average_value=64 << 20
            ),
            32 << 20,
            "memory: 32Mi/64Mi",
        ),
    ],
)
def test_targets_column(metric: a.ResourceMetric, current: int | None, shown: str) -> None:
    assert str(hpa.MetricStatus(metric, current)) == shown
