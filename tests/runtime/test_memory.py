"""The daemon's settling after a sync: the first one collects and freezes the start-up objects,
every one drops the schema definitions and gives freed heap pages back (glibc's malloc_trim,
present on these Linux machines)."""

from __future__ import annotations

import gc

import pytest

from reconciler.manifests import schemas
from reconciler.model import base
from reconciler.runtime import memory


def test_the_first_settle_freezes_the_start_up_objects_once() -> None:
    settler = memory.Settler()
    try:
        settler.settle()
        frozen = gc.get_freeze_count()
        assert settler.frozen and frozen > 0
        settler.settle()
        assert gc.get_freeze_count() == frozen  # not again: later garbage stays collectable
    finally:
        gc.unfreeze()


def test_trim_gives_pages_back_on_glibc() -> None:
    assert memory.trim() is True


def test_limit_arenas_applies_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert memory.limit_arenas() is True


def test_limit_arenas_leaves_the_environment_s_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert memory.limit_arenas() is False


def test_limit_arenas_is_false_without_mallopt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr(memory, "_mallopt", lambda: None)
    assert memory.limit_arenas() is False


def test_limit_arenas_is_false_when_mallopt_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr(memory, "_mallopt", lambda: lambda param, value: 0)
    assert memory.limit_arenas() is False


def test_settle_drops_the_schema_definitions_and_a_kind_first_used_later_still_checks() -> None:
    fresh = schemas._load.__wrapped__(schemas.default_directory())  # not the process-wide set
    assert fresh.fast[base.Kind.NAMESPACE] is not None
    assert schemas._definitions.cache_info().currsize == 1
    settler = memory.Settler()
    try:
        settler.settle()
    finally:
        gc.unfreeze()
    assert schemas._definitions.cache_info().currsize == 0
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
               "spec": {"ports": [{"port": "eighty"}]}}  # fmt: skip
    assert list(fresh.iter_errors(base.Kind.SERVICE, service))  # read again, then checked
    assert list(fresh.iter_errors(base.Kind.NAMESPACE, {**service, "kind": "Namespace"})) != []
