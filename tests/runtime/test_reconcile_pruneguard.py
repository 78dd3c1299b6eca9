"""The daemon's prune guard against fakes (FakeSource, FakeExecutor, a real SQLite store): an
empty revision is held (nothing deleted, the last good revision keeps running and is repaired,
`Blocked` / `PruneBlocked` with the counts in the store and /status, one event); the override
file in a later commit, or the config, lets it through; removing one Deployment goes through."""

from __future__ import annotations

from pathlib import Path

from reconciler.executor import fake as fake_executor
from reconciler.plan import pruneguard
from reconciler.runtime import config as configmod
from reconciler.runtime import reconcile
from reconciler.source import fake as fake_source
from reconciler.state import conditions as cond
from reconciler.state import status as statusmod
from reconciler.state import store as storemod
from reconciler.web import metrics

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "repo"


def _files() -> dict[str, str]:
    return {str(p.relative_to(EXAMPLE)): p.read_text() for p in EXAMPLE.rglob("*.yaml")}


def _hosts_only() -> dict[str, str]:
    return {path: text for path, text in _files().items() if path.startswith("hosts/")}


def _setup(tmp_path: Path) -> tuple[reconcile.Reconciler, fake_source.FakeSource,
                                    fake_executor.FakeExecutor, storemod.Store]:  # fmt: skip
    source = fake_source.FakeSource(tmp_path / "src")
    executor = fake_executor.FakeExecutor(["h1", "h2", "h3"])
    store = storemod.Store(storemod.path_in(tmp_path / "state"))
    rec = reconcile.Reconciler(
        source, executor, store, metrics.ReconcilerMetrics(metrics.Registry())
    )
    return rec, source, executor, store


def _pods(executor: fake_executor.FakeExecutor) -> set[tuple[str, str, str]]:
    return {(host, *key) for host, pods in executor.pods.items() for key in pods}


def test_an_empty_revision_is_held_the_good_one_keeps_running_and_is_repaired(
    tmp_path: Path,
) -> None:
    rec, source, executor, store = _setup(tmp_path)
    good = source.push(_files(), "deploy")
    assert rec.run(["push"]) is cond.SyncResult.SUCCEEDED
    running = _pods(executor)
    assert len(running) == 5
    empty = source.push(_hosts_only(), "remove every workload")
    assert rec.run(["push"]) is cond.SyncResult.BLOCKED
    assert _pods(executor) == running  # nothing deleted
    last = store.last_finished_sync()
    assert last is not None and last.revision == empty and last.result is cond.SyncResult.BLOCKED
    assert last.errors[0].startswith(f"PruneBlocked: revision {empty[:12]} would delete 5 of 5 "
                                     "managed pods (every managed pod) of 2 objects")  # fmt: skip
    assert store.applied_revision() == good
    document = statusmod.document(store)
    assert document["condition"]["reason"] == "PruneBlocked" and not document["ready"]
    assert "5 of 5 managed pods" in document["condition"]["message"]
    assert document["lastFinishedSync"]["result"] == "Blocked"

    host, key = next((h, k) for h, pods in executor.pods.items() for k in pods)
    del executor.pods[host][key]  # removed by hand while held: the good revision is repaired
    assert rec.run([]) is cond.SyncResult.BLOCKED
    assert _pods(executor) == running
    blocked = [e for e in store.events(50) if e.reason == cond.Reason.PRUNE_BLOCKED]
    assert len(blocked) == 1 and blocked[0].kind is cond.EventKind.WARNING  # once, not per sync

    allowed = source.push({**_hosts_only(), pruneguard.OVERRIDE_FILE: ""}, "allow the prune")
    assert rec.run(["push"]) is cond.SyncResult.SUCCEEDED
    assert _pods(executor) == set() and store.applied_revision() == allowed
    assert statusmod.document(store)["ready"]


def test_the_config_lifts_the_guard(tmp_path: Path) -> None:
    rec, source, executor, _ = _setup(tmp_path)
    source.push(_files(), "deploy")
    rec.run(["push"])
    rec.prune_guard = pruneguard.Policy(allowed=True)
    source.push(_hosts_only(), "remove every workload")
    assert rec.run(["push"]) is cond.SyncResult.SUCCEEDED
    assert _pods(executor) == set()


def test_removing_one_deployment_is_not_held(tmp_path: Path) -> None:
    rec, source, executor, _ = _setup(tmp_path)
    files = _files()
    source.push(files, "deploy")
    rec.run(["push"])
    source.push({k: v for k, v in files.items() if k != "shop/web.yaml"}, "drop web (3 of 5)")
    assert rec.run(["push"]) is cond.SyncResult.SUCCEEDED
    assert {name for _, _, name in _pods(executor)} == {"backend-0", "backend-1"} or all(
        name.startswith("backend-") for _, _, name in _pods(executor)
    )
    assert len(_pods(executor)) == 2


def test_a_held_revision_with_nothing_applied_before_changes_nothing(tmp_path: Path) -> None:
    rec, source, executor, store = _setup(tmp_path)
    source.push(_files(), "deploy")
    rec.run(["push"])
    running = _pods(executor)
    fresh = reconcile.Reconciler(source, executor,
                                 storemod.Store(storemod.path_in(tmp_path / "fresh")),
                                 metrics.ReconcilerMetrics(metrics.Registry()))  # fmt: skip
    source.push(_hosts_only(), "a new daemon, another repository")
    assert fresh.run(["startup"]) is cond.SyncResult.BLOCKED
    assert _pods(executor) == running
    assert store.applied_revision() is not None


def test_the_config_keys_and_their_checks(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("repository: /srv/repo\n")
    cfg = configmod.load(path)
    assert (cfg.prune_guard_percent, cfg.allow_mass_prune) == (50.0, False)
    path.write_text("repository: /srv/repo\nprune_guard_percent: 30\nallow_mass_prune: true\n")
    cfg = configmod.load(path)
    assert (cfg.prune_guard_percent, cfg.allow_mass_prune) == (30.0, True)
    for bad in ("prune_guard_percent: 120", "prune_guard_percent: lots",
                "allow_mass_prune: sometimes"):  # fmt: skip
        path.write_text(f"repository: /srv/repo\n{bad}\n")
        try:
            configmod.load(path)
        except configmod.ConfigError as exc:
            assert bad.split(":")[0] in str(exc)
        else:
            raise AssertionError(f"{bad} was accepted")
