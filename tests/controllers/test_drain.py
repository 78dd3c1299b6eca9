"""Cordon and drain through git (model.cordon, controllers.drain) with the FakeExecutor: a
cordoned host keeps its pods and gets no new one; a draining host's Deployment pods move a few at
a time (never more unavailable than maxUnavailable or a PodDisruptionBudget allows), bare Pods
stay, and the host ends with no Deployment pod."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from reconciler.controllers import drain, sync
from reconciler.executor import fake
from reconciler.manifests import loader
from reconciler.model import base, cordon, disruption, hoststate

HOSTS = "".join(
    f"""---
apiVersion: reconciler.dev/v1alpha1
kind: Host
metadata:
  name: {name}
  annotations: {{reconciler.dev/drain: "DRAIN_{name}"}}
spec:
  address: 198.18.0.{10 + n}
  ssh: {{user: rc-{name}}}
  unschedulable: CORDON_{name}
  capacity: {{cpu: "8", memory: 8Gi}}
"""
    for n, name in enumerate(("h1", "h2", "h3"), start=1)
)
APP = """---
apiVersion: v1
kind: Namespace
metadata: {name: dr}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: dr}
spec:
  replicas: REPLICAS
  strategy: {rollingUpdate: {maxUnavailable: 1, maxSurge: 0}}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - {name: web, image: busybox, command: [sleep, "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: solo, namespace: dr, labels: {app: solo}}
spec:
  containers:
    - {name: solo, image: busybox, command: [sleep, "3600"]}
"""


def _write(repo: Path, replicas: int = 6, cordoned: str = "", draining: str = "") -> None:
    hosts = HOSTS
    for name in ("h1", "h2", "h3"):
        hosts = hosts.replace(f"CORDON_{name}", "true" if name == cordoned else "false")
        hosts = hosts.replace(f"DRAIN_{name}", "true" if name == draining else "false")
    (repo / "hosts.yaml").write_text(hosts)
    (repo / "app.yaml").write_text(APP.replace("REPLICAS", str(replicas)))


def _budget(repo: Path, limit: str) -> None:
    (repo / "pdb.yaml").write_text(f"""apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: web, namespace: dr}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  {limit}
""")


def _pass(repo: Path, executor: fake.FakeExecutor,
          controllers: sync.Controllers | None) -> sync.Prepared:  # fmt: skip
    prepared = sync.prepare(repo, executor, "r1", controllers)
    if controllers is not None:
        sync.converge(prepared, executor)
    return prepared


def _on(executor: fake.FakeExecutor, host: str) -> set[str]:
    return {name for (_, name) in executor.pods[host]}


def _setup(tmp_path: Path) -> tuple[Path, fake.FakeExecutor, sync.Controllers]:
    _write(tmp_path)
    executor = fake.FakeExecutor(["h1", "h2", "h3"])
    controllers = sync.Controllers()
    for _ in range(3):
        _pass(tmp_path, executor, controllers)
    assert sum(len(_on(executor, h)) for h in ("h1", "h2", "h3")) == 7
    return tmp_path, executor, controllers


def test_the_schema_and_the_model_know_a_cordon(tmp_path: Path) -> None:
    _write(tmp_path, cordoned="h2")
    loaded = loader.load_repository(tmp_path)
    assert loaded.ok, [d.format() for d in loaded.errors]
    hosts = {h.meta.name: h for h in loaded.state.hosts}
    assert hosts["h2"].unschedulable and not cordon.schedulable(hosts["h2"])
    assert [t.key for t in hosts["h2"].taints] == [cordon.UNSCHEDULABLE_TAINT]
    assert cordon.schedulable(hosts["h1"]) and hosts["h1"].taints == ()


def test_a_cordoned_host_keeps_its_pods_and_gets_no_new_one(tmp_path: Path) -> None:
    repo, executor, controllers = _setup(tmp_path)
    before = _on(executor, "h1")
    assert before
    _write(repo, replicas=12, cordoned="h1")
    for _ in range(3):
        _pass(repo, executor, controllers)
    assert _on(executor, "h1") == before
    assert sum(len(_on(executor, h)) for h in ("h2", "h3")) == 13 - len(before)


def test_a_drain_moves_one_pod_at_a_time_and_leaves_the_bare_pod(tmp_path: Path) -> None:
    repo, executor, controllers = _setup(tmp_path)
    solo_host = next(h for h in ("h1", "h2", "h3") if "solo" in _on(executor, h))
    _write(repo, draining=solo_host)
    steps = 0
    while any(n.startswith("web-") for n in _on(executor, solo_host)):
        prepared = _pass(repo, executor, controllers)
        deletes = [a for a in prepared.result.plan.actions
                   if a.kind is hoststate.ActionKind.DELETE]  # fmt: skip
        assert len(deletes) <= 1, deletes  # maxUnavailable 1
        assert all(a.host == solo_host and a.reason.startswith("drained") for a in deletes)
        creates = [a for a in prepared.result.plan.actions
                   if a.kind is hoststate.ActionKind.CREATE]  # fmt: skip
        assert all(a.host != solo_host for a in creates)
        steps += 1
        assert steps < 20
    assert steps >= 2
    assert _on(executor, solo_host) == {"solo"}
    web = [n for h in ("h1", "h2", "h3") for n in _on(executor, h) if n.startswith("web-")]
    assert len(web) == len(set(web)) == 6
    assert _pass(repo, executor, controllers).result.plan.empty  # drained: converged


def test_a_disruption_budget_holds_a_drain(tmp_path: Path) -> None:
    repo, executor, controllers = _setup(tmp_path)
    _write(repo, draining="h1")
    _budget(repo, "minAvailable: 6")
    loaded = loader.load_repository(repo)
    assert loaded.ok, [d.format() for d in loaded.errors]
    (budget,) = drain.budgets_of(loaded.state)
    assert (budget.min_available, dict(budget.selector)) == (6, {"app": "web"})
    before = _on(executor, "h1")
    prepared = _pass(repo, executor, controllers)
    assert prepared.result.plan.empty and _on(executor, "h1") == before
    pods = [p for seen in prepared.observations.values() for p in seen.pods]
    verdict = drain.judge(loaded.state, pods, time.time())
    assert verdict.waiting == ("Deployment dr/web: PodDisruptionBudget web allows no disruption "
                               "now",)  # fmt: skip
    _budget(repo, "maxUnavailable: 50%")
    prepared = _pass(repo, executor, controllers)
    deletes = [a for a in prepared.result.plan.actions if a.kind is hoststate.ActionKind.DELETE]
    assert len(deletes) == 1  # maxUnavailable 1 of the Deployment is the tighter limit


def test_a_budget_counts_like_kubernetes() -> None:
    meta = base.ObjectMeta(name="b", namespace="n")
    budget = disruption.PodDisruptionBudget(meta, base.FrozenMap(), min_available="50%")
    assert budget.allowed(expected=5, healthy=5) == 2  # 3 must stay (rounded up)
    budget = dataclasses.replace(budget, min_available=None, max_unavailable=1)
    assert budget.allowed(expected=4, healthy=3) == 0
    assert budget.selects("n", base.FrozenMap({"x": "y"}))
    assert not budget.selects("m", base.FrozenMap())


def test_a_dry_run_shows_the_end_state(tmp_path: Path) -> None:
    repo, executor, _ = _setup(tmp_path)
    _write(repo, draining="h2")
    prepared = _pass(repo, executor, None)
    actions = prepared.result.plan.actions
    deletes = {a.name for a in actions if a.kind is hoststate.ActionKind.DELETE}
    assert deletes == {n for n in _on(executor, "h2") if n.startswith("web-")}


@pytest.mark.parametrize(("limit", "message"), [
    ("minAvailable: 1\n  maxUnavailable: 1", "one of minAvailable and maxUnavailable, not both"),
    ("minAvailable: 150%", "minAvailable must be a number of pods"),
    ("", "exactly one of minAvailable and maxUnavailable"),
])
def test_validate_refuses_a_budget_kubernetes_would(
    tmp_path: Path, limit: str, message: str
) -> None:
    _write(tmp_path)
    _budget(tmp_path, limit)
    loaded = loader.load_repository(tmp_path)
    assert any(message in d.format() for d in loaded.errors), [d.format() for d in loaded.errors]
