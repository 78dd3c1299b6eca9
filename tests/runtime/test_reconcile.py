"""One daemon reconcile against fakes (FakeSource, FakeExecutor, a real SQLite store): a refused
revision is never applied and stays visible while the last good one keeps running; the fix
converges; a source failure is recorded; drift repair is an event."""

from __future__ import annotations

from pathlib import Path

from reconciler.controllers import manager
from reconciler.executor import fake as fake_executor
from reconciler.runtime import reconcile
from reconciler.source import errors as source_errors
from reconciler.source import fake as fake_source
from reconciler.state import conditions as cond
from reconciler.state import rolloutstore
from reconciler.state import store as storemod
from reconciler.web import metrics

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "repo"


def _files() -> dict[str, str]:
    return {str(p.relative_to(EXAMPLE)): p.read_text() for p in EXAMPLE.rglob("*.yaml")}


def _setup(tmp_path: Path) -> tuple[reconcile.Reconciler, fake_source.FakeSource,
                                    fake_executor.FakeExecutor, storemod.Store]:  # fmt: skip
    source = fake_source.FakeSource(tmp_path / "src")
    executor = fake_executor.FakeExecutor(["h1", "h2", "h3"])
    store = storemod.Store(storemod.path_in(tmp_path / "state"))
    rec = reconcile.Reconciler(
        source, executor, store, metrics.ReconcilerMetrics(metrics.Registry())
    )
    return rec, source, executor, store


def test_refused_revision_is_never_applied_and_stays_visible(tmp_path: Path) -> None:
    rec, source, executor, store = _setup(tmp_path)
    files = _files()
    good = source.push(files, "deploy")
    assert rec.run(["push"]) is cond.SyncResult.SUCCEEDED
    assert store.applied_revision() == good
    assert rec.run(["resync"]) is cond.SyncResult.SUCCEEDED  # its new pods join their Services
    mutations = executor.stats.mutations
    assert mutations > 0
    broken = dict(files)
    broken["shop/web.yaml"] = files["shop/web.yaml"].replace("replicas: 3", "replicas: three")
    bad = source.push(broken, "break")
    assert rec.run(["push"]) is cond.SyncResult.INVALID
    assert executor.stats.mutations == mutations  # nothing applied, nothing pruned
    assert store.applied_revision() == good
    for _ in range(2):  # later resyncs repair the good revision but keep reporting the refusal
        assert rec.run([]) is cond.SyncResult.INVALID
        last = store.last_finished_sync()
        assert last is not None and last.revision == bad
        assert any(e.startswith("shop/web.yaml:") for e in last.errors)
    assert executor.stats.mutations == mutations
    fixed = dict(files)
    fixed["shop/web-config.yaml"] = files["shop/web-config.yaml"].replace("info", "debug")
    newest = source.push(fixed, "fix")
    assert rec.run(["push"]) is cond.SyncResult.SUCCEEDED
    assert store.applied_revision() == newest and rec.refused is None


def test_source_failure_is_recorded_and_nothing_changes(tmp_path: Path) -> None:
    rec, source, executor, store = _setup(tmp_path)
    source.push(_files(), "deploy")
    rec.run(["startup"])
    before = executor.stats.mutations
    source.fail_next(source_errors.BranchNotFound("the repository", "main"))
    assert rec.run(["resync"]) is cond.SyncResult.FAILED
    last = store.last_finished_sync()
    assert last is not None and "branch 'main' does not exist" in last.errors[0]
    assert executor.stats.mutations == before


def test_a_stopped_container_is_restarted_not_replaced_and_recorded(tmp_path: Path) -> None:
    rec, source, executor, store = _setup(tmp_path)
    source.push(_files(), "deploy")
    rec.run(["startup"])
    host, pod = next((h, p) for h, pods in executor.pods.items() for p in pods)
    before = executor.pods[host][pod]
    executor.set_container_state(host, pod[0], pod[1], "exited", 137)
    assert rec.run(["resync"]) is cond.SyncResult.SUCCEEDED
    after = executor.pods[host][pod]
    assert after.podman_id == before.podman_id  # the same pod, its container started again
    assert all(c.state == "running" for c in after.containers)
    event = store.events(5)[0]
    assert event.reason == cond.Reason.STARTED
    assert "exited with code 137: restart 1" in event.message


def test_an_unexpected_error_is_recorded_and_retried_not_raised(tmp_path: Path) -> None:
    rec, source, executor, store = _setup(tmp_path)
    source.push(_files(), "deploy")

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("a bug")

    executor.observe = broken  # type: ignore[method-assign]
    assert rec.run(["startup"]) is cond.SyncResult.FAILED
    last = store.last_finished_sync()
    assert last is not None and last.errors[0].startswith("internal error: RuntimeError: a bug")
    assert rec.requeue_after == reconcile.INTERNAL_RETRY


def test_transient_failures_ask_for_a_retry_stalled_ones_do_not(tmp_path: Path) -> None:
    rec, source, _, _ = _setup(tmp_path)
    source.push(_files(), "deploy")
    source.fail_next(source_errors.FetchFailed("ssh://git/repo", "connection reset"))
    assert rec.run(["poll"]) is cond.SyncResult.FAILED
    assert rec.requeue_after is not None and rec.requeue_after > 0
    source.fail_next(source_errors.BranchNotFound("the repository", "main"))
    assert rec.run(["poll"]) is cond.SyncResult.FAILED
    assert rec.requeue_after is None  # wait for a push, not a retry


def test_the_daemon_rolls_a_template_change_out_across_reconciles(tmp_path: Path) -> None:
    rec, source, executor, store = _setup(tmp_path)
    rec.controllers = manager.start(executor, rolloutstore.RolloutStore(store))
    try:
        files = _files()
        source.push(files, "v1")
        for _ in range(5):  # the first rollout: until every pod is available
            rec.run(["push"])
        conditions = {(c.name, c.type): c for c in store.conditions() if c.kind == "Deployment"}
        assert conditions[("web", "Progressing")].reason == cond.Reason.NEW_REPLICA_SET_AVAILABLE
        changed = dict(files)
        changed["shop/web.yaml"] = files["shop/web.yaml"].replace(
            "terminationGracePeriodSeconds: 2", "terminationGracePeriodSeconds: 3"
        )
        source.push(changed, "v2")
        steps = 0
        while True:
            rec.run(["push"] if steps == 0 else [])
            steps += 1
            web = [p for pods in executor.pods.values() for p in pods.values()
                   if p.owner == "Deployment/web"]  # fmt: skip
            assert len(web) <= 3 + 1  # maxSurge 1 never exceeded
            assert len(web) >= 3 - 1  # maxUnavailable 1 never exceeded
            progressing = next(c for c in store.conditions()
                               if (c.kind, c.name, c.type) == ("Deployment", "web",
                                                               "Progressing"))  # fmt: skip
            if progressing.reason == cond.Reason.NEW_REPLICA_SET_AVAILABLE:
                break
            assert progressing.reason == cond.Reason.REPLICA_SET_UPDATED
            assert rec.requeue_after is not None and rec.requeue_after <= 1.0
            assert steps < 10
        assert steps > 1  # it took steps, not one big replace
        history = rolloutstore.RolloutStore(store).history("shop", "web")
        assert [r.completed is not None for r in history] == [True, True]
        assert history[1].revision == source.resolve()
    finally:
        manager.stop(rec.controllers)
