"""The trigger recorded with a sync is what caused it: a pushed revision that a resync (or a
host-event) pass finds before the push's own wakeup is recorded as `push` (`poll` for a remote
source), never `resync`; later passes over the same revision are resyncs again."""

from __future__ import annotations

from pathlib import Path

from reconciler.executor import fake as fake_executor
from reconciler.runtime import reconcile
from reconciler.source import fake as fake_source
from reconciler.state import store as storemod
from reconciler.web import metrics

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "repo"


def _setup(tmp_path: Path) -> tuple[reconcile.Reconciler, fake_source.FakeSource,
                                    storemod.Store]:  # fmt: skip
    source = fake_source.FakeSource(tmp_path / "src")
    store = storemod.Store(storemod.path_in(tmp_path / "state"))
    rec = reconcile.Reconciler(source, fake_executor.FakeExecutor(["h1", "h2", "h3"]), store,
                               metrics.ReconcilerMetrics(metrics.Registry()))  # fmt: skip
    return rec, source, store


def _files() -> dict[str, str]:
    return {str(p.relative_to(EXAMPLE)): p.read_text() for p in EXAMPLE.rglob("*.yaml")}


def _trigger(store: storemod.Store) -> str:
    last = store.last_sync()
    assert last is not None
    return last.trigger


def test_a_push_found_by_a_resync_pass_is_recorded_as_a_push(tmp_path: Path) -> None:
    rec, source, store = _setup(tmp_path)
    files = _files()
    source.push(files, "v1")
    rec.run(["startup"])
    assert _trigger(store) == "startup"
    rec.run(["resync"])
    assert _trigger(store) == "resync"
    changed = {**files, "shop/web-config.yaml": files["shop/web-config.yaml"].replace(
        "info", "debug")}  # fmt: skip
    sha = source.push(changed, "v2")
    rec.run(["resync"])  # the timer fired first; the push's own wakeup comes next
    last = store.last_sync()
    assert last is not None and (last.revision, last.trigger) == (sha, "push")
    rec.run(["push"])  # that wakeup: nothing new, its own word
    assert _trigger(store) == "push"
    rec.run([])
    assert _trigger(store) == "resync"
    source.push(files, "v3")
    rec.run(["host-event"])
    assert _trigger(store) == "push"
    source.push(changed, "v4")
    rec.run(["webhook"])  # a source trigger already says it
    assert _trigger(store) == "webhook"


def test_a_remote_source_says_poll(tmp_path: Path) -> None:
    rec, source, store = _setup(tmp_path)
    rec.source_trigger = "poll"
    source.push(_files(), "v1")
    rec.run(["resync"])
    assert _trigger(store) == "poll"
