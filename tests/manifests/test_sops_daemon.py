"""The daemon's side of SOPS-encrypted Secrets, against fakes: config `age_key_file` decrypts the
example's Secret, the plaintext reaches the host only as a Sensitive value, and a revision whose
Secret cannot be decrypted is refused (the last good one keeps running) with nothing in the state
database but the refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.executor import fake as fake_executor
from reconciler.model import hoststate
from reconciler.runtime import config, reconcile
from reconciler.source import fake as fake_source
from reconciler.state import conditions as cond
from reconciler.state import store as storemod
from reconciler.web import metrics

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "repo"
DEMO_KEY = ROOT / "tests" / "harness" / "age" / "demo.key"
SOPS_KEYS = ROOT / "tests" / "cases" / "sops" / "sops-keys.txt"
PLAINTEXT = "demo-only-password"


def _files() -> dict[str, str]:
    return {str(p.relative_to(EXAMPLE)): p.read_text() for p in EXAMPLE.rglob("*.yaml")}


def _setup(
    tmp_path: Path, key: Path
) -> tuple[reconcile.Reconciler, fake_source.FakeSource, fake_executor.FakeExecutor, Path]:
    source = fake_source.FakeSource(tmp_path / "src")
    executor = fake_executor.FakeExecutor(["h1", "h2", "h3"])
    db = storemod.path_in(tmp_path / "state")
    rec = reconcile.Reconciler(
        source, executor, storemod.Store(db), metrics.ReconcilerMetrics(metrics.Registry())
    )
    rec.age_key_file = key
    return rec, source, executor, db


def test_config_reads_age_key_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"repository: /srv/repo\nage_key_file: {DEMO_KEY}\n")
    assert config.load(path).age_key_file == DEMO_KEY
    path.write_text("repository: /srv/repo\n")
    assert config.load(path).age_key_file is None


def test_daemon_decrypts_with_its_configured_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOPS_AGE_KEY_FILE", raising=False)  # the config alone must do
    rec, source, executor, db = _setup(tmp_path, DEMO_KEY)
    plans: list[hoststate.Plan] = []
    apply = executor.apply
    monkeypatch.setattr(
        executor, "apply", lambda plan, *a, **k: plans.append(plan) or apply(plan, *a, **k)
    )
    source.push(_files(), "deploy")
    assert rec.run(["push"]) is cond.SyncResult.SUCCEEDED
    envs = [
        value
        for plan in plans
        for action in plan.actions
        if action.run is not None
        for container in action.run.containers
        for name, value in container.env
        if name == "DB_PASSWORD"
    ]
    assert envs and all(isinstance(v, hoststate.Sensitive) for v in envs)
    assert {str(v) for v in envs} == {PLAINTEXT}
    assert PLAINTEXT.encode() not in db.read_bytes()


def test_a_secret_the_daemon_cannot_decrypt_refuses_the_revision(tmp_path: Path) -> None:
    rec, source, executor, db = _setup(tmp_path, DEMO_KEY)
    files = _files()
    good = source.push(files, "deploy")
    assert rec.run(["push"]) is cond.SyncResult.SUCCEEDED
    assert rec.run(["resync"]) is cond.SyncResult.SUCCEEDED  # its new pods join their Services
    mutations = executor.stats.mutations
    other = dict(files)  # a Secret encrypted for someone else's key
    other["shop/other-secret.yaml"] = (ROOT / "tests/cases/sops/secret.enc.yaml").read_text()
    bad = source.push(other, "add a Secret for another recipient")
    assert rec.run(["push"]) is cond.SyncResult.INVALID
    assert executor.stats.mutations == mutations
    store = rec.store
    assert store.applied_revision() == good
    last = store.last_finished_sync()
    assert last is not None and last.revision == bad
    assert any(
        e.startswith("shop/other-secret.yaml:") and "age1yt3tfqlfrwdwx0z0" in e for e in last.errors
    )
    assert b"canary-7f3a9c-plaintext" not in db.read_bytes()
