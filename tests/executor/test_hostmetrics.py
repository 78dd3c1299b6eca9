"""Host metrics: /proc parsing, process-tree sums, the stats API answer, rates from two samples,
the fake executor's samples."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.executor import errors, fake, hostmetrics, loop, protocol, sshconn
from reconciler.model import hoststate, metrics


def stat(pid: int, ppid: int, utime: int, stime: int, rss: int, comm: str = "sh") -> str:
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    # utime stime cutime cstime priority nice threads itreal starttime vsize rss ...
    return (
        f"{pid} ({comm}) R {ppid} 1 1 0 -1 0 0 0 0 0 {utime} {stime} 1 2 20 0 1 0 100 "
        f"1000 {rss} 0 0"
    )


def output(*lines: str) -> str:
    return "\n".join(["motd noise", sshconn.PROC_MARKER, "100", "4096", "500.25 900.0", *lines])


def test_stat_line_with_spaces_and_parentheses_in_comm() -> None:
    entry = hostmetrics.parse_stat_line(stat(7, 3, 10, 5, 20, comm="a) b (c"))
    assert entry == hostmetrics.ProcEntry(7, 3, 10 + 5 + 1 + 2, 20)
    assert hostmetrics.parse_stat_line("garbage") is None


def test_proc_sample_and_tree_sum() -> None:
    sample = hostmetrics.parse_proc(
        output(
            stat(10, 1, 100, 50, 10),
            stat(11, 10, 200, 0, 5),
            stat(12, 11, 7, 0, 1),
            stat(20, 1, 999, 999, 999),
        )
    )
    assert (sample.clock_ticks, sample.page_size, sample.uptime) == (100, 4096, 500.25)
    cpu, memory = hostmetrics.tree_usage(sample, 10)
    assert cpu == pytest.approx((153 + 203 + 10) / 100)
    assert memory == 16 * 4096
    assert hostmetrics.tree_usage(sample, 99) == (0.0, 0)


def test_too_short_output_is_an_operation_failure() -> None:
    with pytest.raises(errors.OperationFailed):
        hostmetrics.parse_proc(sshconn.PROC_MARKER + "\n100\n")


def listed(pid: int, cid: str, state: str = "running", container: str = "app") -> dict[str, Any]:
    labels = {
        hoststate.LABEL_NAMESPACE: "ns",
        hoststate.LABEL_NAME: "web-0",
        hoststate.LABEL_CONTAINER: container,
    }
    return {"Id": cid, "Pid": pid, "State": state, "Labels": labels}


def test_running_skips_stopped_and_infra_containers() -> None:
    infra = {"Id": "i", "Pid": 5, "State": "running", "Labels": {}}
    found = hostmetrics.running([listed(10, "a"), listed(0, "b", "exited"), infra])
    assert [r.podman_id for r in found] == ["a"]


def test_from_proc_and_from_stats() -> None:
    sample = hostmetrics.parse_proc(output(stat(10, 1, 100, 0, 2)))
    running = hostmetrics.running([listed(10, "a"), listed(11, "gone")])
    proc = hostmetrics.from_proc("h1", sample, running)
    assert proc.source is metrics.Source.PROC and proc.time == 500.25
    (usage,) = proc.containers
    assert (usage.podman_id, usage.memory_bytes) == ("a", 8192)
    assert usage.cpu_seconds == pytest.approx(1.03)
    stats = [{"ContainerID": "a", "CPUNano": 2_500_000_000, "MemUsage": 1234}]
    api = hostmetrics.from_stats("h1", stats, running, 42.0)
    assert api.source is metrics.Source.PODMAN_STATS
    assert [(c.pod, c.cpu_seconds, c.memory_bytes) for c in api.containers] == [
        ("web-0", 2.5, 1234)
    ]


def sample(time: float, cpu: float, cid: str = "a", source: Any = metrics.Source.PROC) -> Any:
    usage = metrics.ContainerUsage("ns", "web-0", "app", cid, cpu, 100)
    return metrics.HostMetrics("h1", True, source, time, (usage,))


def test_rates_between_two_samples() -> None:
    got = metrics.rates(sample(10.0, 1.0), sample(25.0, 4.0))
    assert got[("ns", "web-0", "app")].cpu_millis == pytest.approx(200.0)
    assert metrics.rates(None, sample(25.0, 4.0)) == {}
    assert metrics.rates(sample(10.0, 1.0, "old"), sample(25.0, 4.0)) == {}  # restarted
    other = sample(25.0, 4.0, source=metrics.Source.PODMAN_STATS)
    assert metrics.rates(sample(10.0, 1.0), other) == {}
    pods = metrics.pod_usage(got)
    assert pods[("ns", "web-0")].cpu_millis == pytest.approx(200.0)


def test_fake_metrics_integrate_set_usage() -> None:
    executor = fake.FakeExecutor(["h1"])
    pod = hoststate.ObservedPod(
        "ns",
        "web-0",
        "h1",
        "p1",
        "x",
        containers=(hoststate.ObservedContainer("app", "c1", "img", "running"),),
    )
    executor.pods["h1"][pod.key] = pod
    executor.set_usage("ns", "web-0", "app", 300.0, 1000)
    target = hoststate.HostTarget("h1", "198.18.0.11")
    first = executor.metrics([target])["h1"]
    second = executor.metrics([target])["h1"]
    rate = metrics.rates(first, second)[("ns", "web-0", "app")]
    assert rate.cpu_millis == pytest.approx(300.0) and rate.memory_bytes == 1000
    executor.kill("h1")
    assert not executor.metrics([target])["h1"].reachable


class FakeAPI:
    def __init__(self, stats_error: str = "") -> None:
        self.stats_error = stats_error
        self.stats_calls = 0

    def list_containers(self, filters: Any) -> list[dict[str, Any]]:
        return [listed(10, "a")]

    def container_stats(self) -> list[dict[str, Any]]:
        self.stats_calls += 1
        if self.stats_error:
            raise errors.OperationFailed("container stats", self.stats_error, 409)
        return [{"ContainerID": "a", "CPUNano": 1_000_000_000, "MemUsage": 4096}]


class FakeConnection:
    def __init__(self) -> None:
        self.reads = 0

    async def read_proc_stats(self) -> str:
        self.reads += 1
        return output(stat(10, 1, 100, 0, 2))


class FakeSession:
    def __init__(self, api: FakeAPI) -> None:
        self.target = hoststate.HostTarget("h1", "198.18.0.11")
        self.api = api
        self.connection = FakeConnection()
        self.stats = protocol.ExecutorStats()


@pytest.fixture
def runner() -> Iterator[loop.LoopThread]:
    made = loop.LoopThread()
    yield made
    made.stop()


def test_collector_uses_podman_stats_where_they_work(runner: loop.LoopThread) -> None:
    session = FakeSession(FakeAPI())
    collector = hostmetrics.Collector(runner, clock=lambda: 5.0)
    sample = collector.sample(session)  # type: ignore[arg-type]
    assert sample.source is metrics.Source.PODMAN_STATS and sample.time == 5.0
    assert [(c.cpu_seconds, c.memory_bytes) for c in sample.containers] == [(1.0, 4096)]
    assert session.connection.reads == 0


def test_collector_falls_back_to_proc_once_and_remembers(runner: loop.LoopThread) -> None:
    api = FakeAPI("stats is not supported in rootless mode without cgroups v2")
    session = FakeSession(api)
    collector = hostmetrics.Collector(runner)
    for _ in range(3):
        sample = collector.sample(session)  # type: ignore[arg-type]
        assert sample.source is metrics.Source.PROC
        assert [c.podman_id for c in sample.containers] == ["a"]
    assert api.stats_calls == 1  # asked once; /proc from then on
    assert session.connection.reads == 3
    assert collector.source("h1") is metrics.Source.PROC
