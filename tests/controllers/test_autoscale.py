"""The autoscaler in reconciles (FakeExecutor, fake clock, a real state database): load ▶ scale
up ▶ scale down after the window; the count survives a restart of the process; one-shot apply
reads it; the dry run keeps what runs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from reconciler.controllers import autoscale, sync
from reconciler.executor import fake
from reconciler.model import base, objects
from reconciler.state import conditions as cond
from reconciler.state import store as storemod

MANIFESTS = """\
apiVersion: reconciler.dev/v1alpha1
kind: Host
metadata: {name: h1}
spec:
  address: 10.0.0.1
  ssh: {user: rc}
  capacity: {cpu: "8", memory: 8Gi}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: busybox
        resources: {requests: {cpu: 100m}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 4
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 30}
"""
KEY = base.ObjectKey(base.Kind.DEPLOYMENT, "shop", "web")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class World:
    def __init__(self, tmp_path: Path) -> None:
        (tmp_path / "repo").mkdir()
        (tmp_path / "repo" / "all.yaml").write_text(MANIFESTS)
        self.loaded = sync.load(tmp_path / "repo")
        self.executor = fake.FakeExecutor(["h1"])
        self.clock = Clock()
        self.db = storemod.Store(storemod.path_in(tmp_path / "state"))
        self.events: list[tuple[str, str, str]] = []
        self.controllers = self.daemon()

    def daemon(self) -> sync.Controllers:
        """The daemon's controllers (a new process: no memory but the database)."""

        def record(kind: cond.EventKind, obj: str, reason: str, message: str) -> None:
            self.events.append((obj, reason, message))

        scaling = autoscale.Autoscaling(self.db, active=True, period=15.0, events=record)
        return sync.Controllers(clock=self.clock, autoscaling=scaling)

    def sync(self, seconds: float = 15.0) -> sync.Prepared:
        prepared = sync.prepare_loaded(self.loaded, self.executor, "rev", self.controllers)
        sync.converge(prepared, self.executor)
        self.clock.now += seconds
        return prepared

    def pods(self) -> list[str]:
        return sorted(name for _ns, name in self.executor.pods["h1"])

    def load(self, millicores: float) -> None:
        for _ns, name in self.executor.pods["h1"]:
            self.executor.set_usage("shop", name, "app", millicores)


def test_scales_up_under_load_then_down_after_the_window(tmp_path: Path) -> None:
    world = World(tmp_path)
    prepared = world.sync()
    assert len(world.pods()) == 1
    assert prepared.requeue_after is not None and prepared.requeue_after <= 15.0
    world.load(100)  # 100% of the request against 50%
    world.sync()  # first sample: no rate yet
    world.sync()  # a rate: 2 replicas
    assert len(world.pods()) == 2
    assert world.events[-1][:2] == ("HorizontalPodAutoscaler/shop/web", "SuccessfulRescale")
    assert "New size: 2; reason: cpu resource utilization" in world.events[-1][2]
    world.load(100)  # the new pod is busy too
    world.sync()  # web-1 has its first sample now (no rate), counts as missing ▶ no change
    world.sync()
    assert len(world.pods()) == 4  # 200% ▶ 4 (max)
    world.load(0)
    for _ in range(2):
        world.sync()
    assert len(world.pods()) == 4  # within the 30 s scale-down window
    for _ in range(3):
        world.sync()
    assert len(world.pods()) == 1
    (record,) = autoscale.recorded(world.db).values()
    assert record.replicas == 1 and record.targets == "cpu: 0%/50%"
    assert record.sources == (("h1", "proc"),)
    assert [d["desired"] for d in record.decisions][-1] == 1


def test_count_survives_a_restart_and_apply_reads_it(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.sync()
    world.load(100)
    world.sync()
    world.sync()
    assert len(world.pods()) == 2
    world.controllers = world.daemon()  # the daemon restarts: no samples, no memory
    world.sync()
    world.sync()
    assert len(world.pods()) == 2  # not git's 1
    one_shot = autoscale.Autoscaling(world.db)  # what `apply` reads (recorded_only)
    counts = one_shot.counts(world.loaded.state, world.executor, [], {}, world.clock.now)
    assert counts == {KEY: 2}
    assert autoscale.recorded_only(tmp_path / "nowhere").records() == {}
    narrower = dataclasses.replace(world.loaded.state.autoscalers[0], max_replicas=1)
    state = objects.DesiredState.of([*world.loaded.state.deployments, narrower])
    assert one_shot.counts(state, world.executor, [], {}, world.clock.now) == {KEY: 1}


def test_dry_run_keeps_what_runs_within_bounds(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.sync()
    world.load(100)
    world.sync()
    world.sync()
    assert len(world.pods()) == 2
    dry = sync.prepare_loaded(world.loaded, world.executor, "rev", None)
    assert dry.result.plan.empty  # two pods run: the HPA's, not drift from git's 1
    assert world.loaded.state.get(KEY).replicas == 1  # type: ignore[union-attr]


def test_removed_hpa_returns_to_git_replicas(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.sync()
    world.load(100)
    world.sync()
    world.sync()
    assert len(world.pods()) == 2
    without = tmp_path / "repo2"
    without.mkdir()
    without.joinpath("all.yaml").write_text(MANIFESTS.rsplit("---\n", 1)[0])
    world.loaded = sync.load(without)
    world.sync()
    assert len(world.pods()) == 1
    assert autoscale.recorded(world.db) == {}


def test_no_hpa_no_metrics_and_silent_hosts_are_not_sampled(tmp_path: Path) -> None:
    world = World(tmp_path)
    scaling = world.controllers.autoscaling
    without = objects.DesiredState.of(list(world.loaded.state.deployments))
    targets = sync.targets_of(world.loaded.state)
    observed = world.executor.observe(targets)
    reads = world.executor.stats.reads
    assert scaling.counts(without, world.executor, targets, observed, world.clock.now) == {}
    assert world.executor.stats.reads == reads  # nothing sampled without an HPA
    world.executor.kill("h1")
    observed = world.executor.observe(targets)
    reads = world.executor.stats.reads
    scaling.counts(world.loaded.state, world.executor, targets, observed, world.clock.now)
    assert world.executor.stats.reads == reads  # h1 did not answer the observe: not asked again
