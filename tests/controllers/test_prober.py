"""The prober's schedule and Kubernetes semantics with a fake clock and the FakeExecutor:
initial delay, period, success/failure thresholds, startup gating, readiness without a probe,
liveness failures, Unhealthy events, a replaced or restarted container starting afresh."""

from __future__ import annotations

import dataclasses
import datetime
import time

import pytest

from reconciler.controllers import prober as probermod
from reconciler.controllers import probestate as probestatemod
from reconciler.executor import fake
from reconciler.model import base, hoststate, workloads

Kind = hoststate.ProbeKind
Handler = workloads.ProbeHandler
HOST = "h1"
TARGETS = {HOST: hoststate.HostTarget(HOST, "198.18.0.11")}
START = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def mono(self) -> float:
        return self.now

    def wall(self) -> float:
        return START + (self.now - 1000.0)


def probe(kind: Kind, **fields: object) -> hoststate.ContainerProbe:
    handler = fields.pop("handler", Handler.HTTP_GET)
    return hoststate.ContainerProbe(kind, workloads.Probe(handler, port=8080, **fields))  # type: ignore[arg-type]


class World:
    def __init__(self, *probes: hoststate.ContainerProbe, name: str = "web") -> None:
        self.clock = Clock()
        self.executor = fake.FakeExecutor([HOST])
        self.name = name
        self.create(probes)
        self.prober = probermod.Prober(
            self.executor, clock=self.clock.mono, wall_clock=self.clock.wall, workers=2
        )
        self.changes = 0
        self.events: list[probestatemod.ProbeEvent] = []
        self.restarts: list[tuple[str, ...]] = []
        self.prober.on_change(self._changed)
        self.prober.on_event(self.events.append)
        self.prober.on_liveness_failure(lambda *args: self.restarts.append(args))

    def _changed(self) -> None:
        self.changes += 1

    def create(self, probes: tuple[hoststate.ContainerProbe, ...]) -> None:
        run = hoststate.PodRun(
            namespace="ns",
            name=self.name,
            host=HOST,
            spec_hash=f"h{len(self.executor.calls)}",
            labels=base.FrozenMap({}),
            containers=(hoststate.ContainerRun("c", "img", probes=probes),),
        )
        action = hoststate.Action(hoststate.ActionKind.CREATE, HOST, "ns", self.name, run=run)
        self.executor.apply(hoststate.Plan((action,)), TARGETS.values())
        # started "now" by the fake clock, so initial delays count from here
        pod = self.executor.pods[HOST][("ns", self.name)]
        started = datetime.datetime.fromtimestamp(self.clock.wall(), datetime.UTC)
        containers = tuple(
            dataclasses.replace(c, started_at=started.isoformat()) for c in pod.containers
        )
        self.executor.pods[HOST][("ns", self.name)] = dataclasses.replace(
            pod, containers=containers
        )

    def observations(self) -> dict[str, hoststate.HostObservation]:
        return self.executor.observe(TARGETS.values())

    def sync(self) -> None:
        self.prober.sync(self.observations(), TARGETS)

    @property
    def container(self) -> hoststate.ObservedContainer:
        return self.executor.pods[HOST][("ns", self.name)].containers[0]

    def ready(self) -> bool | None:
        return self.prober.ready(HOST, self.container.podman_id)

    def advance(self, seconds: float) -> int:
        """Move the clock one second at a time, running due probes; how many ran."""
        ran = 0
        for _ in range(int(seconds)):
            self.clock.now += 1
            ran += self.prober.step()
        return ran

    def steer(self, kind: Kind, ok: bool, message: str = "") -> None:
        self.executor.set_probe(HOST, "ns", self.name, "c", kind, ok=ok, message=message)

    def pod(self) -> hoststate.ObservedPod:
        (pod,) = self.prober.annotate(self.observations())[HOST].pods
        return pod


def test_no_probes_ready_once_running() -> None:
    world = World()
    world.sync()
    assert world.ready() is True
    assert world.pod().ready is True
    assert world.pod().ready_since == START
    assert world.advance(30) == 0


def test_readiness_initial_delay_period_and_success_threshold() -> None:
    world = World(probe(Kind.READINESS, initial_delay_seconds=5, period_seconds=3,
                        success_threshold=2))  # fmt: skip
    world.sync()
    assert world.ready() is False
    assert world.prober.step() == 0
    assert world.advance(4) == 0  # t=4: still in the initial delay
    assert world.advance(1) == 1  # t=5: first run
    assert world.ready() is False  # one success of two
    assert world.advance(2) == 0
    assert world.advance(1) == 1  # t=8: second run
    assert world.ready() is True
    assert world.changes == 1
    assert world.pod().ready is True
    assert world.pod().ready_since == START + 8
    assert [k for k, _, _ in world.prober.last_results(HOST, world.container.podman_id)] == [
        Kind.READINESS,
        Kind.READINESS,
    ]


def test_readiness_failure_threshold_and_events() -> None:
    world = World(probe(Kind.READINESS, period_seconds=1, failure_threshold=3))
    world.sync()
    world.advance(1)
    assert world.ready() is True
    world.steer(Kind.READINESS, False, "HTTP 503")
    world.advance(2)
    assert world.ready() is True  # two failures of three
    world.advance(1)
    assert world.ready() is False
    assert world.pod().ready is False
    assert [e.message for e in world.events] == ["Readiness probe failed: HTTP 503"] * 3
    assert {(e.reason, e.kind, e.container) for e in world.events} == {
        ("Unhealthy", Kind.READINESS, "c")
    }
    assert world.changes == 2
    world.executor.clear_probe(HOST, "ns", "web", "c", Kind.READINESS)
    world.advance(1)
    assert world.ready() is True


def test_startup_gates_liveness_and_readiness() -> None:
    world = World(
        probe(Kind.STARTUP, period_seconds=2, failure_threshold=10),
        probe(Kind.LIVENESS, period_seconds=1),
        probe(Kind.READINESS, period_seconds=1),
    )
    world.steer(Kind.STARTUP, False, "connection refused")
    world.sync()
    world.advance(6)
    kinds = {key[4] for key in world.executor.probe_calls}
    assert kinds == {Kind.STARTUP}
    assert world.ready() is False
    world.executor.clear_probe(HOST, "ns", "web", "c", Kind.STARTUP)
    world.advance(2)  # the startup probe passes; the others start at once
    assert world.ready() is True
    calls = len(world.executor.probe_calls)
    world.advance(5)
    later = [key[4] for key in world.executor.probe_calls[calls:]]
    assert Kind.STARTUP not in later
    assert later.count(Kind.LIVENESS) == 5
    assert later.count(Kind.READINESS) == 5


def test_startup_never_passing_restarts_the_container() -> None:
    world = World(probe(Kind.STARTUP, period_seconds=1, failure_threshold=3))
    world.steer(Kind.STARTUP, False, "timeout after 1s")
    world.sync()
    world.advance(3)
    assert len(world.restarts) == 1
    assert world.restarts[0][:4] == (HOST, "ns", "web", "c")
    assert world.restarts[0][5] == "Startup probe failed: timeout after 1s"


def test_liveness_failure_threshold_calls_back_once_per_streak() -> None:
    world = World(probe(Kind.LIVENESS, period_seconds=10, failure_threshold=2))
    world.sync()
    assert world.ready() is True  # no readiness probe
    world.steer(Kind.LIVENESS, False, "HTTP 500")
    world.advance(10)
    assert world.restarts == []
    world.advance(10)
    (restart,) = world.restarts
    assert restart == (HOST, "ns", "web", "c", world.container.podman_id,
                       "Liveness probe failed: HTTP 500")  # fmt: skip
    assert world.ready() is False
    world.advance(10)
    assert len(world.restarts) == 1  # a new streak starts


def test_restarted_container_starts_afresh() -> None:
    world = World(probe(Kind.READINESS, initial_delay_seconds=5, period_seconds=1))
    world.sync()
    world.advance(5)
    assert world.ready() is True
    world.clock.now += 100
    pod = world.executor.pods[HOST][("ns", "web")]
    later = datetime.datetime.fromtimestamp(world.clock.wall(), datetime.UTC)
    restarted = dataclasses.replace(pod.containers[0], started_at=later.isoformat())
    world.executor.pods[HOST][("ns", "web")] = dataclasses.replace(pod, containers=(restarted,))
    world.sync()
    assert world.ready() is False
    assert world.advance(4) == 0  # the initial delay counts from the new start
    assert world.advance(1) == 1
    assert world.ready() is True


def test_replaced_container_is_a_new_key_and_the_old_one_is_forgotten() -> None:
    world = World(probe(Kind.READINESS, period_seconds=1))
    world.sync()
    world.advance(1)
    old = world.container.podman_id
    assert world.ready() is True
    world.create((probe(Kind.READINESS, period_seconds=1, initial_delay_seconds=3),))
    world.sync()
    assert world.prober.ready(HOST, old) is None
    assert world.ready() is False
    world.advance(3)
    assert world.ready() is True


def test_stopped_container_is_not_ready_and_not_probed() -> None:
    world = World(probe(Kind.READINESS, period_seconds=1))
    world.sync()
    world.advance(1)
    world.executor.set_container_state(HOST, "ns", "web", "exited", 1)
    world.sync()
    assert world.ready() is False
    assert world.advance(5) == 0


def test_unreachable_host_keeps_state_unknown_host_forgets() -> None:
    world = World()
    world.sync()
    world.executor.kill(HOST)
    world.sync()
    assert world.ready() is True
    world.prober.sync({}, TARGETS)
    assert world.ready() is None
    world.executor.revive(HOST)
    assert world.pod().ready is None  # not synced since: unknown


def test_probe_once_honours_initial_delay_and_startup() -> None:
    world = World(probe(Kind.READINESS, initial_delay_seconds=10))
    once = world.prober.probe_once(world.observations(), TARGETS)
    assert once[HOST].pods[0].ready is False
    world.clock.now += 10
    once = world.prober.probe_once(world.observations(), TARGETS)
    assert once[HOST].pods[0].ready is True
    assert once[HOST].pods[0].containers[0].ready is True
    world.steer(Kind.READINESS, False, "HTTP 503")
    once = world.prober.probe_once(world.observations(), TARGETS)
    assert once[HOST].pods[0].ready is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T10:00:00Z", 1714557600.0),
        ("2024-05-01T10:00:00.123456789Z", 1714557600.123456),
        ("2024-05-01T10:00:00.5+00:00", 1714557600.5),
        ("", None),
        ("yesterday", None),
    ],
)
def test_parse_time(value: str, expected: float | None) -> None:
    assert probestatemod.parse_time(value) == expected


def test_background_thread_runs_probes() -> None:
    world = World(probe(Kind.READINESS, period_seconds=1))
    world.prober = probermod.Prober(world.executor)  # real clocks
    world.sync()
    world.prober.start()
    try:
        for _ in range(200):
            if world.ready():
                break
            time.sleep(0.01)
    finally:
        world.prober.stop()
    assert world.ready() is True
