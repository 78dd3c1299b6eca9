"""Host health (controllers.hosthealth, hostpass) with a fake clock and the FakeExecutor: a host
that stops answering is Unknown and keeps its pods (nothing re-placed) until the grace period
ends; then its Deployment pods are re-placed, never its bare Pods; when it returns its stale
copies are removed first (fencing) and nothing moves back; a flapping host moves nothing;
one-shot runs (no monitor) never move pods off a host that did not answer."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from reconciler.controllers import hostconditions, hosthealth, sync
from reconciler.controllers import hostpass as hostpassmod
from reconciler.executor import fake
from reconciler.model import hoststate

HELD = ("held until it answers or is NotReady: Deployment hh/web (2 of 3 replicas, on hosts "
        "that answer), Pod hh/solo")
H = hostconditions.Status
R = hostconditions.Reason

REPO = {
    "hosts.yaml": "".join(
        f"""---
apiVersion: reconciler.dev/v1alpha1
kind: Host
metadata: {{name: {name}}}
spec:
  address: 198.18.0.{10 + n}
  ssh: {{user: rc-{name}}}
  capacity: {{cpu: "4", memory: 4Gi}}
"""
        for n, name in enumerate(("h1", "h2", "h3"), start=1)
    ),
    "app.yaml": """---
apiVersion: v1
kind: Namespace
metadata: {name: hh}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: hh}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - {name: web, image: busybox, command: [sleep, "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: solo, namespace: hh}
spec:
  containers:
    - {name: solo, image: busybox, command: [sleep, "3600"]}
""",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ----- the pure core -------------------------------------------------------------------------


def test_a_silent_host_is_unknown_then_not_ready_after_the_grace_period() -> None:
    ready = hostconditions.judge(None, "h1", None, 100.0)
    assert (ready.status, ready.reason, ready.since) == (H.READY, R.HOST_READY, 100.0)
    hung = hostconditions.tick(ready, 100.0 + hostconditions.SILENT_AFTER - 0.1, 10.0)
    assert hung.status is H.READY
    unknown = hostconditions.tick(ready, 100.0 + hostconditions.SILENT_AFTER, 10.0)
    assert (unknown.status, unknown.reason, unknown.last_ok) == (H.UNKNOWN, R.NOT_RESPONDING, 100)
    assert hostconditions.tick(unknown, 109.9, 10.0).status is H.UNKNOWN
    lost = hostconditions.tick(unknown, 110.5, 10.0)
    assert (lost.status, lost.reason, lost.since) == (H.NOT_READY, R.LOST, 110.0)
    assert lost.lost and not lost.answering


def test_a_refusal_is_unknown_at_once_and_a_return_fences_before_ready() -> None:
    ready = hostconditions.judge(None, "h1", None, 100.0)
    refused = hostconditions.judge(ready, "h1", "host h1: connection refused", 101.0)
    assert (refused.status, refused.since, refused.message) == (
        H.UNKNOWN, 101.0, "host h1: connection refused")  # fmt: skip
    assert hostconditions.judge(refused, "h1", None, 102.0).status is H.READY  # within grace
    lost = hostconditions.tick(refused, 111.0, 10.0)
    back = hostconditions.judge(lost, "h1", None, 120.0)
    assert (back.status, back.reason, back.since) == (H.NOT_READY, R.FENCING, 110.0)
    assert back.answering and back.lost
    again = hostconditions.judge(back, "h1", "no answer", 121.0)
    assert again.reason is R.LOST  # lost again before it was fenced: fenced on its next return
    done = hostconditions.fenced(back, 125.0)
    assert (done.status, done.reason, done.since) == (H.READY, R.HOST_READY, 125.0)


def test_a_record_reads_back() -> None:
    condition = hostconditions.Condition("h1", H.NOT_READY, R.LOST, "gone", 1.5, 0.5)
    assert hostconditions.Condition.from_record(condition.record()) == condition
    assert hostconditions.Condition.from_record({"host": "h1", "status": "Sideways"}) is None


def test_a_flapping_host_never_reaches_not_ready() -> None:
    clock = Clock()
    saved: list[list[dict[str, Any]]] = []
    monitor = hosthealth.Monitor(
        None, 10.0, clock=clock, save=lambda rows: saved.append([dict(r) for r in rows])
    )
    monitor.watch([hoststate.HostTarget("h1", "198.18.0.11")])
    for second in range(60):  # down 4 s, up 2 s, checked every second
        clock.now += 1
        monitor.heard("h1", "no answer" if second % 6 < 4 else None)
        monitor.tick()
        assert monitor.conditions()["h1"].status is not H.NOT_READY
    assert saved and saved[-1][0]["host"] == "h1"


def test_the_monitor_remembers_saved_conditions() -> None:
    condition = hostconditions.Condition("h2", H.NOT_READY, R.LOST, "gone", 5.0, 1.0)
    monitor = hosthealth.Monitor(None, saved=[condition.record(), {"junk": 1}])
    assert monitor.conditions() == {"h2": condition}


# ----- whole reconciles with the fake executor -------------------------------------------------


def _repo(tmp_path: Path) -> Path:
    for name, text in REPO.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def _run(repo: Path, executor: fake.FakeExecutor, controllers: sync.Controllers) -> sync.Prepared:
    prepared = sync.prepare(repo, executor, "r1", controllers)
    sync.converge(prepared, executor)
    return prepared


def _where(executor: fake.FakeExecutor) -> dict[str, str]:
    return {name: host for host, pods in executor.pods.items() for (_, name) in pods}


def _setup(tmp_path: Path) -> tuple[Path, fake.FakeExecutor, Clock, sync.Controllers]:
    repo = _repo(tmp_path)
    executor = fake.FakeExecutor(["h1", "h2", "h3"])
    clock = Clock()
    monitor = hosthealth.Monitor(None, 10.0, clock=clock)
    controllers = sync.Controllers(clock=clock, hosts=monitor)
    for _ in range(3):
        _run(repo, executor, controllers)
    assert len(_where(executor)) == 4
    return repo, executor, clock, controllers


def _later(executor: fake.FakeExecutor, monitor: hosthealth.Monitor, clock: Clock,
           seconds: float) -> None:  # fmt: skip
    """Time passes; the monitor's threads check every host (those that answer do)."""
    clock.now += seconds
    for host in executor.pods:
        monitor.heard(host, executor.unreachable.get(host))
    monitor.tick()


def _lose(executor: fake.FakeExecutor, monitor: hosthealth.Monitor, host: str) -> None:
    executor.kill(host)
    monitor.heard(host, f"host {host}: no answer")


def test_pods_stay_put_within_the_grace_period_then_move_once(tmp_path: Path) -> None:
    repo, executor, clock, controllers = _setup(tmp_path)
    monitor = controllers.hosts
    assert monitor is not None
    before = _where(executor)
    lost = before["solo"]  # the host of the bare Pod also runs a web replica (spread)
    assert lost in {host for name, host in before.items() if name.startswith("web-")}
    _lose(executor, monitor, lost)
    _later(executor, monitor, clock, 5)
    prepared = _run(repo, executor, controllers)
    assert prepared.result.plan.empty and _where(executor) == before
    (seen,) = prepared.unreachable
    assert "Unknown (HostNotResponding)" in seen.error
    assert HELD in seen.error

    _later(executor, monitor, clock, 6)  # past the grace period
    assert monitor.conditions()[lost].status is H.NOT_READY
    prepared = _run(repo, executor, controllers)
    moved = _where(executor)
    web = {name: host for name, host in moved.items() if name.startswith("web-")}
    assert len(web) == 3 and set(web) == {n for n in before if n.startswith("web-")}
    stale = [name for name, host in before.items() if host == lost and name != "solo"]
    assert all(web[name] != lost for name in stale)  # re-placed on hosts that answer
    assert all(a.name != "solo" for a in prepared.result.plan.actions)  # bare Pods never move

    # it returns with its containers still running: stale copies go first, nothing else there
    executor.revive(lost)
    monitor.heard(lost, None)
    assert monitor.conditions()[lost].reason is R.FENCING
    prepared = _run(repo, executor, controllers)
    actions = prepared.result.plan.actions
    assert {(a.kind, a.host, a.name, a.wave) for a in actions} == {
        (hoststate.ActionKind.DELETE, lost, name, 0) for name in stale}  # fmt: skip
    assert all(a.reason.startswith("fenced") for a in actions)
    prepared = _run(repo, executor, controllers)  # fenced: Ready, and nothing moves back
    assert monitor.conditions()[lost].status is H.READY
    assert prepared.result.plan.empty
    assert _where(executor) == {**web, "solo": lost}


def test_a_host_lost_before_its_new_pods_were_observed_gets_no_replacement_early(
    tmp_path: Path,
) -> None:
    """The checks no longer read pods: what a host runs is known from the reconcile's observe.
    A host cut off right after a reconcile created pods on it (before the next observe) is
    judged blind, not by the empty listing read before the create (e2e: the lost replica was
    re-created 4.2 s after the cut, within the grace period)."""
    repo = _repo(tmp_path)
    executor = fake.FakeExecutor(["h1", "h2", "h3"])
    clock = Clock()
    monitor = hosthealth.Monitor(None, 10.0, clock=clock)
    controllers = sync.Controllers(clock=clock, hosts=monitor)
    _run(repo, executor, controllers)  # observed empty hosts, then created the 4 pods
    before = _where(executor)
    assert len(before) == 4
    lost = before["solo"]
    _lose(executor, monitor, lost)
    _later(executor, monitor, clock, 5)  # Unknown, within the grace period
    for _ in range(2):
        prepared = _run(repo, executor, controllers)
        assert prepared.result.plan.empty, prepared.result.plan.actions
    assert _where(executor) == before


def test_a_flapping_host_moves_nothing(tmp_path: Path) -> None:
    repo, executor, clock, controllers = _setup(tmp_path)
    monitor = controllers.hosts
    assert monitor is not None
    before = _where(executor)
    for second in range(60):
        if second % 6 == 0:
            executor.kill("h1")
        elif second % 6 == 4:
            executor.revive("h1")
        _later(executor, monitor, clock, 1)
        _run(repo, executor, controllers)
        assert _where(executor) == before


def test_one_shot_runs_never_move_pods_off_a_host_that_did_not_answer(tmp_path: Path) -> None:
    repo, executor, _, _ = _setup(tmp_path)
    before = _where(executor)
    executor.kill(before["solo"])
    for controllers in (None, sync.Controllers()):  # diff, apply
        prepared = sync.prepare(repo, executor, "r1", controllers)
        assert prepared.result.plan.empty, prepared.result.plan
        (seen,) = prepared.unreachable
        assert HELD in seen.error


class _Hanging(fake.FakeExecutor):
    """h2 does not answer (a cut link) until released."""

    def __init__(self) -> None:
        super().__init__(["h1", "h2"])
        self.release = threading.Event()

    def observe(self, targets: Iterable[hoststate.HostTarget], *, detail: bool = False
                ) -> dict[str, hoststate.HostObservation]:  # fmt: skip
        wanted = list(targets)
        if any(t.name == "h2" for t in wanted):
            self.release.wait(10)
        return super().observe(wanted, detail=detail)

    def ping(self, target: hoststate.HostTarget) -> str | None:
        if target.name == "h2":
            self.release.wait(10)
        return super().ping(target)


def test_a_reconcile_does_not_wait_for_a_host_that_just_went_silent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hosthealth, "OBSERVE_DEADLINE", 0.3)
    executor = _Hanging()
    monitor = hosthealth.Monitor(executor, 10.0)  # the daemon's: it checks on its threads
    controllers = sync.Controllers(hosts=monitor)
    targets = [hoststate.HostTarget(h, "198.18.0.1") for h in ("h1", "h2")]
    monitor.heard("h2", None)  # it answered a check before its link was cut
    try:
        started = time.monotonic()
        seen = hosthealth.observe(executor, targets, controllers)
        assert time.monotonic() - started < 5
        assert seen["h1"].reachable and not seen["h2"].reachable
        assert "no answer within 0.3s" in seen["h2"].error
        assert monitor.conditions()["h2"].status is H.UNKNOWN  # the next reconcile skips it
    finally:
        executor.release.set()
        monitor.stop()


def test_a_host_opening_its_first_connection_is_waited_for_past_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At start every host's first check opens its SSH connection, queued behind the others'
    handshakes: that is no silence. 50 hosts on a loaded machine once began every daemon run
    with a Partial sync and a dozen hosts Unknown."""
    monkeypatch.setattr(hosthealth, "OBSERVE_DEADLINE", 0.3)
    executor = _Hanging()
    monitor = hosthealth.Monitor(executor, 10.0)
    controllers = sync.Controllers(hosts=monitor)
    targets = [hoststate.HostTarget(h, "198.18.0.1") for h in ("h1", "h2")]
    threading.Timer(1.0, executor.release.set).start()  # h2's first answer comes after 1 s
    try:
        seen = hosthealth.observe(executor, targets, controllers)
        assert seen["h1"].reachable and seen["h2"].reachable
        assert monitor.conditions()["h2"].status is H.READY
    finally:
        executor.release.set()
        monitor.stop()


def test_time_alone_never_judges_a_host_before_its_first_check() -> None:
    """Neither a fresh host nor one saved Ready by an earlier run (its heartbeat old) goes
    Unknown, let alone NotReady, on the clock alone before a check of this process ends."""
    clock = Clock()
    saved = hostconditions.Condition("h2", H.READY, R.HOST_READY, "", 100.0, 100.0)
    monitor = hosthealth.Monitor(None, 10.0, clock=clock, saved=[saved.record()])
    monitor.watch([hoststate.HostTarget(h, "198.18.0.1") for h in ("h1", "h2")])
    for _ in range(3):
        clock.now += 2 * hostconditions.SILENT_AFTER
        monitor.tick()
    assert {c.status for c in monitor.conditions().values()} == {H.READY}
    monitor.heard("h1", None)
    clock.now += hostconditions.SILENT_AFTER
    monitor.tick()
    assert monitor.conditions()["h1"].status is H.UNKNOWN  # checked, then silent: judged
    assert monitor.conditions()["h2"].status is H.READY


def test_one_shot_runs_roll_a_change_over_the_pods_they_see_and_replace_none(
    tmp_path: Path,
) -> None:
    repo, executor, _, _ = _setup(tmp_path)
    before = _where(executor)
    down = before["solo"]
    executor.kill(down)
    (repo / "app.yaml").write_text(REPO["app.yaml"].replace('"3600"', '"7200"'))
    controllers = sync.Controllers(hosts=hosthealth.Monitor(None))  # as manager.start makes
    for _ in range(8):  # apply's loop: rollout steps until converged
        prepared = _run(repo, executor, controllers)
    assert prepared.result.plan.empty
    web = {n: h for n, h in _where(executor).items() if n.startswith("web-")}
    old = {n for n in before if n.startswith("web-")}
    assert sum(1 for n, h in web.items() if h != down) == 2  # rolled: 2 of 3, none added
    assert all(n not in old for n, h in web.items() if h != down)
    assert [n for n, h in web.items() if h == down] == [n for n in old if before[n] == down]


class _Slow(fake.FakeExecutor):
    """Every host answers, each only after `delay` seconds (a busy fleet)."""

    def __init__(self, names: list[str], delay: float) -> None:
        super().__init__(names)
        self.delay = delay

    def observe(self, targets: Iterable[hoststate.HostTarget], *, detail: bool = False
                ) -> dict[str, hoststate.HostObservation]:  # fmt: skip
        time.sleep(self.delay)
        return super().observe(targets, detail=detail)


def test_fifty_slow_hosts_are_each_waited_for_at_once_not_in_a_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """50 hosts answering in 0.5 s each fit a 2 s deadline only when they are read at once
    (a pool of cpu+4 threads would queue them and report most as not answering)."""
    monkeypatch.setattr(hosthealth, "OBSERVE_DEADLINE", 2.0)
    names = [f"h{n}" for n in range(1, 51)]
    executor = _Slow(names, 0.5)
    monitor = hosthealth.Monitor(executor, 10.0)
    controllers = sync.Controllers(hosts=monitor)
    targets = [hoststate.HostTarget(h, "198.18.0.1") for h in names]
    try:
        seen = hosthealth.observe(executor, targets, controllers)
        late = sorted(n for n, o in seen.items() if not o.reachable)
        assert late == [], late
    finally:
        monitor.stop()


def _fleet(tmp_path: Path, count: int) -> tuple[Path, fake.FakeExecutor, Clock, sync.Controllers]:
    """A repository of `count` hosts and a Deployment of one replica per host, converged."""
    names = [f"h{n}" for n in range(1, count + 1)]
    hosts = "".join(
        f"""---
apiVersion: reconciler.dev/v1alpha1
kind: Host
metadata: {{name: {name}}}
spec:
  address: 198.18.0.{10 + n}
  ssh: {{user: rc-{name}}}
  capacity: {{cpu: "4", memory: 4Gi}}
"""
        for n, name in enumerate(names, start=1)
    )
    app = REPO["app.yaml"].replace("replicas: 3", f"replicas: {count}")
    (tmp_path / "hosts.yaml").write_text(hosts)
    (tmp_path / "app.yaml").write_text(app)
    executor = fake.FakeExecutor(names)
    clock = Clock()
    controllers = sync.Controllers(clock=clock, hosts=hosthealth.Monitor(None, 10.0, clock=clock))
    for _ in range(3):
        _run(tmp_path, executor, controllers)
    return tmp_path, executor, clock, controllers


@pytest.mark.parametrize("silent", [3, 5])
def test_a_disrupted_fleet_re_places_nothing(
    tmp_path: Path, silent: int, caplog: pytest.LogCaptureFixture
) -> None:
    """3 of 5 hosts (more than 2 and at least 55%) or all 5 silent past the grace period: the
    trouble is more likely this machine's than the hosts' (Kubernetes' zone disruption), so
    no pod moves; once enough answer again, the one still lost is handled as usual."""
    repo, executor, clock, controllers = _fleet(tmp_path, 5)
    monitor = controllers.hosts
    assert monitor is not None
    before = _where(executor)
    lost = [f"h{n}" for n in range(1, silent + 1)]
    for host in lost:
        _lose(executor, monitor, host)
    _later(executor, monitor, clock, 11)  # past the grace period
    assert all(monitor.conditions()[h].status is H.NOT_READY for h in lost)
    prepared = _run(repo, executor, controllers)
    assert prepared.result.plan.empty, prepared.result.plan.actions
    assert _where(executor) == before
    assert f"{silent} of 5 hosts do not answer: the fleet is disrupted" in caplog.text

    for host in lost[1:]:  # all but one come back: 1 of 5 down is an ordinary loss
        executor.revive(host)
    _later(executor, monitor, clock, 1)
    for _ in range(3):
        prepared = _run(repo, executor, controllers)
    moved = _where(executor)
    web = {name: host for name, host in moved.items() if name.startswith("web-")}
    assert len(web) == 5 and lost[0] not in web.values()


def test_two_of_five_hosts_lost_is_an_ordinary_loss(tmp_path: Path) -> None:
    repo, executor, clock, controllers = _fleet(tmp_path, 5)
    monitor = controllers.hosts
    assert monitor is not None
    for host in ("h1", "h2"):
        _lose(executor, monitor, host)
    _later(executor, monitor, clock, 11)
    prepared = _run(repo, executor, controllers)
    assert not hostpassmod.disrupted(prepared.observations)
    web = {name: host for name, host in _where(executor).items() if name.startswith("web-")}
    assert len(web) == 5 and not {"h1", "h2"} & set(web.values())


def test_hosts_returning_from_a_disruption_keep_their_pods(tmp_path: Path) -> None:
    """Every host lost at once (the daemon's own network, say): nothing was re-placed, so when
    they answer again their pods are the live copies and none is fenced."""
    repo, executor, clock, controllers = _fleet(tmp_path, 5)
    monitor = controllers.hosts
    assert monitor is not None
    before = _where(executor)
    for host in list(executor.pods):
        _lose(executor, monitor, host)
    _later(executor, monitor, clock, 11)
    assert all(c.status is H.NOT_READY for c in monitor.conditions().values())
    _run(repo, executor, controllers)
    for host in list(executor.pods):
        executor.revive(host)
    _later(executor, monitor, clock, 1)
    for _ in range(2):
        prepared = _run(repo, executor, controllers)
        assert not any(a.kind is hoststate.ActionKind.DELETE
                       for a in prepared.result.plan.actions)  # fmt: skip
    assert _where(executor) == before
    assert all(c.status is H.READY for c in monitor.conditions().values())


# ----- checks that cost one ping; heartbeats from any answer; a starved daemon ---------------


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.01)


def test_the_periodic_check_is_a_ping_alone_and_keeps_the_pods_last_observed() -> None:
    """A whole observe every second (4 Podman calls a host) took half of 2 cores at 50 hosts:
    the check pings; the pods a host runs are read by the reconcile's observe only."""
    executor = fake.FakeExecutor(["h1"])
    monitor = hosthealth.Monitor(executor, 10.0, period=0.02)
    target = hoststate.HostTarget("h1", "198.18.0.11")
    pod = hoststate.ObservedPod("h1", "hh", "solo", "", "", "running", ())
    monitor.heard("h1", None, [pod])  # what the reconcile's observe saw
    try:
        monitor.watch([target])
        _wait_for(lambda: executor.pings["h1"] >= 3)
    finally:
        monitor.stop()
    assert not [call for call in executor.calls if call.startswith("observe")]
    assert monitor.conditions()["h1"].status is H.READY
    assert monitor.last_pods("h1") == (pod,)


class _Busy(fake.FakeExecutor):
    """Hosts whose connection answered other calls `ages[host]` seconds ago (their pod work),
    whatever their pings do."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(names)
        self.ages: dict[str, float] = {}

    def answer_age(self, host: str) -> float | None:
        return self.ages.get(host)


def test_any_answer_on_a_hosts_connection_is_a_heartbeat() -> None:
    """A host busy creating pods answers those calls while its ping waits: it stays Ready
    (a kubelet's lease is renewed apart from its pod work); once nothing answers any more, it
    is Unknown after SILENT_AFTER and NotReady after the grace period, as before."""
    clock = Clock()
    executor = _Busy(["h1", "h2"])
    monitor = hosthealth.Monitor(executor, 10.0, clock=clock)  # no watch: no threads
    monitor.heard("h1", None)
    monitor.heard("h2", None)
    for _ in range(30):  # 30 s without a finished check: h1's creates answer, h2 is silent
        clock.now += 1
        executor.ages["h1"] = 0.5
        monitor.tick()
        assert monitor.conditions()["h1"].status is H.READY
    assert monitor.conditions()["h1"].last_ok == clock.now - 0.5
    assert monitor.conditions()["h2"].status is H.NOT_READY
    del executor.ages["h1"]  # nothing answers on h1 any more
    clock.now += hostconditions.SILENT_AFTER
    monitor.tick()
    assert monitor.conditions()["h1"].status is H.UNKNOWN
    executor.ages["h1"] = 0.2  # an answer again, within the grace period: Ready
    monitor.tick()
    assert monitor.conditions()["h1"].status is H.READY
    executor.ages["h1"] = 0.2 + 11  # stale: the same answer, as time passes
    clock.now += 11
    monitor.tick()
    assert monitor.conditions()["h1"].status is H.UNKNOWN
    monitor.tick()
    assert monitor.conditions()["h1"].status is H.NOT_READY


def test_a_stall_after_reading_an_answers_age_does_not_make_it_recent() -> None:
    """The age of a host's last answer is made a time when it is read: a daemon stalled
    between that read and the judging (50 hosts on a loaded machine: a host cut off a moment
    before went Ready again for 0.1 s) must not date an old answer to after the stall."""
    clock = Clock()

    class Stalling(_Busy):
        def answer_age(self, host: str) -> float | None:
            if host == "h2":
                clock.now += 2.0  # the daemon stalls after reading h1's age, before judging
            return super().answer_age(host)

    executor = Stalling(["h1", "h2"])
    monitor = hosthealth.Monitor(executor, 10.0, clock=clock)
    monitor.heard("h1", None)
    monitor.heard("h2", None)
    clock.now += 3.5
    executor.ages["h1"] = 3.0  # its connection last answered 0.5 s after the check
    monitor.tick()
    condition = monitor.conditions()["h1"]
    assert condition.last_ok == 1000.5
    assert condition.status is H.UNKNOWN  # silent 5 s when judged


def test_a_late_observe_of_a_host_whose_connection_answers_does_not_make_it_unknown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The reconcile's observe of a busy host misses its deadline while the host's connection
    answers other calls: unreachable for this reconcile, but not judged Unknown by it."""
    monkeypatch.setattr(hosthealth, "OBSERVE_DEADLINE", 0.3)
    executor = _Hanging()
    executor.answer_age = lambda host: 0.1 if host == "h2" else None  # type: ignore[method-assign]
    statuses: list[str] = []
    monitor = hosthealth.Monitor(
        executor, 10.0,
        save=lambda rows: statuses.extend(r["status"] for r in rows if r["host"] == "h2"),
    )  # fmt: skip
    controllers = sync.Controllers(hosts=monitor)
    targets = [hoststate.HostTarget(h, "198.18.0.1") for h in ("h1", "h2")]
    monitor.heard("h2", None)
    try:
        seen = hosthealth.observe(executor, targets, controllers)
        assert not seen["h2"].reachable and "a busy host" in seen["h2"].error
        assert str(H.UNKNOWN) not in statuses
        assert monitor.conditions()["h2"].status is H.READY
    finally:
        executor.release.set()
        monitor.stop()


def test_time_the_daemon_was_starved_counts_against_no_host() -> None:
    """The monitor's ticker woke 8 s late (this process starved of CPU): those 8 s are no
    host's silence; a delay below STARVED_AFTER is an ordinary one and counts."""
    ready = hostconditions.judge(None, "h1", None, 100.0)
    assert hostconditions.tick(ready, 109.0, 10.0, excused=8.0).status is H.READY
    unknown = hostconditions.tick(ready, 112.0, 10.0, excused=8.0)
    assert unknown.status is H.UNKNOWN
    lost = hostconditions.tick(unknown, 118.5, 10.0, excused=8.0)
    assert (lost.status, lost.since) == (H.NOT_READY, 118.0)

    clock = Clock()
    monitor = hosthealth.Monitor(None, 10.0, clock=clock)
    monitor.heard("h1", None)
    clock.now += 8
    monitor.tick(late=8.0)
    clock.now += 2
    monitor.tick(late=0.5)  # not starved: 0.5 s late is counted
    assert monitor.conditions()["h1"].status is H.READY  # silent 2 s, not 10
    clock.now += 1
    monitor.tick()
    assert monitor.conditions()["h1"].status is H.UNKNOWN  # silent 3 s
    clock.now += 7
    monitor.tick()
    condition = monitor.conditions()["h1"]
    assert (condition.status, condition.since) == (H.NOT_READY, 1000.0 + 8 + 10)
    monitor.heard("h1", None)  # it answers again: what was excused before is forgotten
    clock.now += 3
    monitor.tick(late=0.9)
    assert monitor.conditions()["h1"].reason is R.FENCING
