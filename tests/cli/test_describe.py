"""`reconciler describe pod NAME` with the fake executor: the pod, then its `Events:` section;
events that cannot be read are named, and never change the exit code."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

import pytest

from reconciler.cli import describe, get
from reconciler.executor import fake
from reconciler.model import hoststate
from tests.executor.test_podmanspec import IMAGE, make_run

HOSTS = Path(__file__).resolve().parent.parent.parent / "examples" / "repo" / "hosts"
TARGET = hoststate.HostTarget("h1", "198.18.0.11", 22, "rc-h1")
Obj = hoststate.EventObject


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copytree(HOSTS, tmp_path / "hosts")
    return tmp_path


def _with_pod(ex: fake.FakeExecutor) -> fake.FakeExecutor:
    """`ex` running make_run()'s pod shop/web-1 on h1."""
    run = make_run()
    action = hoststate.Action(hoststate.ActionKind.CREATE, "h1", run.namespace, run.name, run=run)
    (result,) = ex.apply(hoststate.Plan((action,)), [TARGET])
    assert result.outcome is hoststate.Outcome.DONE, result.message
    return ex


@pytest.fixture
def executor() -> fake.FakeExecutor:
    return _with_pod(fake.FakeExecutor(["h1", "h2", "h3"]))


def _pod(executor: fake.FakeExecutor) -> hoststate.ObservedPod:
    return executor.pods["h1"][("shop", "web-1")]


def _events_section(out: str) -> list[list[str]]:
    section = out.split("Events:", 1)[1].splitlines()
    return [line.split() for line in section[1:]]


def test_fake_logs_create_start_died_and_remove(executor: fake.FakeExecutor) -> None:
    pod = _pod(executor)
    executor.set_container_state("h1", "shop", "web-1", "exited", 3)
    delete = hoststate.Action(hoststate.ActionKind.DELETE, "h1", "shop", "web-1", observed=pod)
    executor.apply(hoststate.Plan((delete,)), [TARGET])
    found = executor.events(TARGET, pod, 60)
    assert [(e.action, e.kind, e.name, e.exit_code) for e in found] == [
        ("create", Obj.POD, "web-1", None),
        ("create", Obj.CONTAINER, "web", None),
        ("create", Obj.CONTAINER, "side", None),
        ("start", Obj.POD, "web-1", None),
        ("start", Obj.CONTAINER, "web", None),
        ("start", Obj.CONTAINER, "side", None),
        ("died", Obj.CONTAINER, "web", 3),
        ("died", Obj.CONTAINER, "side", 3),
        ("remove", Obj.CONTAINER, "web", None),
        ("remove", Obj.CONTAINER, "side", None),
        ("remove", Obj.POD, "web-1", None),
    ]
    assert found[1].image == IMAGE
    other = hoststate.ObservedPod("other", "web-1", "h1", "x", "h")
    assert executor.events(TARGET, other, 60) == []


def test_describe_ends_with_the_pods_events(
    repo: Path, executor: fake.FakeExecutor, capsys: pytest.CaptureFixture[str]
) -> None:
    executor.set_container_state("h1", "shop", "web-1", "exited", 1)
    assert describe.describe(executor, repo, "web-1", "shop") == 0
    out = capsys.readouterr().out
    assert out.startswith("Name:         web-1\n")
    rows = _events_section(out)
    assert rows[0] == ["AGE", "EVENT", "OBJECT", "MESSAGE"]
    assert rows[1] == ["0s", "create", "pod"]
    assert rows[2] == ["0s", "create", "container", "web", "image", IMAGE]
    assert ["0s", "start", "container", "side"] in rows
    assert rows[-1] == ["0s", "died", "container", "side", "exit", "code", "1"]
    assert "s3cret" not in out and "TOKEN" not in out  # env values are never shown
    assert "events h1 shop/web-1" in executor.calls


def test_describe_without_events_says_none(
    repo: Path, executor: fake.FakeExecutor, capsys: pytest.CaptureFixture[str]
) -> None:
    executor.event_log.clear()
    assert describe.describe(executor, repo, "web-1", "") == 0
    assert capsys.readouterr().out.endswith("Events:       <none>\n")


def test_failing_events_call_is_named_and_keeps_the_exit_code(
    repo: Path, executor: fake.FakeExecutor, capsys: pytest.CaptureFixture[str]
) -> None:
    executor.fail_events("h1", "the event log is unreadable")
    assert describe.describe(executor, repo, "web-1", "shop") == 0
    out = capsys.readouterr().out
    assert "Containers:\n  web:" in out
    assert out.endswith("Events:       <unavailable: read events: the event log is unreadable>\n")


class _DropsAfterObserve(fake.FakeExecutor):
    """A host that answers the observe, then goes away before the events are read."""

    def observe(
        self, targets: Iterable[hoststate.HostTarget], *, detail: bool = False
    ) -> dict[str, hoststate.HostObservation]:
        found = super().observe(targets, detail=detail)
        self.kill("h1", "connection lost")
        return found


def test_host_lost_before_the_events_is_named_and_keeps_the_exit_code(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    executor = _with_pod(_DropsAfterObserve(["h1"]))
    assert describe.describe(executor, repo, "web-1", "") == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("Events:       <unavailable: host h1: unreachable at 198.18.0.11")


def test_not_found_is_still_exit_1(repo: Path, executor: fake.FakeExecutor) -> None:
    assert describe.describe(executor, repo, "nope", "") == 1
    assert not [c for c in executor.calls if c.startswith("events")]


def _event(time: float, action: str = "start") -> hoststate.PodEvent:
    return hoststate.PodEvent(time, action, Obj.CONTAINER, "web")


def test_events_text_lists_only_the_most_recent() -> None:
    events = [_event(float(i)) for i in range(describe.EVENTS_SHOWN + 3)]
    lines = describe.events_text(events, "", now=float(describe.EVENTS_SHOWN + 3)).splitlines()
    assert lines[:2] == ["Events:", "  (3 earlier events not shown)"]
    assert len(lines) == 3 + describe.EVENTS_SHOWN
    assert lines[3].split() == ["50s", "start", "container", "web"]
    assert describe.events_text([], "", 0.0) == "Events:       <none>\n"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(-5, "0s"), (0, "0s"), (119.9, "119s"), (120, "2m"), (7199, "119m"), (7200, "2h"),
     (48 * 3600 - 1, "47h"), (48 * 3600, "2d"), (30 * 86400, "30d")],
)  # fmt: skip
def test_age_like_kubectl(seconds: float, shown: str) -> None:
    assert get.age(seconds) == shown


@pytest.mark.parametrize(
    ("resource", "detail"), [("pods", True), ("hosts", False), ("deployments", False)]
)
def test_only_the_pod_views_read_restart_counts(
    repo: Path, executor: fake.FakeExecutor, resource: str, detail: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """One inspect per container (restart counts) is paid by `get pods` and `describe`; one
    load-balancer read per host by `get hosts`."""
    before = executor.stats.reads
    assert get.get(executor, repo, resource, "", "json") == 0
    observes = [c for c in executor.calls if c.startswith("observe ")]
    assert observes == [f"observe {h}" + (" detail" if detail else "") for h in ("h1", "h2", "h3")]
    balancers = 3 if resource == "hosts" else 0  # get hosts asks each host's load balancer
    assert executor.stats.reads - before == 2 * 3 + (2 if detail else 0) + balancers  # 2 containers
    if resource == "pods":
        assert '"restarts": 0' in capsys.readouterr().out


def test_describe_shows_restart_counts(repo: Path, executor: fake.FakeExecutor,
                                       capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    assert describe.describe(executor, repo, "web-1", "") == 0
    assert "Restart Count:  0" in capsys.readouterr().out
    observes = [c for c in executor.calls if c.startswith("observe ")]
    assert observes == ["observe h1 detail", "observe h2 detail", "observe h3 detail"]


def test_fake_leaves_restart_counts_unknown_without_detail(executor: fake.FakeExecutor) -> None:
    plain = executor.observe([TARGET])["h1"].pods[0]
    detailed = executor.observe([TARGET], detail=True)["h1"].pods[0]
    assert [c.restart_count for c in plain.containers] == [None, None]
    assert [c.restart_count for c in detailed.containers] == [0, 0]


def test_describe_shows_each_probe_with_its_result_now(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import dataclasses  # noqa: PLC0415

    from reconciler.model import workloads  # noqa: PLC0415

    readiness = hoststate.ContainerProbe(
        hoststate.ProbeKind.READINESS,
        workloads.Probe(workloads.ProbeHandler.HTTP_GET, port=8080, path="/ready",
                        period_seconds=2),
    )
    run = make_run()
    web = dataclasses.replace(run.containers[0], probes=(readiness,))
    run = dataclasses.replace(run, containers=(web, *run.containers[1:]))
    ex = fake.FakeExecutor(["h1", "h2", "h3"])
    action = hoststate.Action(hoststate.ActionKind.CREATE, "h1", run.namespace, run.name, run=run)
    ex.apply(hoststate.Plan((action,)), [TARGET])
    ex.set_probe("h1", "shop", "web-1", "web", hoststate.ProbeKind.READINESS, ok=False,
                 message="HTTP 503")  # fmt: skip
    assert describe.describe(ex, repo, "web-1", "shop") == 0
    out = capsys.readouterr().out
    assert "Readiness:      http-get :8080/ready delay=0s timeout=1s period=2s #success=1 " \
        "#failure=3" in out
    assert "Last readiness probe: failed: HTTP 503" in out
    web_part = out.split("  web:")[1].split("  side:")[0]
    assert "Ready:          False" in web_part


def test_events_section_merges_the_daemons_events_in_time_order() -> None:
    from reconciler.state import conditions as cond  # noqa: PLC0415

    podman = [hoststate.PodEvent(10.0, "died", Obj.CONTAINER, "web", exit_code=1)]
    daemon = [
        cond.Event(1, 5.0, cond.EventKind.WARNING, "Pod/shop/web-1", "Unhealthy",
                   "web: Liveness probe failed: HTTP 500"),
        cond.Event(2, 12.0, cond.EventKind.NORMAL, "Pod/shop/web-1", "Killing", "restart"),
    ]
    rows = _events_section(describe.events_text(podman, "", 20.0, daemon))
    assert [row[1] for row in rows[1:]] == ["Unhealthy", "died", "Killing"]
