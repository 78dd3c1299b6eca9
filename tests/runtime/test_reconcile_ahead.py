"""A sync observes the hosts of the revision last applied while it resolves and loads the newest
(`controllers.ahead`): taken when the revision declares the same hosts, observed again when it
does not, waited for when unused (a refused revision, an unreadable source); a failed early
observation is observed again, never the end of a sync."""

from __future__ import annotations

import concurrent.futures
import threading
from pathlib import Path

import pytest

from reconciler.controllers import ahead
from reconciler.executor import fake as fake_executor
from reconciler.model import hoststate
from reconciler.runtime import reconcile
from reconciler.source import errors as source_errors
from reconciler.source import fake as fake_source
from reconciler.state import conditions as cond
from reconciler.state import store as storemod
from reconciler.web import metrics

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "repo"


class CountingExecutor(fake_executor.FakeExecutor):
    """Which thread observed which hosts, in order."""

    def __init__(self, hosts: list[str]) -> None:
        super().__init__(hosts)
        self.observers: list[tuple[str, tuple[str, ...]]] = []

    def observe(
        self, targets: object, *, detail: bool = False
    ) -> dict[str, hoststate.HostObservation]:
        wanted = list(targets)  # type: ignore[call-overload]
        self.observers.append((threading.current_thread().name,
                               tuple(t.name for t in wanted)))  # fmt: skip
        return super().observe(wanted, detail=detail)


def _files() -> dict[str, str]:
    return {str(p.relative_to(EXAMPLE)): p.read_text() for p in EXAMPLE.rglob("*.yaml")}


def _setup(tmp_path: Path) -> tuple[fake_source.FakeSource, CountingExecutor,
                                     reconcile.Reconciler, storemod.Store]:  # fmt: skip
    source = fake_source.FakeSource(tmp_path / "src")
    executor = CountingExecutor(["h1", "h2", "h3", "h4"])
    store = storemod.Store(storemod.path_in(tmp_path / "state"))
    rec = reconcile.Reconciler(source, executor, store,
                               metrics.ReconcilerMetrics(metrics.Registry()))  # fmt: skip
    rec.observe_ahead = True  # off by default (see bench/README.md)
    return source, executor, rec, store


def _threads(executor: CountingExecutor) -> set[str]:
    return {name.split("_")[0] for name, _ in executor.observers}


def test_a_new_revision_is_observed_while_it_loads(tmp_path: Path) -> None:
    source, executor, rec, store = _setup(tmp_path)
    files = _files()
    source.push(files, "deploy")
    assert rec.run(["push"]) is cond.SyncResult.SUCCEEDED  # no hosts known yet: in the pass
    assert "observe-ahead" not in _threads(executor)
    executor.observers.clear()
    assert rec.run(["resync"]) is cond.SyncResult.SUCCEEDED  # a resync too
    whole = [(name, hosts) for name, hosts in executor.observers if len(hosts) == 3]
    assert [name for name, _ in whole] == ["observe-ahead"]
    changed = dict(files)
    changed["shop/web-config.yaml"] = files["shop/web-config.yaml"].replace("info", "debug")
    source.push(changed, "change")
    executor.observers.clear()
    assert rec.run(["push"]) is cond.SyncResult.SUCCEEDED
    # the one observation of the pass (the prober may read single hosts on its own)
    whole = [(name, hosts) for name, hosts in executor.observers if len(hosts) == 3]
    assert [name for name, _ in whole] == ["observe-ahead"]
    last = store.last_finished_sync()
    assert last is not None and last.counts.get("replace", 0) > 0  # the change was applied
    store.close()


def test_other_hosts_are_observed_again(tmp_path: Path) -> None:
    source, executor, rec, store = _setup(tmp_path)
    files = _files()
    source.push(files, "deploy")
    assert rec.run(["push"]) is cond.SyncResult.SUCCEEDED
    more = dict(files)
    more["hosts/h4.yaml"] = files["hosts/h1.yaml"].replace("h1", "h4").replace(".11", ".14")
    source.push(more, "a fourth host")
    executor.observers.clear()
    assert rec.run(["push"]) is cond.SyncResult.SUCCEEDED
    observed = [(name.split("_")[0], hosts) for name, hosts in executor.observers]
    assert ("observe-ahead", ("h1", "h2", "h3")) in observed  # read, then not taken
    assert any(len(hosts) == 4 or hosts == ("h4",) for _, hosts in observed)
    assert not any(n == "observe-ahead" and "h4" in h for n, h in observed)
    store.close()


def test_a_refused_revision_waits_for_its_early_observation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, _executor, rec, store = _setup(tmp_path)
    files = _files()
    source.push(files, "deploy")
    assert rec.run(["push"]) is cond.SyncResult.SUCCEEDED
    started: list[ahead.Ahead] = []
    real = ahead.start

    def kept(*args: object) -> ahead.Ahead:
        one = real(*args)  # type: ignore[arg-type]
        started.append(one)
        return one

    monkeypatch.setattr(ahead, "start", kept)
    broken = dict(files)
    broken["shop/web.yaml"] = files["shop/web.yaml"].replace("replicas: 3", "replicas: three")
    source.push(broken, "break")
    assert rec.run(["push"]) is cond.SyncResult.INVALID
    assert len(started) == 1 and started[0].future.done()  # ended before the sync did
    store.close()


def test_an_unreadable_source_waits_for_its_early_observation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, _executor, rec, store = _setup(tmp_path)
    source.push(_files(), "deploy")
    assert rec.run(["push"]) is cond.SyncResult.SUCCEEDED
    started: list[ahead.Ahead] = []
    real = ahead.start

    def kept(*args: object) -> ahead.Ahead:
        started.append(real(*args))  # type: ignore[arg-type]
        return started[-1]

    monkeypatch.setattr(ahead, "start", kept)
    source.fail_next(source_errors.FetchFailed("the fake source", "refused"))
    assert rec.run(["poll"]) is cond.SyncResult.FAILED
    assert len(started) == 1 and started[0].future.done()
    store.close()


def test_off_by_default(tmp_path: Path) -> None:
    source, executor, rec, store = _setup(tmp_path)
    rec.observe_ahead = False
    source.push(_files(), "deploy")
    for trigger in ("push", "resync"):
        assert rec.run([trigger]) is cond.SyncResult.SUCCEEDED
    assert "observe-ahead" not in _threads(executor)
    store.close()


def test_take_refuses_other_hosts_and_failures() -> None:
    a = hoststate.HostTarget(name="a", address="198.18.0.11", port=22, user="u")
    b = hoststate.HostTarget(name="b", address="198.18.0.12", port=22, user="u")
    ok: concurrent.futures.Future[tuple[ahead.Observations, float]] = concurrent.futures.Future()
    ok.set_result(({"a": hoststate.HostObservation("a", True)}, 0.5))
    early = ahead.Ahead((a,), ok, 0.0)
    assert ahead.take(early, [a]) == ({"a": hoststate.HostObservation("a", True)}, 0.5)
    assert ahead.take(early, [a, b]) is None
    moved = hoststate.HostTarget(name="a", address="198.18.0.21", port=22, user="u")
    assert ahead.take(early, [moved]) is None  # same name, another address
    assert ahead.take(None, [a]) is None
    failed: concurrent.futures.Future[tuple[ahead.Observations, float]] = (
        concurrent.futures.Future())  # fmt: skip
    failed.set_exception(RuntimeError("closed"))
    assert ahead.take(ahead.Ahead((a,), failed, 0.0), [a]) is None
    ahead.settle(ahead.Ahead((a,), failed, 0.0))  # returns: it ended
