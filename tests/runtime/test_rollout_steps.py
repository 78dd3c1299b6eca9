"""Rollout steps in the daemon's reconcile (fake source and executor, the real controllers):
a Deployment whose new pods are available as soon as they run takes its next step at the next
pass, asked for at once; a pass that waits, or whose actions failed, never asks for itself at
once (no busy loop)."""

from __future__ import annotations

from pathlib import Path

from reconciler.controllers import manager, rollouts, sync
from reconciler.executor import fake as fake_executor
from reconciler.runtime import reconcile
from reconciler.source import fake as fake_source
from reconciler.state import conditions as cond
from reconciler.state import store as storemod
from reconciler.web import metrics

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "repo"
REPLICAS = 4
PROBE = """
          readinessProbe:
            exec:
              command: ["true"]
            periodSeconds: 1
"""


def _api(image: str, probe: bool = False) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  replicas: {REPLICAS}
  selector:
    matchLabels:
      app: api
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        app: api
    spec:
      containers:
        - name: main
          image: {image}
          command: ["sleep", "3600"]
{PROBE if probe else ""}"""


def _files(image: str, probe: bool = False) -> dict[str, str]:
    files = {str(p.relative_to(EXAMPLE)): p.read_text() for p in EXAMPLE.glob("hosts/*.yaml")}
    files["shop/namespace.yaml"] = (EXAMPLE / "shop" / "namespace.yaml").read_text()
    files["shop/api.yaml"] = _api(image, probe)
    return files


def _setup(tmp_path: Path) -> tuple[reconcile.Reconciler, fake_source.FakeSource,
                                    fake_executor.FakeExecutor, storemod.Store]:  # fmt: skip
    source = fake_source.FakeSource(tmp_path / "src")
    executor = fake_executor.FakeExecutor(["h1", "h2", "h3"])
    store = storemod.Store(storemod.path_in(tmp_path / "state"))
    rec = reconcile.Reconciler(
        source, executor, store, metrics.ReconcilerMetrics(metrics.Registry())
    )
    rec.controllers = manager.start(executor, rollouts.MemoryHistory())
    return rec, source, executor, store


def _progressing(store: storemod.Store) -> cond.Condition:
    return next(c for c in store.conditions()
                if (c.kind, c.name, c.type) == ("Deployment", "api", "Progressing"))  # fmt: skip


def _changed(store: storemod.Store) -> int:
    last = store.last_finished_sync()
    assert last is not None
    return sum(last.counts.get(k, 0) for k in ("create", "replace", "delete"))


def _roll(rec: reconcile.Reconciler, store: storemod.Store) -> list[tuple[int, float | None]]:
    """Passes until the rollout is complete: (actions done, requeue asked) of each."""
    passes: list[tuple[int, float | None]] = []
    while True:
        assert rec.run(["push"] if not passes else []) is cond.SyncResult.SUCCEEDED
        passes.append((_changed(store), rec.requeue_after))
        if _progressing(store).reason == cond.Reason.NEW_REPLICA_SET_AVAILABLE:
            return passes
        assert len(passes) < 20


def test_a_probeless_rollout_takes_a_step_at_every_pass_each_asked_for_at_once(
    tmp_path: Path,
) -> None:
    rec, source, _, store = _setup(tmp_path)
    try:
        source.push(_files("web:1"), "v1")
        _roll(rec, store)
        source.push(_files("web:2"), "v2")
        passes = _roll(rec, store)
        *stepping, last = passes
        # every pass but the one that finds the rollout complete changes pods: no pass waits
        # for the new pods it made to count as available (minReadySeconds 0, no probe)
        assert all(changed for changed, _ in stepping), passes
        assert all(requeue == sync.NEXT_STEP_NOW for _, requeue in stepping), passes
        assert last[0] == 0 and last[1] is None  # complete: nothing more to step
        assert len(stepping) == REPLICAS + 1  # one surge pod at a time, then the last old one
    finally:
        manager.stop(rec.controllers)


def test_new_pods_with_a_readiness_probe_are_looked_at_after_step_requeue(tmp_path: Path) -> None:
    rec, source, _, store = _setup(tmp_path)
    try:
        source.push(_files("web:1", probe=True), "v1")
        assert rec.run(["push"]) is cond.SyncResult.SUCCEEDED
        assert _changed(store) == REPLICAS
        assert rec.requeue_after == sync.STEP_REQUEUE  # the prober must learn of them first
    finally:
        manager.stop(rec.controllers)


def test_a_pass_whose_actions_failed_does_not_ask_for_itself_at_once(tmp_path: Path) -> None:
    rec, source, executor, store = _setup(tmp_path)
    try:
        source.push(_files("web:1"), "v1")
        executor.fail_image("web:1")
        assert rec.run(["push"]) is cond.SyncResult.PARTIAL
        assert _changed(store) == 0
        assert rec.requeue_after is not None and rec.requeue_after >= sync.STEP_REQUEUE
    finally:
        manager.stop(rec.controllers)

