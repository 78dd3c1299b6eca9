"""`Store.set_conditions` writes only the rows that changed: a resync whose conditions are what
they were writes none (the daemon records ~2,000 conditions a pass at 50 hosts x 500 pods); what
is read back is the same as when every row was replaced."""

from __future__ import annotations

from reconciler.state import conditions as cond
from reconciler.state import store as storemod

READY, NOT_READY = cond.ConditionStatus.TRUE, cond.ConditionStatus.FALSE


def _pod(name: str, status: cond.ConditionStatus, message: str = "") -> cond.Condition:
    return cond.Condition("Pod", "default", name, "Ready", status, "Synced", message)


def _changes(store: storemod.Store) -> int:
    return store._db.total_changes  # rows inserted, updated or deleted on this connection


def test_unchanged_conditions_write_no_row(store: storemod.Store) -> None:
    pods = [_pod(f"web-{i}", READY) for i in range(50)]
    store.set_conditions(pods)
    before, first = _changes(store), store.conditions()
    store.set_conditions(list(reversed(pods)))  # the same set, in another order
    assert _changes(store) == before
    assert store.conditions() == first


def test_only_changed_rows_are_written_and_gone_ones_deleted(store: storemod.Store) -> None:
    store.set_conditions([_pod("a", READY), _pod("b", READY), _pod("c", READY)])
    since = {c.name: c.since for c in store.conditions()}
    before = _changes(store)
    store.set_conditions([_pod("a", READY), _pod("b", READY, "moved"), _pod("d", NOT_READY)])
    assert _changes(store) - before == 3  # b updated, c deleted, d inserted
    got = {c.name: c for c in store.conditions()}
    assert sorted(got) == ["a", "b", "d"]
    assert got["a"].since == since["a"] and got["b"].since == since["b"]  # same status: kept
    assert got["b"].message == "moved" and got["d"].status is NOT_READY
