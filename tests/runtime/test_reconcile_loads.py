"""The daemon loads and validates a revision once (`Reconciler._load`): resyncs of the same
revision reuse the valid load, a new revision is loaded; the last good revision a refused one
leaves running is not read again."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.executor import fake as fake_executor
from reconciler.manifests import loader
from reconciler.runtime import reconcile
from reconciler.source import fake as fake_source
from reconciler.state import conditions as cond
from reconciler.state import store as storemod
from reconciler.web import metrics

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "repo"


def test_a_revision_is_loaded_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[Path] = []
    real = loader.load_repository

    def counted(root: Path | str, **kw: object) -> loader.LoadResult:
        loads.append(Path(root))
        return real(root, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(loader, "load_repository", counted)
    source = fake_source.FakeSource(tmp_path / "src")
    store = storemod.Store(storemod.path_in(tmp_path / "state"))
    rec = reconcile.Reconciler(source, fake_executor.FakeExecutor(["h1", "h2", "h3"]), store,
                               metrics.ReconcilerMetrics(metrics.Registry()))  # fmt: skip
    files = {str(p.relative_to(EXAMPLE)): p.read_text() for p in EXAMPLE.rglob("*.yaml")}
    first = source.push(files, "deploy")
    for trigger in ("push", "resync", "resync"):
        assert rec.run([trigger]) is cond.SyncResult.SUCCEEDED
    assert len(loads) == 1
    changed = dict(files)
    changed["shop/web-config.yaml"] = files["shop/web-config.yaml"].replace("info", "debug")
    second = source.push(changed, "change")
    assert rec.run(["push"]) is cond.SyncResult.SUCCEEDED
    assert rec.run(["resync"]) is cond.SyncResult.SUCCEEDED
    assert len(loads) == 2 and loads[1].name == second != first
    broken = dict(files)
    broken["shop/web.yaml"] = files["shop/web.yaml"].replace("replicas: 3", "replicas: three")
    source.push(broken, "break")
    for trigger in ("push", "resync"):  # the good revision keeps running from its load
        assert rec.run([trigger]) is cond.SyncResult.INVALID
    assert len(loads) == 2 + 1  # the refused one, once (`Reconciler.refused` remembers it)
    store.close()
